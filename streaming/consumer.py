"""What the two consumer groups on the payments stream share: the names of the streams and groups,
and how a step takes its messages.

Every payment event is read by two groups, each at its own pace, as two Kafka consumer groups on
one topic would be: the scorers (streaming/scoring_consumer.py) answer each payment within
milliseconds on the decision stream; the landers (streaming/landing_consumer.py) write the events
to the landing zone in micro-batches of thousands. Each group acknowledges a message only when its
own effect is durable, so neither waits for the other and each is exactly-once on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from streaming.broker import Broker, Delivery


@dataclass(frozen=True)
class Streams:
    payments: str = "payments"
    decisions: str = "payment_decisions"
    dead_letters: str = "payments_dead_letters"
    scorers: str = "fraud_scorers"
    landers: str = "landers"


@dataclass(frozen=True)
class Taken:
    deliveries: list[Delivery]
    reclaimed: int  # how many of them another consumer (or this one, before a restart) left pending


@dataclass
class Taker:
    """How a consumer takes its messages: those another consumer left unacknowledged for
    `reclaim_idle_ms` (it died) first, else new ones.

    Looking for abandoned messages costs the broker a scan of the group's pending list (Redis'
    XAUTOCLAIM walks it, up to ten entries per message asked for), and a lander's list holds every
    message of its batch. So it looks every `reclaim_idle_ms / 4` only, and again at once while it
    finds some."""

    broker: Broker
    stream: str
    group: str
    consumer: str
    reclaim_idle_ms: int
    _look_at: float = field(default=0.0, init=False)

    def take(self, count: int, block_ms: int) -> Taken:
        """Up to `count` messages, waiting up to `block_ms` for new ones."""
        now = time.monotonic()
        if now >= self._look_at:
            reclaimed = self.broker.reclaim(
                self.stream, self.group, self.consumer, self.reclaim_idle_ms, count
            )
            if reclaimed:
                return Taken(reclaimed, len(reclaimed))
            self._look_at = now + self.reclaim_idle_ms / 4000
        return Taken(self.broker.receive(self.stream, self.group, self.consumer, count, block_ms), 0)
