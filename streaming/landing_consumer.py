"""The landing consumer: the payment events written to the landing zone in micro-batches, each once.

Its group (`Streams.landers`) reads the same messages as the scorers, at its own pace. A step takes
messages (streaming/consumer.py; while it holds some, what has come every `poll_s`, not message by
message) and holds them, unacknowledged, until it holds `max_rows` or the oldest has waited
`max_wait_s`; then it lands them (streaming/landing.py: a file per landing day,
written under a hidden name and renamed) and only then acknowledges them. So a file holds thousands
of payments, not one or two, and the scorers' latency never waits on a file.

Exactly once in the landing zone, whatever is killed when:
- killed while holding, or mid-write: nothing landed (the rename is the commit); the messages stay
  pending and another lander reclaims them once they have been idle `reclaim_idle_ms`. A staging
  file left behind is hidden from the warehouse's glob and removed when a lander of that name starts;
- killed after the rename, before the acknowledgement: the reclaimed messages are delivered again,
  and the files' footers say they landed, so they are acknowledged without a second write.

`reclaim_idle_ms` must be well over `max_wait_s`, or a live lander's held messages would be
reclaimed by another. Just before writing, a lander keeps only the messages still pending for it,
so one that stalled past that (a stopped process) leaves them to whoever reclaimed them.

After each batch it trims the stream of the messages every group has acknowledged
(`Broker.trim_acknowledged`, `trim=False` not to): the landers are the slower group, so the stream
keeps what some group still needs and little else.

An event the landing contract's schema cannot hold is acknowledged without landing: the scorers'
group puts every such event on the dead-letter stream with its reason.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from ml.write_points import reached
from streaming.broker import Broker, Delivery
from streaming.consumer import Streams, Taker
from streaming.events import MalformedEvent, landing_message
from streaming.landing import landed_ids, remove_staged, stream_files, write_micro_batch

# the broker's clock and this machine's may differ: files written up to this long "before" a message
# was published are read too
CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class LandingStep:
    received: int
    reclaimed: int
    refused: int = 0  # the landing schema cannot hold them (dead-lettered by the scorers)
    landed: int = 0
    already_landed: int = 0  # delivered again after a lander died between its rename and its ack
    lost_to_another: int = 0  # reclaimed by another lander while this one held them
    files: int = 0
    trimmed: int = 0  # deleted from the stream: every group had acknowledged them


class LandingConsumer:
    def __init__(
        self,
        broker: Broker,
        landing_dir: Path,
        name: str,
        streams: Streams = Streams(),
        max_rows: int = 50_000,
        max_wait_s: float = 60.0,
        block_ms: int = 1_000,
        reclaim_idle_ms: int = 180_000,
        poll_s: float = 1.0,
        trim: bool = True,
    ) -> None:
        if reclaim_idle_ms <= 2 * max_wait_s * 1000:
            raise ValueError(
                f"reclaim_idle_ms ({reclaim_idle_ms}) must be over twice max_wait_s ({max_wait_s} s): "
                "other landers would reclaim the messages this one holds"
            )
        self.broker, self.landing_dir, self.name, self.streams = broker, landing_dir, name, streams
        self.max_rows, self.max_wait_s = max_rows, max_wait_s
        self.block_ms, self.reclaim_idle_ms, self.poll_s = block_ms, reclaim_idle_ms, poll_s
        self.trim = trim
        self.taker = Taker(broker, streams.payments, streams.landers, name, reclaim_idle_ms)
        self._held: dict[str, Delivery] = {}
        self._held_since: float | None = None
        broker.create_group(streams.payments, streams.landers)
        remove_staged(landing_dir, name)

    @property
    def held(self) -> int:
        return len(self._held)

    async def step(self, flush: bool = False) -> LandingStep:
        """Take what there is (unless `flush` or full); land what is held if it is full, has waited
        long enough, or `flush` (at shutdown)."""
        received = reclaimed = 0
        if not flush and len(self._held) < self.max_rows:
            if self._held_since is not None:
                # holding: take what has come every poll_s (or when due), not message by message
                await asyncio.sleep(self._seconds_left(self.poll_s))
            block_ms = self.block_ms if self._held_since is None else 0
            taken = await asyncio.to_thread(self.taker.take, self.max_rows - len(self._held), block_ms)
            for delivery in taken.deliveries:
                self._held[delivery.id] = delivery  # one it held and reclaimed again: held once
            if self._held and self._held_since is None:
                self._held_since = time.monotonic()
            received, reclaimed = len(taken.deliveries) - taken.reclaimed, taken.reclaimed
        due = self._held_since is not None and time.monotonic() >= self._held_since + self.max_wait_s
        if not self._held or not (flush or due or len(self._held) >= self.max_rows):
            return LandingStep(received, reclaimed)
        return await asyncio.to_thread(self._land, received, reclaimed)

    def _seconds_left(self, at_most: float) -> float:
        """Until the held batch is due, at most `at_most`."""
        assert self._held_since is not None
        return max(0.0, min(at_most, self._held_since + self.max_wait_s - time.monotonic()))

    def _land(self, received: int, reclaimed: int) -> LandingStep:
        s, taken = self.streams, list(self._held.values())
        self._held, self._held_since = {}, None
        mine = self.broker.owned(s.payments, s.landers, self.name, [delivery.id for delivery in taken])
        held = [delivery for delivery in taken if delivery.id in mine]
        messages, refused = [], 0
        for delivery in held:
            try:
                messages.append(landing_message(delivery.id, delivery.body))
            except MalformedEvent:
                refused += 1
        done = self._already_landed(held)
        new = [message for message in messages if message.message_id not in done]
        files = write_micro_batch(self.landing_dir, self.name, new) if new else []
        reached("lander:written")
        self.broker.acknowledge(s.payments, s.landers, [delivery.id for delivery in held])
        trimmed = self.broker.trim_acknowledged(s.payments) if self.trim else 0
        return LandingStep(
            received=received,
            reclaimed=reclaimed,
            refused=refused,
            landed=len(new),
            already_landed=len(messages) - len(new),
            lost_to_another=len(taken) - len(held),
            files=len(files),
            trimmed=trimmed,
        )

    def _already_landed(self, deliveries: list[Delivery]) -> set[str]:
        """A message delivered for the first time cannot have landed; one delivered before may
        have, in a file written after it was published."""
        again = [delivery for delivery in deliveries if delivery.deliveries > 1]
        if not again:
            return set()
        since = min(delivery.published_at for delivery in again) - CLOCK_SKEW_S
        return landed_ids(stream_files(self.landing_dir, since), {delivery.id for delivery in again})
