"""The consumer process' loop: a failing step (the broker gone, a disk full) is retried after a
growing pause and counted, and the loop goes on; a stop ends it, even during a pause."""

from __future__ import annotations

import asyncio
import time

import pytest

from streaming import service
from streaming.landing_consumer import LandingStep
from streaming.metrics import StreamMetrics

pytestmark = pytest.mark.streaming


class Broker:
    def lag(self, stream: str, group: str) -> int:
        return 0

    def pending(self, stream: str, group: str) -> int:
        return 0


def test_a_failing_step_is_retried_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FIRST_BACKOFF_S", 0.01)
    metrics = StreamMetrics(Broker(), "payments", "landers")  # type: ignore[arg-type]
    outcomes = [ConnectionError("gone"), ConnectionError("gone"), LandingStep(5, 0, landed=5)]

    async def run() -> dict[str, int]:
        stop = asyncio.Event()

        async def step() -> LandingStep:
            outcome = outcomes.pop(0) if outcomes else LandingStep(0, 0)
            if not outcomes:
                stop.set()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        return dict(await service.loop(step, stop, metrics))

    totals = asyncio.run(run())
    assert totals["step_failures"] == 2 and totals["landed"] == 5
    assert (
        metrics.registry.get_sample_value(
            "stream_messages_total", {"group": "landers", "outcome": "step_failures"}
        )
        == 2
    )


def test_a_stop_ends_the_pause_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "FIRST_BACKOFF_S", 60.0)
    metrics = StreamMetrics(Broker(), "payments", "scorers")  # type: ignore[arg-type]

    async def run() -> float:
        stop = asyncio.Event()

        async def step() -> LandingStep:
            asyncio.get_running_loop().call_later(0.1, stop.set)
            raise OSError("disk full")

        started = time.monotonic()
        await service.loop(step, stop, metrics)
        return time.monotonic() - started

    assert asyncio.run(run()) < 5
