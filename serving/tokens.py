"""`python -m serving.tokens new --name fraud-desk [--scope score] [--file tokens.yml]`: makes a
bearer token for the scoring API, prints it once, and adds only its SHA-256 to the token file
(SERVE_TOKENS_FILE; the running server picks it up within a second). `revoke --name N` removes it."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

import yaml

from ml.atomic_files import replaced
from serving.auth import SCOPES, TOKEN_PREFIX, token_hash

HEADER = "# Scoring API tokens: SHA-256 hashes only (serving/auth.py). `python -m serving.tokens` edits it.\n"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) if path.exists() else {"tokens": []}


def _save(path: Path, data: dict) -> None:
    """Written beside and renamed over, so the server never reads half a file; readable by its
    owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced(path) as staging:
        staging.write_text(HEADER + yaml.safe_dump(data, sort_keys=False))
        os.chmod(staging, 0o600)


def add_token(path: Path, name: str, scopes: list[str], rate_per_second: float | None = None) -> str:
    """A new token named `name` (replacing a token of that name) with its hash in the file; the token."""
    tokens = [entry for entry in _load(path).get("tokens", []) if entry.get("name") != name]
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    entry = {"name": name, "sha256": token_hash(token), "scopes": scopes}
    if rate_per_second:
        entry["rate_per_second"] = rate_per_second
    _save(path, {"tokens": [*tokens, entry]})
    return token


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.tokens", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("new", "revoke"))
    parser.add_argument("--name", required=True, help="who holds the token (for people; never logged)")
    parser.add_argument("--scope", action="append", choices=SCOPES, help="repeatable; default: score")
    parser.add_argument("--rate-per-second", type=float, help="this token's own rate limit")
    parser.add_argument(
        "--file", type=Path, default=Path(os.environ.get("SERVE_TOKENS_FILE", "data/serving_tokens.yml"))
    )
    args = parser.parse_args(argv)
    data = _load(args.file)
    tokens = [entry for entry in data.get("tokens", []) if entry.get("name") != args.name]
    if args.command == "revoke":
        if len(tokens) == len(data.get("tokens", [])):
            parser.exit(1, f"no token named {args.name!r} in {args.file}\n")
        _save(args.file, {"tokens": tokens})
        print(f"revoked {args.name} in {args.file}")
        return
    token = add_token(args.file, args.name, args.scope or ["score"], args.rate_per_second)
    print(f"token for {args.name} (shown once; {args.file} keeps its hash only):\n{token}")


if __name__ == "__main__":
    main()
