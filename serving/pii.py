"""Identifiers that point at a person (customer, card, device) never reach the audit log raw: they
are replaced by HMAC-SHA-256 under a secret salt (SERVE_PII_SALT), so the same card gives the same
hash (velocity can still be monitored) and nobody without the salt can test a guessed value."""

from __future__ import annotations

import hashlib
import hmac


class PiiHasher:
    def __init__(self, salt: str) -> None:
        self._key = salt.encode()

    def __call__(self, value: str | None) -> str | None:
        if value is None:
            return None
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
