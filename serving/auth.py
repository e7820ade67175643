"""Bearer-token authentication and per-token rate limiting for the scoring API.

Tokens are never stored: the token file (SERVE_TOKENS_FILE, or the same YAML in SERVE_TOKENS)
holds the SHA-256 of each token, its scopes and, optionally, its own rate limit:

    tokens:
      - name: fraud-desk            # who holds it: for people, never logged
        sha256: 9f86d081884c7d65...  # `python -m serving.tokens new` prints a token and this line
        scopes: [score]              # score: the scoring routes; metrics: /metrics when restricted
        rate_per_second: 200         # optional (default SERVE_RATE_PER_SECOND)
        burst: 400                   # optional (default SERVE_RATE_BURST)

A token is a random 256-bit secret, so a plain SHA-256 is the right hash (a password hash's
deliberate slowness protects guessable secrets, and would cost every request). A request's token is
known by its hashed id, the first 12 hex digits of that hash: that is what the metrics and the audit
log show. The file is read again when it changes (checked at most once a second), so a token is
added, rotated or revoked without a restart; a file that no longer parses keeps the tokens in force
and says why in the log.

No tokens configured: authentication is off, which `python -m serving` allows only on loopback.
/healthz, /readyz and the OpenAPI schema stay open; /metrics needs the `metrics` scope when
SERVE_METRICS_REQUIRE_TOKEN is set."""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import yaml
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.problems import send_error

log = logging.getLogger(__name__)

SCOPES = ("score", "metrics")
TOKEN_PREFIX = "rw_"
HASH_ID_DIGITS = 12
RELOAD_SECONDS = 1.0


class TokenConfigError(ValueError):
    """The token configuration cannot be used: names the place and the reason."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    name: str
    sha256: str
    scopes: frozenset[str]
    rate_per_second: float
    burst: float

    @property
    def hash_id(self) -> str:
        return self.sha256[:HASH_ID_DIGITS]


def parse_tokens(text: str, where: str, rate_per_second: float, burst: float) -> dict[str, Token]:
    """{sha256: Token} from the YAML text; TokenConfigError naming the entry and the field."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise TokenConfigError(f"{where}: not YAML: {exc}") from exc
    entries = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise TokenConfigError(f"{where}: expected a mapping with a list `tokens`")
    tokens: dict[str, Token] = {}
    for number, entry in enumerate(entries, 1):
        at = f"{where}: tokens[{number}]"
        if not isinstance(entry, dict):
            raise TokenConfigError(f"{at}: expected a mapping")
        digest = str(entry.get("sha256", "")).lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise TokenConfigError(f"{at}.sha256: expected 64 hex digits (the token's SHA-256)")
        if digest in tokens:
            raise TokenConfigError(f"{at}.sha256: the same token is listed twice")
        scopes = entry.get("scopes")
        if not isinstance(scopes, list) or not scopes or not set(scopes) <= set(SCOPES):
            raise TokenConfigError(f"{at}.scopes: expected a non-empty list of {', '.join(SCOPES)}")
        rate = entry.get("rate_per_second", rate_per_second)
        size = entry.get("burst", max(burst, rate))
        if not isinstance(rate, int | float) or rate <= 0 or not isinstance(size, int | float) or size < 1:
            raise TokenConfigError(f"{at}: rate_per_second must be > 0 and burst >= 1")
        name = str(entry.get("name", digest[:HASH_ID_DIGITS]))
        tokens[digest] = Token(name, digest, frozenset(scopes), float(rate), float(size))
    return tokens


@dataclass
class TokenStore:
    """The tokens in force; `lookup` re-reads a changed file at most once a second."""

    path: Path | None
    inline: str | None
    rate_per_second: float
    burst: float
    _tokens: dict[str, Token] = field(default_factory=dict)
    _seen: tuple[int, int, int] | None = None
    _checked: float = 0.0

    def __post_init__(self) -> None:
        if self.inline is not None:
            self._tokens = parse_tokens(self.inline, "SERVE_TOKENS", self.rate_per_second, self.burst)
        elif self.path is not None:
            self._reload(initial=True)

    @property
    def enabled(self) -> bool:
        return self.path is not None or self.inline is not None

    def lookup(self, token: str) -> Token | None:
        if self.path is not None and time.monotonic() - self._checked >= RELOAD_SECONDS:
            self._reload(initial=False)
        return self._tokens.get(token_hash(token))

    def _reload(self, initial: bool) -> None:
        self._checked = time.monotonic()
        try:
            stat = self.path.stat()
            seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            if seen == self._seen:
                return
            tokens = parse_tokens(self.path.read_text(), str(self.path), self.rate_per_second, self.burst)
        except (OSError, TokenConfigError) as exc:
            if initial:
                raise TokenConfigError(str(exc)) from exc
            log.error("token file not reloaded, the tokens in force stay: %s", exc)
            return
        if not initial:
            log.info("token file %s reloaded: %d tokens", self.path, len(tokens))
        self._tokens, self._seen = tokens, seen


def token_store(path: Path | None, inline: str | None, rate_per_second: float, burst: float) -> TokenStore:
    if path is not None and inline is not None:
        raise TokenConfigError("set SERVE_TOKENS_FILE or SERVE_TOKENS, not both")
    return TokenStore(path, inline, rate_per_second, burst)


@dataclass
class _Bucket:
    level: float
    at: float


class RateLimiter:
    """A token bucket per API token: `rate_per_second` requests a second, bursts up to `burst`."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def wait_seconds(self, token: Token, now: float | None = None) -> float:
        """0 when the request may go (and it is counted), else the seconds until it may."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(token.sha256, _Bucket(token.burst, now))
        bucket.level = min(token.burst, bucket.level + (now - bucket.at) * token.rate_per_second)
        bucket.at = now
        if bucket.level >= 1:
            bucket.level -= 1
            return 0.0
        return (1 - bucket.level) / token.rate_per_second


class TokenMetrics(Protocol):
    def token_decision(self, hash_id: str, decision: str, rate_per_second: float | None = None) -> None: ...


class AuthGuard:
    """Checks the bearer token of requests to `scoped` paths ({path: scope}) before anything reads
    their body: 401 without a known token, 403 without the path's scope, 429 over the token's rate.
    Records the token's hashed id for the request log, and counts every decision in `metrics`."""

    def __init__(
        self, app: ASGIApp, store: TokenStore, scoped: dict[str, str], metrics: TokenMetrics
    ) -> None:
        self.app, self.store, self.scoped, self.metrics = app, store, scoped, metrics
        self.limiter = RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        needed = self.scoped.get(scope["path"]) if scope["type"] == "http" else None
        if needed is None or not self.store.enabled:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        kind, _, presented = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        token = self.store.lookup(presented.strip()) if kind.lower() == "bearer" and presented else None
        state = scope.setdefault("state", {})
        if token is None:
            error = ', error="invalid_token"' if presented else ""
            message = "a valid bearer token is required" if not presented else "the bearer token is not valid"
            self.metrics.token_decision("none", "unauthenticated")
            await send_error(
                send, 401, message, [(b"www-authenticate", f'Bearer realm="scoring"{error}'.encode())]
            )
            return
        state["token_id"] = token.hash_id
        if needed not in token.scopes:
            self.metrics.token_decision(token.hash_id, "forbidden")
            challenge = f'Bearer realm="scoring", error="insufficient_scope", scope="{needed}"'
            await send_error(
                send,
                403,
                f"the token lacks the scope {needed!r}",
                [(b"www-authenticate", challenge.encode())],
            )
            return
        wait = self.limiter.wait_seconds(token)
        if wait > 0:
            self.metrics.token_decision(token.hash_id, "rate_limited")
            retry = str(max(1, math.ceil(wait)))
            limit = f"{token.rate_per_second:g} requests/s, bursts of {token.burst:g}"
            await send_error(
                send, 429, f"rate limit of this token exceeded ({limit})", [(b"retry-after", retry.encode())]
            )
            return
        self.metrics.token_decision(token.hash_id, "accepted", token.rate_per_second)
        await self.app(scope, receive, send)
