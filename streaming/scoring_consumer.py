"""The scoring consumer: each payment scored as it comes, its decision published within milliseconds.

One step, repeated:

1. take the messages another consumer left unacknowledged, else up to `batch` new ones
   (streaming/consumer.py);
2. parse each (streaming/events.py). A malformed one goes to the dead-letter stream with its
   reason and the message as received, and is acknowledged with it, in one step; so does one
   delivered more than `max_deliveries` times (a poison message: every scorer that took it died
   or failed, and it would take down every scorer after them);
3. score the others with the served model (`serving.hotswap.ModelHolder`: the champion and the
   online feature state of the published snapshot, the API's own), on the event loop as the API does.
   A payment older than the features' complete windows is not scored, as the API refuses it: its
   decision says why;
4. publish their decisions and acknowledge them, in one step (`Broker.publish_and_acknowledge`).

A consumer killed anywhere leaves its messages pending; the one that reclaims them scores them
again and publishes their decisions once: at-least-once delivery, exactly-once effect. Landing the
payments is the landing consumers' job, in their own group (streaming/landing_consumer.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ml.write_points import reached
from serving.hotswap import ModelHolder
from serving.schemas import PaymentScore
from streaming.broker import Broker, Delivery
from streaming.consumer import Streams, Taker
from streaming.events import MalformedEvent, StreamPayment, parse_event, usd_rates


@dataclass(frozen=True)
class ScoringStep:
    received: int
    reclaimed: int
    dead_lettered: int
    scored: int
    not_scored: int
    published_at: tuple[float, ...]  # of each message answered (decision or dead letter), broker's clock


def decision_body(message_id: str, result: PaymentScore) -> bytes:
    return json.dumps(
        {
            "message_id": message_id,
            "payment_id": result.payment_id,
            "score": result.score,
            "is_flagged": result.is_flagged,
            "reason_codes": result.reason_codes,
            "model_version": result.model_version,
        }
    ).encode()


def not_scored_body(item: StreamPayment, complete_from: datetime) -> bytes:
    return json.dumps(
        {
            "message_id": item.landing.message_id,
            "payment_id": item.payment.payment_id,
            "score": None,
            "is_flagged": None,
            "not_scored": f"paid at {item.payment.paid_at_utc:%Y-%m-%dT%H:%M:%S}Z, before "
            f"{complete_from:%Y-%m-%dT%H:%M:%S}Z, the oldest time the online features are complete "
            "for: the batch path scores it",
        }
    ).encode()


def dead_letter_body(delivery: Delivery, refused: MalformedEvent) -> bytes:
    return json.dumps(
        {
            "message_id": delivery.id,
            "reason": refused.reason,
            "detail": refused.detail,
            "deliveries": delivery.deliveries,
            "body": delivery.body.decode("utf-8", errors="replace"),
        }
    ).encode()


class ScoringConsumer:
    def __init__(
        self,
        broker: Broker,
        holder: ModelHolder,
        name: str,
        streams: Streams = Streams(),
        rates: Mapping[str, Decimal] | None = None,
        batch: int = 256,
        block_ms: int = 1_000,
        reclaim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
    ) -> None:
        self.broker, self.holder, self.name = broker, holder, name
        self.max_deliveries = max_deliveries
        self.taker = Taker(broker, streams.payments, streams.scorers, name, reclaim_idle_ms)
        self.streams, self.rates = streams, usd_rates() if rates is None else rates
        self.batch, self.block_ms, self.reclaim_idle_ms = batch, block_ms, reclaim_idle_ms
        broker.create_group(streams.payments, streams.scorers)

    async def step(self) -> ScoringStep:
        s, broker = self.streams, self.broker
        taken = await asyncio.to_thread(self.taker.take, self.batch, self.block_ms)
        parsed: list[StreamPayment] = []
        dead: list[tuple[Delivery, MalformedEvent]] = []
        for delivery in taken.deliveries:
            if delivery.deliveries > self.max_deliveries:
                detail = f"delivered {delivery.deliveries} times: every scorer that took it failed or died"
                dead.append((delivery, MalformedEvent("redelivered_too_often", detail)))
                continue
            try:
                parsed.append(parse_event(delivery.id, delivery.body, self.rates))
            except MalformedEvent as refused:
                dead.append((delivery, refused))
        if dead:
            await asyncio.to_thread(
                broker.publish_and_acknowledge,
                s.dead_letters,
                [dead_letter_body(delivery, refused) for delivery, refused in dead],
                s.payments,
                s.scorers,
                self.name,
                [delivery.id for delivery, _ in dead],
            )
        scored = 0
        if parsed:
            bodies, scored = self._decide(parsed)
            reached("scorer:decided")
            await asyncio.to_thread(
                broker.publish_and_acknowledge,
                s.decisions,
                bodies,
                s.payments,
                s.scorers,
                self.name,
                [item.landing.message_id for item in parsed],
            )
        return ScoringStep(
            received=len(taken.deliveries) - taken.reclaimed,
            reclaimed=taken.reclaimed,
            dead_lettered=len(dead),
            scored=scored,
            not_scored=len(parsed) - scored,
            published_at=tuple(delivery.published_at for delivery in taken.deliveries),
        )

    def _decide(self, parsed: list[StreamPayment]) -> tuple[list[bytes], int]:
        """Each payment's decision, in order, and how many were scored. A payment older than the
        online features' complete windows is not scored (its velocity features would count part of
        a window; the API refuses it): its decision says so, and the batch path scores it."""
        model = self.holder.current
        complete_from = model.complete_from if model is not None else None
        fresh = [
            item for item in parsed if complete_from is None or item.payment.paid_at_utc >= complete_from
        ]
        _, results = self.holder.score([item.payment for item in fresh]) if fresh else (None, [])
        scored = {item.landing.message_id: result for item, result in zip(fresh, results, strict=True)}
        bodies = [
            decision_body(item.landing.message_id, scored[item.landing.message_id])
            if item.landing.message_id in scored
            else not_scored_body(item, complete_from)  # type: ignore[arg-type]  # only when set
            for item in parsed
        ]
        return bodies, len(fresh)
