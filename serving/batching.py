"""Scoring the payments of concurrent requests in one call.

A scoring call costs about a millisecond whatever its rows (building polars frames, encoding,
LightGBM's call overhead) and a few microseconds per row. Under load, the requests whose bodies
arrive in the same turn of the event loop are scored together: the first one schedules a drain
with `call_soon`, the others join it, and the drain scores all their payments in one call, in
arrival order (payments of the same call see each other in the feature windows, exactly as if they
had been scored one after another), then hands each request its own results. A lone request waits
for nothing: its drain runs on the next turn of the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from serving.hotswap import ModelHolder, ServingModel
from serving.schemas import Payment, PaymentScore

Scored = tuple[ServingModel, list[PaymentScore]]


class ScoringQueue:
    def __init__(self, holder: ModelHolder, on_batch: Callable[[int], None] = lambda _: None) -> None:
        self.holder, self.on_batch = holder, on_batch
        self._waiting: list[tuple[Sequence[Payment], asyncio.Future[Scored]]] = []

    async def score(self, payments: Sequence[Payment]) -> Scored:
        """The model that scored the payments and their results (raises NotReadyError like the holder)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Scored] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._drain)
        self._waiting.append((payments, future))
        return await future

    def _drain(self) -> None:
        waiting, self._waiting = self._waiting, []
        payments = [payment for request, _ in waiting for payment in request]
        self.on_batch(len(payments))
        try:
            model, results = self.holder.score(payments)
        except Exception as exc:
            for _, future in waiting:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for request, future in waiting:
            if not future.done():  # a cancelled request (client gone) was scored all the same
                future.set_result((model, results[start : start + len(request)]))
            start += len(request)
