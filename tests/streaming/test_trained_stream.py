"""The stream on a really trained warehouse (the `trained_warehouse` world, published as
`make run` publishes it): the scoring consumer and the API, fed the same payments, give the same
decisions and end in the same feature state; the scorer process killed between scoring and
publishing publishes each decision once after a restart; and `make stream-demo`'s program runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from orchestration.defs.publish.publishing import publish
from serving.app import create_app
from serving.hotswap import ModelHolder
from serving.scorer import load_scorer, to_event
from serving.settings import ServingSettings
from streaming.broker import read_all
from streaming.consumer import Streams
from streaming.events import MalformedEvent, parse_event, usd_rates
from streaming.producer import live_events, newest_day
from streaming.redis_broker import RedisBroker
from streaming.scoring_consumer import ScoringConsumer
from tests.reliability.faults import crash_at
from tests.serving.fakes import wait_ready
from tests.trained import TrainedWarehouse

pytestmark = [pytest.mark.streaming, pytest.mark.slow]

SCORE_PATH = "/v1/models/payment_fraud/score"
SAMPLE = 300
KILLED = -signal.SIGKILL
READY_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def published(trained_warehouse: TrainedWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("stream-snapshot") / "analytics.duckdb"
    publish(trained_warehouse.env.database, target)
    return target


@pytest.fixture(scope="module")
def serving_settings(published: Path, trained_warehouse: TrainedWarehouse) -> ServingSettings:
    return ServingSettings(
        snapshot=published,
        models_dir=trained_warehouse.env.models_dir,
        log_dir=published.parent / "serving_log",
        poll_seconds=3600,
    )


@pytest.fixture(scope="module")
def environ(published: Path, trained_warehouse: TrainedWarehouse) -> dict[str, str]:
    """For the service and demo processes: the published snapshot and its models, as after `make run`."""
    return {**trained_warehouse.env.environ(), "ANALYTICS_DB": str(published)}


def next_day_events(landing: Path, count: int) -> list[bytes]:
    """The newest landing day's payments, as new ones a day later (ids and times the snapshot has
    never seen), that the consumer can score."""
    day = newest_day(landing)
    rates, bodies = usd_rates(), []
    for body in live_events(landing, day, days_ahead=1):
        with contextlib.suppress(MalformedEvent):
            parse_event("0-0", body, rates)
            bodies.append(body)
        if len(bodies) == count:
            break
    return bodies


@pytest.fixture
def streams(broker: RedisBroker) -> Iterator[Streams]:
    streams = Streams()  # the service's own names: each worker has its own Redis, its tests one by one
    for stream in (streams.payments, streams.decisions, streams.dead_letters):
        broker.delete(stream)
    yield streams


def test_the_stream_and_the_api_give_the_same_decisions_and_state(
    serving_settings: ServingSettings,
    trained_warehouse: TrainedWarehouse,
    broker: RedisBroker,
    streams: Streams,
) -> None:
    bodies = next_day_events(trained_warehouse.env.landing_dir, SAMPLE)
    payments = [parse_event("0-0", body, usd_rates()).payment for body in bodies]

    app = create_app(serving_settings)
    with TestClient(app) as client:
        wait_ready(client, timeout=READY_TIMEOUT_S)
        api = {}
        for payment in payments:
            response = client.post(SCORE_PATH, json=payment.model_dump(mode="json"))
            assert response.status_code == 200, response.text
            (result,) = response.json()["results"]
            api[result["payment_id"]] = result
        api_store = app.state.holder.current.store

        holder = ModelHolder(serving_settings.journal_max_payments)
        holder.current = load_scorer(serving_settings)
        scorer = ScoringConsumer(holder=holder, broker=broker, name="parity", streams=streams, block_ms=0)
        for body in bodies:
            broker.publish(streams.payments, body)
        while broker.lag(streams.payments, streams.scorers):
            asyncio.run(scorer.step())
        stream = {d["payment_id"]: d for d in (json.loads(b) for _, b in read_all(broker, streams.decisions))}

        assert list(stream) == [payment.payment_id for payment in payments]
        for payment_id, decision in stream.items():
            expected = api[payment_id]
            assert decision["score"] is not None, decision
            got = (
                decision["score"],
                decision["is_flagged"],
                decision["reason_codes"],
                decision["model_version"],
            )
            want = (
                expected["score"],
                expected["is_flagged"],
                expected["reason_codes"],
                expected["model_version"],
            )
            assert got == want, payment_id
        assert sum(d["is_flagged"] for d in stream.values()) > 0

        # the state after the same payments: a later payment on each card gets the same features
        probes = [
            replace(
                to_event(payment),
                payment_id=f"probe_{n}",
                paid_at=to_event(payment).paid_at + timedelta(minutes=1),
            )
            for n, payment in enumerate(payments[-50:])
        ]
        assert holder.current.store.features(probes).equals(api_store.features(probes))


def start_scorer(url: str, environ: dict[str, str]) -> subprocess.Popen:
    argv = [sys.executable, "-m", "streaming.service", "scorer", "--url", url]
    return subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_scorer_killed_between_scoring_and_publishing_publishes_each_decision_once(
    url: str,
    broker: RedisBroker,
    streams: Streams,
    environ: dict[str, str],
    trained_warehouse: TrainedWarehouse,
) -> None:
    bodies = next_day_events(trained_warehouse.env.landing_dir, 40)
    for body in bodies:
        broker.publish(streams.payments, body)
    killed = start_scorer(url, crash_at("scorer:decided", environ))
    output, _ = killed.communicate(timeout=READY_TIMEOUT_S)
    assert killed.returncode == KILLED, output
    assert broker.length(streams.decisions) == 0 and broker.pending(streams.payments, streams.scorers) > 0

    again = start_scorer(url, {**environ})
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while broker.pending(streams.payments, streams.scorers) or broker.lag(
            streams.payments, streams.scorers
        ):
            assert again.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        again.send_signal(signal.SIGTERM)
        output, _ = again.communicate(timeout=60)
    decided = Counter(json.loads(body)["message_id"] for _, body in read_all(broker, streams.decisions))
    assert len(decided) == len(bodies) and set(decided.values()) == {1}, output
    assert "reclaimed" in output and not re.search(r"reclaimed 0\b", output.splitlines()[-1]), output


def test_the_stream_demo_runs_end_to_end(environ: dict[str, str], tmp_path: Path) -> None:
    """`make stream-demo`'s program: every published payment answered and landed once."""
    result = subprocess.run(
        [sys.executable, "-m", "streaming.demo", "--work-dir", str(tmp_path), "--rate", "1000"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    published = int(re.search(r"published ([\d,]+) payments", out)[1].replace(",", ""))
    decisions = int(re.search(r"decisions ([\d,]+)", out)[1].replace(",", ""))
    dead = int(re.search(r"dead letters ([\d,]+)", out)[1].replace(",", ""))
    landed = int(re.search(r"landed ([\d,]+) payments", out)[1].replace(",", ""))
    assert published > 1_000 and decisions + dead == published and landed == published, out
    assert "p99" in out and "stopped:" in out
