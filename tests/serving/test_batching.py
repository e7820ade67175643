"""Concurrent requests are scored in one call, and each gets back exactly its own results."""

from __future__ import annotations

import asyncio

import pytest

from serving.batching import ScoringQueue
from serving.hotswap import ModelHolder, NotReadyError
from serving.schemas import Payment
from tests.serving.fakes import FakeModel, payment_json


def payments(*ids: str) -> list[Payment]:
    return [Payment.model_validate(payment_json(payment_id=i, amount_usd=float(len(i)))) for i in ids]


class CountingModel(FakeModel):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def score(self, batch):
        self.calls.append([payment.payment_id for payment in batch])
        return super().score(batch)


def test_requests_arriving_together_share_one_call_in_arrival_order() -> None:
    holder, model, sizes = ModelHolder(), CountingModel(), []
    holder.current = model
    queue = ScoringQueue(holder, on_batch=sizes.append)

    async def scenario():
        requests = [payments("a"), payments("bb", "ccc"), payments("dddd")]
        return await asyncio.gather(*(queue.score(request) for request in requests))

    answers = asyncio.run(scenario())
    assert model.calls == [["a", "bb", "ccc", "dddd"]]
    assert sizes == [4]
    assert [[r.payment_id for r in results] for _, results in answers] == [["a"], ["bb", "ccc"], ["dddd"]]
    assert [[r.score for r in results] for _, results in answers] == [[0.001], [0.002, 0.003], [0.004]]
    assert model.recorded == ["a", "bb", "ccc", "dddd"]


def test_a_lone_request_is_scored_without_waiting_for_company() -> None:
    holder, model = ModelHolder(), CountingModel()
    holder.current = model
    queue = ScoringQueue(holder)

    async def scenario():
        first = await queue.score(payments("a"))
        second = await queue.score(payments("b"))
        return first, second

    asyncio.run(scenario())
    assert model.calls == [["a"], ["b"]]


def test_every_waiting_request_gets_the_error() -> None:
    queue = ScoringQueue(ModelHolder())  # nothing loaded yet

    async def scenario():
        return await asyncio.gather(
            queue.score(payments("a")), queue.score(payments("b")), return_exceptions=True
        )

    assert [type(outcome) for outcome in asyncio.run(scenario())] == [NotReadyError, NotReadyError]


def test_a_cancelled_request_does_not_break_the_others() -> None:
    holder, model = ModelHolder(), CountingModel()
    holder.current = model
    queue = ScoringQueue(holder)

    async def scenario():
        gone = asyncio.ensure_future(queue.score(payments("gone")))
        kept = asyncio.ensure_future(queue.score(payments("kept")))
        await asyncio.sleep(0)
        gone.cancel()
        (_, results) = await kept
        with pytest.raises(asyncio.CancelledError):
            await gone
        return [r.payment_id for r in results]

    assert asyncio.run(scenario()) == ["kept"]
