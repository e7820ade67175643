"""The broker on Redis Streams (Redis 7; Debian's redis-server), through redis-py.

A message is one stream entry with one field, `body`; ids are Redis entry ids ("<ms>-<seq>").
A group is a Redis consumer group; `reclaim` is XAUTOCLAIM, with each claimed entry's delivery count
read from XPENDING; `lag` is the group's `lag` from XINFO GROUPS (Redis 7)."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from streaming.broker import Delivery

FIELD = b"body"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisBroker:
    def __init__(self, url: str) -> None:
        # RESP2 replies (lists), whatever the client's default protocol
        self._redis = redis.Redis.from_url(url, protocol=2)

    def publish(self, stream: str, body: bytes) -> str:
        return _text(self._redis.xadd(stream, {FIELD: body}))

    def create_group(self, stream: str, group: str) -> None:
        try:
            self._redis.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def receive(self, stream: str, group: str, consumer: str, count: int, block_ms: int) -> list[Delivery]:
        # BLOCK 0 would wait forever: without BLOCK the call returns at once
        reply = self._redis.xreadgroup(
            group, consumer, {stream: ">"}, count=count, block=block_ms if block_ms > 0 else None
        )
        if not reply:
            return []
        ((_, entries),) = reply
        return [Delivery(_text(entry_id), fields[FIELD], 1) for entry_id, fields in entries]

    def reclaim(self, stream: str, group: str, consumer: str, idle_ms: int, count: int) -> list[Delivery]:
        reply = self._redis.xautoclaim(stream, group, consumer, idle_ms, start_id="0-0", count=count)
        entries = reply[1]
        claimed = []
        for entry_id, fields in entries:
            (info,) = self._redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
            claimed.append(Delivery(_text(entry_id), fields[FIELD], int(info["times_delivered"])))
        return claimed

    def acknowledge(self, stream: str, group: str, ids: Sequence[str]) -> None:
        if ids:
            self._redis.xack(stream, group, *ids)

    def pending(self, stream: str, group: str) -> int:
        return int(self._redis.xpending(stream, group)["pending"])

    def lag(self, stream: str, group: str) -> int:
        for info in self._redis.xinfo_groups(stream):
            if _text(info["name"]) == group:
                if info.get("lag") is not None:
                    return int(info["lag"])
                # Redis cannot tell after entries were deleted mid-stream: count what follows
                after = "(" + _text(info["last-delivered-id"])
                return len(self._redis.xrange(stream, min=after, max="+"))
        raise KeyError(f"no group {group!r} on stream {stream!r}")

    def close(self) -> None:
        self._redis.close()
