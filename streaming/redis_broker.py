"""The broker on Redis Streams (Redis 7; Debian's redis-server), through redis-py.

A message is one stream entry with one field, `body`; ids are Redis entry ids ("<ms>-<seq>").
A group is a Redis consumer group; `reclaim` is XAUTOCLAIM, with each claimed entry's delivery count
read from XPENDING; `publish_and_acknowledge` is an XACK and XADDs in one Lua script;
`lag` is the group's `lag` from XINFO GROUPS (Redis 7)."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from streaming.broker import Delivery

FIELD = b"body"
ACK_CHUNK = 500  # ids per XACK inside the script (Lua's unpack has a stack limit)

# A script runs as one step, with no other client's command in between, and is written to the
# append-only file as one. MULTI/EXEC would not do: a command failing inside it does not stop the
# others (the acknowledgement would stand without the results). So everything that can fail is
# checked before the first write: the output key is a stream or absent, and every id is still
# pending for this consumer (XPENDING fails on a missing group; an id another consumer reclaimed,
# or acknowledged, fails the step: that consumer's results count, not these). After the checks,
# XACK and XADD cannot fail short of memory, which Redis checks before a writing script starts.
PUBLISH_AND_ACKNOWLEDGE = f"""
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'stream' and kind ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' holds a ' .. kind .. ', not a stream')
end
local group, consumer, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local first_id = 4 + count
for i = first_id, #ARGV do
  if #redis.call('XPENDING', KEYS[2], group, ARGV[i], ARGV[i], 1, consumer) == 0 then
    return redis.error_reply('NOTPENDING ' .. ARGV[i] .. ' is not pending for ' .. consumer)
  end
end
local done = first_id
while done <= #ARGV do
  local last = math.min(done + {ACK_CHUNK} - 1, #ARGV)
  redis.call('XACK', KEYS[2], group, unpack(ARGV, done, last))
  done = last + 1
end
local published = {{}}
for i = 1, count do
  published[i] = redis.call('XADD', KEYS[1], '*', 'body', ARGV[3 + i])
end
return published
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(entry_id: bytes | str) -> tuple[int, int]:
    ms, seq = _text(entry_id).split("-")
    return int(ms), int(seq)


def entry_time(entry_id: bytes | str) -> float:
    """An entry id is `<milliseconds since the epoch>-<sequence>`, set by the server at XADD."""
    return int(_text(entry_id).split("-", 1)[0]) / 1000


class RedisBroker:
    def __init__(self, url: str) -> None:
        # RESP2 replies (lists), whatever the client's default protocol
        self._redis = redis.Redis.from_url(url, protocol=2)
        self._publish_and_acknowledge = self._redis.register_script(PUBLISH_AND_ACKNOWLEDGE)

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
        return [Delivery(_text(i), fields[FIELD], 1, entry_time(i)) for i, fields in entries]

    def reclaim(self, stream: str, group: str, consumer: str, idle_ms: int, count: int) -> list[Delivery]:
        reply = self._redis.xautoclaim(stream, group, consumer, idle_ms, start_id="0-0", count=count)
        entries = reply[1]
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, _ in entries:
            pipe.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        return [
            Delivery(_text(entry_id), fields[FIELD], int(info["times_delivered"]), entry_time(entry_id))
            for (entry_id, fields), (info,) in zip(entries, pipe.execute(), strict=True)
        ]

    def acknowledge(self, stream: str, group: str, ids: Sequence[str]) -> None:
        # in chunks, pipelined: one XACK of 50,000 ids would hold the server (single-threaded) from
        # every other client, the scorers' millisecond answers among them, for tens of milliseconds
        pipe = self._redis.pipeline(transaction=False)
        for start in range(0, len(ids), ACK_CHUNK):
            pipe.xack(stream, group, *ids[start : start + ACK_CHUNK])
        pipe.execute()

    def owned(self, stream: str, group: str, consumer: str, ids: Sequence[str]) -> set[str]:
        pipe = self._redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xpending_range(stream, group, min=entry_id, max=entry_id, count=1, consumername=consumer)
        return {entry_id for entry_id, found in zip(ids, pipe.execute(), strict=True) if found}

    def publish_and_acknowledge(
        self,
        out_stream: str,
        bodies: Sequence[bytes],
        stream: str,
        group: str,
        consumer: str,
        ids: Sequence[str],
    ) -> list[str]:
        reply = self._publish_and_acknowledge(
            keys=[out_stream, stream], args=[group, consumer, len(bodies), *bodies, *ids]
        )
        return [_text(entry_id) for entry_id in reply]

    def read(self, stream: str, after: str = "0", count: int = 10_000) -> list[tuple[str, bytes]]:
        entries = self._redis.xrange(stream, min=f"({after}", max="+", count=count)
        return [(_text(entry_id), fields[FIELD]) for entry_id, fields in entries]

    def length(self, stream: str) -> int:
        return int(self._redis.xlen(stream))

    def delete(self, stream: str) -> None:
        self._redis.delete(stream)

    def trim_acknowledged(self, stream: str) -> int:
        groups = self._redis.xinfo_groups(stream) if self._redis.exists(stream) else []
        if not groups:
            return 0
        oldest_needed = []
        for info in groups:
            if int(info["pending"]):  # its oldest unacknowledged message
                summary = self._redis.xpending(stream, _text(info["name"]))
                oldest_needed.append(_entry(summary["min"]))
            else:  # the one after the last delivered
                ms, seq = _entry(info["last-delivered-id"])
                oldest_needed.append((ms, seq + 1))
        ms, seq = min(oldest_needed)
        # `~`: whole blocks of entries only, so that the server is never held long
        return int(self._redis.xtrim(stream, minid=f"{ms}-{seq}", approximate=True))

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
