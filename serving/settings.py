"""What the scoring API reads from the environment, once, when the app is created."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ml.settings import DATA_DIR, settings

# Salted hashes of identifiers in the audit log use this salt unless SERVE_PII_SALT is set. It is
# public (it is in the repository), so a deployment must set its own secret salt.
DEFAULT_PII_SALT = "retail-warehouse-serving-dev-salt"


@dataclass(frozen=True)
class ServingSettings:
    snapshot: Path  # the published read-only DuckDB file (ANALYTICS_DB)
    models_dir: Path  # model artifacts (MODELS_DIR)
    log_dir: Path  # the audit log's Parquet files (SERVE_LOG_DIR)
    pii_salt: str = DEFAULT_PII_SALT  # SERVE_PII_SALT
    model_name: str = "payment_fraud"
    poll_seconds: float = 5.0  # how often the snapshot file is checked for a new version (SERVE_POLL_SECONDS)
    max_body_bytes: int = 256 * 1024  # a larger request body gets a 413
    audit_flush_rows: int = 5_000  # the audit log is written every so many rows...
    audit_flush_seconds: float = 5.0  # ...or this often, whichever comes first, and at shutdown
    # bearer tokens (serving/auth.py): a YAML file of token hashes (SERVE_TOKENS_FILE, re-read when
    # it changes) or the same YAML inline (SERVE_TOKENS); neither: no authentication (loopback only)
    tokens_file: Path | None = None
    tokens_inline: str | None = None
    rate_per_second: float = 1000.0  # a token's default rate limit (SERVE_RATE_PER_SECOND)...
    rate_burst: float = 2000.0  # ...and burst (SERVE_RATE_BURST); a token's own entry overrides both
    # the replay journal's bounds (serving/hotswap.py): payments (SERVE_JOURNAL_MAX_PAYMENTS) and
    # age in days before the newest journaled payment (SERVE_JOURNAL_MAX_DAYS)
    journal_max_payments: int = 200_000
    journal_max_days: float = 31.0
    metrics_require_token: bool = False  # /metrics needs the `metrics` scope (SERVE_METRICS_REQUIRE_TOKEN=1)

    @classmethod
    def from_env(cls) -> ServingSettings:
        paths = settings()
        return cls(
            snapshot=paths.analytics_db,
            models_dir=paths.models_dir,
            log_dir=Path(os.environ.get("SERVE_LOG_DIR", DATA_DIR / "serving_log")),
            pii_salt=os.environ.get("SERVE_PII_SALT", DEFAULT_PII_SALT),
            poll_seconds=float(os.environ.get("SERVE_POLL_SECONDS", "5")),
            tokens_file=Path(os.environ["SERVE_TOKENS_FILE"])
            if os.environ.get("SERVE_TOKENS_FILE")
            else None,
            tokens_inline=os.environ.get("SERVE_TOKENS") or None,
            rate_per_second=float(os.environ.get("SERVE_RATE_PER_SECOND", "1000")),
            rate_burst=float(os.environ.get("SERVE_RATE_BURST", "2000")),
            journal_max_payments=int(os.environ.get("SERVE_JOURNAL_MAX_PAYMENTS", "200000")),
            journal_max_days=float(os.environ.get("SERVE_JOURNAL_MAX_DAYS", "31")),
            metrics_require_token=os.environ.get("SERVE_METRICS_REQUIRE_TOKEN", "") in ("1", "true", "yes"),
        )
