"""Backpressure: a scorer that falls behind shows its backlog in the Prometheus metrics it serves,
and catches up without losing or repeating a decision."""

from __future__ import annotations

import asyncio
import json
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.hotswap import ModelHolder
from streaming.broker import read_all
from streaming.consumer import Streams
from streaming.metrics import StreamMetrics
from streaming.redis_broker import RedisBroker
from streaming.scoring_consumer import ScoringConsumer
from tests.serving.fakes import FakeModel
from tests.streaming.events import event

pytestmark = pytest.mark.streaming

BACKLOG = 2_000


def scraped(port: int) -> dict[str, float]:
    """The gauges and counters served on /metrics, by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_backlog_is_exported_and_worked_off_without_loss(broker: RedisBroker) -> None:
    tag = uuid.uuid4().hex[:8]
    streams = Streams(f"payments-{tag}", f"decisions-{tag}", f"dead-{tag}")
    holder = ModelHolder()
    holder.current = FakeModel()
    scorer = ScoringConsumer(broker, holder, "c1", streams, batch=256, block_ms=0)
    metrics = StreamMetrics(broker, streams.payments, streams.scorers)
    port = metrics.serve(0)
    lag = f"stream_lag_messages{[('group', streams.scorers), ('stream', streams.payments)]}"

    ids = [f"pay_{i:05d}" for i in range(BACKLOG)]
    for payment_id in ids:  # published while the scorer is stopped
        broker.publish(streams.payments, event(payment_id=payment_id))
    assert scraped(port)[lag] == BACKLOG

    seen = [scraped(port)[lag]]
    while seen[-1] > 0:
        step = asyncio.run(scorer.step())
        metrics.count({"scored": step.scored})
        metrics.answered(step.published_at)
        seen.append(scraped(port)[lag])
    assert seen == sorted(seen, reverse=True) and len(seen) == 1 + BACKLOG // 256 + 1  # falls step by step

    decisions = [json.loads(body)["payment_id"] for _, body in read_all(broker, streams.decisions)]
    assert decisions == ids  # each once, in order
    final = scraped(port)
    assert final[f"stream_messages_total{[('group', streams.scorers), ('outcome', 'scored')]}"] == BACKLOG
    assert final["stream_decision_latency_seconds_count[]"] == BACKLOG
    assert final[f"stream_pending_messages{[('group', streams.scorers), ('stream', streams.payments)]}"] == 0
