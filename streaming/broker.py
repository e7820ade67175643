"""What the stream consumer and producer need from a message broker, and nothing Redis-specific.

The model is a log with consumer groups, as Redis Streams, Kafka and NATS JetStream all offer: a
message is published to a stream and gets an id; a group's consumers share the stream's messages;
a message delivered to a consumer stays pending for the group until that consumer acknowledges
it, and a message left pending by a consumer that died is reclaimed by another after it has been
idle long enough (at-least-once delivery). Bodies are bytes; what they mean is the caller's business.

What a Kafka implementation would map: `publish` to a produce (the id: partition and offset),
`receive` to a poll of the group's assigned partitions, `acknowledge` to a commit of the offsets
(in order, per partition: Kafka has no per-message acknowledgement, so a consumer commits up to
the lowest unfinished offset), `owned` to the partitions still assigned to the member (a fenced
member owns none), `publish_and_acknowledge` to a transaction that produces the results and
commits the input offsets (`send_offsets_to_transaction`), `reclaim` to nothing (a dead member's
partitions are reassigned and re-read from the committed offset), `read` to a consumer with
assigned partitions and no group, `length` to end minus start offsets, `delete` to deleting the
topic, `trim_acknowledged` to the topic's retention (Kafka deletes by age or size, not by
consumption), `lag` to the end offset minus the committed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    id: str  # the broker's id of the message, unique within its stream
    body: bytes
    deliveries: int  # how many times the group has delivered it (1: the first time)
    published_at: float  # when it was published (POSIX seconds), as the broker recorded it


class Broker(Protocol):
    def publish(self, stream: str, body: bytes) -> str:
        """Append a message; its id."""

    def create_group(self, stream: str, group: str) -> None:
        """The group, reading the stream from its first message; nothing if it exists."""

    def receive(self, stream: str, group: str, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        """Up to `count` messages never delivered to the group, now this consumer's; waits up to
        `block_ms` for the first (0: does not wait)."""

    def reclaim(self, stream: str, group: str, consumer: str, idle_ms: int, count: int) -> list[Delivery]:
        """Up to `count` messages delivered to any consumer of the group and not acknowledged for
        `idle_ms` or more, now this consumer's."""

    def acknowledge(self, stream: str, group: str, ids: Sequence[str]) -> None:
        """The group is done with these messages: they are never delivered again."""

    def owned(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are pending for `consumer` (not acknowledged, not reclaimed by another)."""

    def publish_and_acknowledge(
        self,
        out_stream: str,
        bodies: Sequence[bytes],
        stream: str,
        group: str,
        consumer: str,
        ids: Sequence[str],
    ) -> list[str]:
        """Publish `bodies` and acknowledge `ids` as one atomic step: both happen or neither. A
        consumer killed before it leaves the messages pending and publishes nothing, so their
        results are published once. Fails, doing nothing, if an id is no longer pending for
        `consumer` (another consumer reclaimed it: that one's results count). The published ids."""

    def read(self, stream: str, after: str = "0", count: int = 10_000) -> list[tuple[str, bytes]]:
        """Up to `count` messages after id `after`, oldest first, outside any group (as a monitor,
        a report or a test reads a stream): (id, body) pairs."""

    def length(self, stream: str) -> int:
        """Messages in the stream."""

    def delete(self, stream: str) -> None:
        """The stream, its messages and its groups, gone."""

    def trim_acknowledged(self, stream: str) -> int:
        """Delete the messages every group of the stream has acknowledged (none if it has no group),
        or some of them (a broker may trim in whole blocks); how many it deleted."""

    def pending(self, stream: str, group: str) -> int:
        """Messages delivered to the group's consumers and not acknowledged."""

    def lag(self, stream: str, group: str) -> int:
        """Messages in the stream not yet delivered to the group."""

    def close(self) -> None: ...


def read_all(broker: Broker, stream: str, page: int = 10_000) -> list[tuple[str, bytes]]:
    """Every message in the stream, oldest first, read a page at a time."""
    messages: list[tuple[str, bytes]] = []
    while batch := broker.read(stream, messages[-1][0] if messages else "0", page):
        messages.extend(batch)
    return messages
