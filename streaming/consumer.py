"""What the two consumer groups on the payments stream share: the names of the streams and groups,
and how a step takes its messages.

Every payment event is read by two groups, each at its own pace, as two Kafka consumer groups on
one topic would be: the scorers (streaming/scoring_consumer.py) answer each payment within
milliseconds on the decision stream; the landers (streaming/landing_consumer.py) write the events
to the landing zone in micro-batches of thousands. Each group acknowledges a message only when its
own effect is durable, so neither waits for the other and each is exactly-once on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def take(
    broker: Broker, stream: str, group: str, consumer: str, count: int, block_ms: int, reclaim_idle_ms: int
) -> Taken:
    """Up to `count` messages: those left unacknowledged for `reclaim_idle_ms` (their consumer died)
    first, else new ones, waiting up to `block_ms` for them."""
    reclaimed = broker.reclaim(stream, group, consumer, reclaim_idle_ms, count)
    if reclaimed:
        return Taken(reclaimed, len(reclaimed))
    return Taken(broker.receive(stream, group, consumer, count, block_ms), 0)
