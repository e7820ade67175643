"""The stream consumer: payments in, decisions out, the payments landed in micro-batches.

One step, repeated:

1. take the messages another consumer left unacknowledged for `reclaim_idle_ms` (it died), else
   up to `batch` new ones, waiting up to `block_ms`;
2. parse each (streaming/events.py). A malformed one goes to the dead-letter stream with its
   reason and the message as received, and is acknowledged with it, in one step;
3. score the others with the served model (`serving.hotswap.ModelHolder`: the champion and the
   online feature state of the published snapshot, the API's own), on the event loop as the API does.
   A payment older than the features' complete windows is not scored, as the API refuses it: its
   decision says why, and it lands for the batch path;
4. land them in the landing zone (streaming/landing.py), except those a footer says already landed:
   only a message delivered before can have, so only those are looked up;
5. publish their decisions and acknowledge them, in one step (`Broker.publish_and_acknowledge`).

A consumer killed anywhere leaves its messages pending; the next one to reclaim them lands what had
not landed and publishes their decisions once: at-least-once delivery, exactly-once effect.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from serving.hotswap import ModelHolder
from serving.schemas import PaymentScore
from streaming.broker import Broker, Delivery
from streaming.events import MalformedEvent, StreamPayment, parse_event, usd_rates
from streaming.landing import landed_ids, stream_files, write_micro_batch

# the broker's clock and this machine's may differ: files written up to this long "before" a message
# was published are read too
CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class Streams:
    payments: str = "payments"
    decisions: str = "payment_decisions"
    dead_letters: str = "payments_dead_letters"
    group: str = "fraud_scorers"


@dataclass(frozen=True)
class Step:
    received: int
    reclaimed: int
    dead_lettered: int
    scored: int
    landed: int
    already_landed: int


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


class StreamConsumer:
    def __init__(
        self,
        broker: Broker,
        holder: ModelHolder,
        landing_dir: Path,
        name: str,
        streams: Streams = Streams(),
        rates: Mapping[str, Decimal] | None = None,
        batch: int = 256,
        block_ms: int = 1_000,
        reclaim_idle_ms: int = 30_000,
    ) -> None:
        self.broker, self.holder, self.landing_dir, self.name = broker, holder, landing_dir, name
        self.streams, self.rates = streams, usd_rates() if rates is None else rates
        self.batch, self.block_ms, self.reclaim_idle_ms = batch, block_ms, reclaim_idle_ms
        broker.create_group(streams.payments, streams.group)

    async def step(self) -> Step:
        s, broker = self.streams, self.broker
        deliveries = await asyncio.to_thread(
            broker.reclaim, s.payments, s.group, self.name, self.reclaim_idle_ms, self.batch
        )
        reclaimed = len(deliveries)
        if not deliveries:
            deliveries = await asyncio.to_thread(
                broker.receive, s.payments, s.group, self.name, self.batch, self.block_ms
            )
        parsed: list[StreamPayment] = []
        dead: list[tuple[Delivery, MalformedEvent]] = []
        for delivery in deliveries:
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
                s.group,
                self.name,
                [delivery.id for delivery, _ in dead],
            )
        landed = already = scored = 0
        if parsed:
            bodies, scored = self._decide(parsed)
            done = await asyncio.to_thread(self._already_landed, deliveries)
            new = [item.landing for item in parsed if item.landing.message_id not in done]
            if new:
                await asyncio.to_thread(write_micro_batch, self.landing_dir, self.name, new)
            landed, already = len(new), len(parsed) - len(new)
            await asyncio.to_thread(
                broker.publish_and_acknowledge,
                s.decisions,
                bodies,
                s.payments,
                s.group,
                self.name,
                [item.landing.message_id for item in parsed],
            )
        return Step(len(deliveries) - reclaimed, reclaimed, len(dead), scored, landed, already)

    def _decide(self, parsed: list[StreamPayment]) -> tuple[list[bytes], int]:
        """Each payment's decision, in order, and how many were scored. A payment older than the
        online features' complete windows is not scored (its velocity features would count part of
        a window; the API refuses it): its decision says so, and it lands for the batch path."""
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

    def _already_landed(self, deliveries: list[Delivery]) -> set[str]:
        """A message delivered for the first time cannot have landed; one delivered before may
        have, in a file written after it was published."""
        again = [delivery for delivery in deliveries if delivery.deliveries > 1]
        if not again:
            return set()
        since = min(delivery.published_at for delivery in again) - CLOCK_SKEW_S
        return landed_ids(stream_files(self.landing_dir, since), {delivery.id for delivery in again})
