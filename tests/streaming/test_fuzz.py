"""Fuzzed events: whatever arrives on the stream (bytes that are not JSON, JSON that is not an
event, an event with any field replaced by any JSON value, NaN, huge numbers and lone surrogates
included), the scorer answers it with a decision or dead-letters it with a reason, the lander
lands it or refuses it, a landed row always fits the landing file, and neither consumer stops.
Derandomized, so it is repeatable."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.hotswap import ModelHolder
from streaming.broker import read_all
from streaming.consumer import Streams
from streaming.events import COLUMNS, MalformedEvent, landing_message, parse_event, usd_rates
from streaming.landing import write_micro_batch
from streaming.landing_consumer import LandingConsumer
from streaming.redis_broker import RedisBroker
from streaming.scoring_consumer import ScoringConsumer
from tests.serving.fakes import FakeModel
from tests.streaming.events import event

pytestmark = pytest.mark.streaming

RATES = usd_rates()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5,
)


def replaced(field: str, value: object) -> bytes:
    body = json.loads(event())
    if field == "published_on":
        body["published_on"] = value
    else:
        body["payment"][field] = value
    return json.dumps(body).encode()


bodies = st.one_of(
    st.binary(max_size=120),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.tuples(st.sampled_from([*COLUMNS, "published_on", "extra"]), json_values).map(lambda t: replaced(*t)),
    st.tuples(st.sampled_from(COLUMNS), st.text(max_size=40)).map(lambda t: replaced(*t)),
    st.just(event()),
)
FUZZ = {"deadline": None, "derandomize": True, "database": None, "suppress_health_check": list(HealthCheck)}


@settings(max_examples=400, **FUZZ)
@given(body=bodies)
def test_any_event_is_scored_landed_or_refused_with_a_reason(body: bytes) -> None:
    try:
        parsed = parse_event("1-0", body, RATES)
    except MalformedEvent as refused:
        assert refused.reason, body
        parsed = None
    try:
        landing = landing_message("1-0", body)
    except MalformedEvent as refused:
        assert refused.reason and parsed is None, body
        return
    with tempfile.TemporaryDirectory() as folder:
        (written,) = write_micro_batch(Path(folder), "fuzz", [landing])
        assert written.exists()
    if parsed is not None:
        assert FakeModel().score([parsed.payment])[0].payment_id == parsed.payment.payment_id


# every field (and the event's own keys) set to each of these, and a few bodies that are no event
NASTY = [None, True, 0, -1, 10**30, 1e400, float("nan"), "", " ", "x" * 300, "\ud800", "NaN", "1e10", [], {}]
GARBAGE = [b"", b"{", b"\xff\xfe", b"null", b"[]", b'{"published_on": "2025-03-01"}', event()]


def nasty_events() -> list[bytes]:
    fields = [*COLUMNS, "published_on", "extra"]
    return GARBAGE + [replaced(field, value) for field in fields for value in NASTY]


def test_neither_consumer_stops_on_a_stream_of_nasty_events(url: str, tmp_path: Path) -> None:
    batch = nasty_events()
    tag = uuid.uuid4().hex[:8]
    streams = Streams(f"payments-{tag}", f"decisions-{tag}", f"dead-{tag}")
    broker = RedisBroker(url)
    holder = ModelHolder()
    holder.current = FakeModel()
    scorer = ScoringConsumer(broker, holder, "s1", streams, batch=64, block_ms=0)
    lander = LandingConsumer(broker, tmp_path, "l1", streams, max_rows=64, block_ms=0)
    ids = [broker.publish(streams.payments, body) for body in batch]
    while broker.lag(streams.payments, streams.scorers):
        asyncio.run(scorer.step())
    landed = 0
    while broker.lag(streams.payments, streams.landers) or lander.held:
        landed += asyncio.run(lander.step(flush=not broker.lag(streams.payments, streams.landers))).landed
    answered = Counter(
        json.loads(body)["message_id"]
        for stream in (streams.decisions, streams.dead_letters)
        for _, body in read_all(broker, stream)
    )
    assert answered == Counter(ids)  # each once: a decision or a dead letter
    reasons = Counter(json.loads(body)["reason"] for _, body in read_all(broker, streams.dead_letters))
    assert len(reasons) > 10 and sum(reasons.values()) < len(ids), reasons
    assert 0 < landed < len(ids)
    for group in (streams.scorers, streams.landers):
        assert broker.pending(streams.payments, group) == 0
    broker.close()
