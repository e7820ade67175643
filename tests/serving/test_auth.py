"""Bearer tokens and per-token rate limits (serving/auth.py): 401 without a valid token, 403 without
the route's scope, 429 with Retry-After over the rate; probes stay open; tokens rotate without a
restart; only hashes are stored; and the server refuses a non-loopback address without tokens."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from serving import auth
from serving.auth import RateLimiter, Token, TokenConfigError, parse_tokens, token_hash
from tests.serving.fakes import SCORE_PATH, fake_app, payment_json, wait_ready
from tests.serving.test_audit import read

SCORER, SCRAPER = "rw_scorer-token", "rw_scraper-token"


def tokens_yaml(**rates: float) -> str:
    return yaml.safe_dump(
        {
            "tokens": [
                {"name": "desk", "sha256": token_hash(SCORER), "scopes": ["score"], **rates},
                {"name": "prometheus", "sha256": token_hash(SCRAPER), "scopes": ["metrics"]},
            ]
        }
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def samples(client: TestClient, name: str) -> dict[str, float]:
    """A per-token metric's value by the token's hashed id."""
    return {
        sample.labels["token"]: sample.value
        for family in client.app.state.metrics.registry.collect()
        for sample in family.samples
        if sample.name == name
    }


def decisions(client: TestClient) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["token"], sample.labels["decision"]): sample.value
        for family in client.app.state.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "scoring_api_token_requests_total"
    }


def test_without_a_valid_token_401_without_the_scope_403_with_it_200(tmp_path: Path) -> None:
    with TestClient(fake_app(tmp_path, tokens_inline=tokens_yaml())) as client:
        wait_ready(client)
        missing = client.post(SCORE_PATH, json=payment_json())
        assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
        assert missing.headers["www-authenticate"] == 'Bearer realm="scoring"'
        wrong = client.post(SCORE_PATH, json=payment_json(), headers=bearer("rw_guess"))
        assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
        basic = client.post(SCORE_PATH, json=payment_json(), headers={"Authorization": f"Basic {SCORER}"})
        assert basic.status_code == 401
        scoped_out = client.post(SCORE_PATH, json=payment_json(), headers=bearer(SCRAPER))
        assert scoped_out.status_code == 403 and "'score'" in scoped_out.json()["message"]
        assert 'error="insufficient_scope", scope="score"' in scoped_out.headers["www-authenticate"]
        # the token is checked before the body: a refused caller's body is never read
        assert (
            client.post(SCORE_PATH, content=b"\xff", headers={"content-type": "text/plain"}).status_code
            == 401
        )
        ok = client.post(SCORE_PATH, json=payment_json(), headers=bearer(SCORER))
        assert ok.status_code == 200 and ok.json()["results"][0]["model_version"] == 1
        # probes, the schema and (by default) the scrape stay open
        for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
            assert client.get(path).status_code == 200, path
        counted = decisions(client)
    scorer_id, scraper_id = token_hash(SCORER)[:12], token_hash(SCRAPER)[:12]
    assert counted == {
        ("none", "unauthenticated"): 4,
        (scraper_id, "forbidden"): 1,
        (scorer_id, "accepted"): 1,
    }
    # the audit log names each caller by its token's hashed id, never the token
    rows = {row["status"]: row["token_id"] for row in read(tmp_path / "serving_log", "requests")}
    assert rows == {401: None, 403: scraper_id, 200: scorer_id}


def test_metrics_can_be_restricted_to_the_metrics_scope(tmp_path: Path) -> None:
    app = fake_app(tmp_path, tokens_inline=tokens_yaml(), metrics_require_token=True)
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(SCORER)).status_code == 403
        scrape = client.get("/metrics", headers=bearer(SCRAPER))
        assert scrape.status_code == 200 and "scoring_api_token_requests_total" in scrape.text
        assert client.get("/healthz").status_code == 200


def test_over_its_rate_a_token_gets_429_with_retry_after(tmp_path: Path) -> None:
    app = fake_app(tmp_path, tokens_inline=tokens_yaml(rate_per_second=0.5, burst=2))
    with TestClient(app) as client:
        wait_ready(client)
        statuses = [client.post(SCORE_PATH, json=payment_json(), headers=bearer(SCORER)) for _ in range(3)]
        assert [r.status_code for r in statuses] == [200, 200, 429]
        limited = statuses[-1]
        assert (
            limited.json()["error"] == "too_many_requests" and "0.5 requests/s" in limited.json()["message"]
        )
        assert int(limited.headers["retry-after"]) == 2  # one request's worth of tokens at 0.5/s
        assert client.get("/metrics").status_code == 200  # scraped as Prometheus would
        counted = decisions(client)
        limits = samples(client, "scoring_api_token_rate_limit_per_second")
    hash_id = token_hash(SCORER)[:12]
    assert counted == {(hash_id, "accepted"): 2, (hash_id, "rate_limited"): 1}
    assert limits == {hash_id: 0.5}
    assert [
        row["token_id"] for row in read(tmp_path / "serving_log", "requests") if row["status"] == 429
    ] == [hash_id]


def test_the_bucket_refills_at_the_rate_up_to_the_burst() -> None:
    token = Token("t", "0" * 64, frozenset({"score"}), rate_per_second=10, burst=3)
    limiter = RateLimiter()
    assert [limiter.wait_seconds(token, now=0.0) for _ in range(4)] == [0, 0, 0, pytest.approx(0.1)]
    assert limiter.wait_seconds(token, now=0.1) == 0  # one refilled after 0.1 s
    assert limiter.wait_seconds(token, now=100.0) == 0  # a long pause refills to the burst, no more
    assert [limiter.wait_seconds(token, now=100.0) for _ in range(3)] == [0, 0, pytest.approx(0.1)]


def test_tokens_rotate_without_a_restart_and_a_broken_file_keeps_those_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "RELOAD_SECONDS", 0.0)
    path = tmp_path / "tokens.yml"
    path.write_text(tokens_yaml())
    with TestClient(fake_app(tmp_path, tokens_file=path)) as client:
        wait_ready(client)

        def status(token: str) -> int:
            return client.post(SCORE_PATH, json=payment_json(), headers=bearer(token)).status_code

        assert status(SCORER) == 200 and status("rw_next") == 401
        entry = {"name": "next", "sha256": token_hash("rw_next"), "scopes": ["score"]}
        path.write_text(yaml.safe_dump({"tokens": [entry]}))  # rotated: the old token is gone
        assert status("rw_next") == 200 and status(SCORER) == 401
        path.write_text("tokens: [{sha256: nonsense}]")  # a bad edit does not lock anyone out
        assert status("rw_next") == 200


def test_the_token_file_is_checked_with_the_reason() -> None:
    good = token_hash("x")
    cases = {
        "[]": "a list `tokens`",
        "tokens: [{sha256: abc, scopes: [score]}]": "tokens[1].sha256: expected 64 hex digits",
        f"tokens: [{{sha256: {good}, scopes: [admin]}}]": "tokens[1].scopes",
        f"tokens: [{{sha256: {good}, scopes: [score], rate_per_second: 0}}]": "rate_per_second must be > 0",
        f"tokens: [{{sha256: {good}, scopes: [score]}}, {{sha256: {good}, scopes: [score]}}]": "listed twice",
    }
    for text, reason in cases.items():
        with pytest.raises(TokenConfigError, match=reason.replace("[", r"\[").replace("]", r"\]")):
            parse_tokens(text, "tokens.yml", 100, 200)


def test_the_token_command_prints_the_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yml"
    run = [sys.executable, "-m", "serving.tokens"]
    made = subprocess.run(
        [*run, "new", "--name", "desk", "--file", str(path)], capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("rw_") and len(token) > 40
    stored = path.read_text()
    assert token not in stored and token_hash(token) in stored
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert parse_tokens(stored, str(path), 1, 1)[token_hash(token)].scopes == {"score"}
    revoked = subprocess.run(
        [*run, "revoke", "--name", "desk", "--file", str(path)], capture_output=True, text=True
    )
    assert revoked.returncode == 0 and parse_tokens(path.read_text(), str(path), 1, 1) == {}


def test_the_server_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVE_TOKENS")}
    started = time.monotonic()
    refused = subprocess.run(
        [sys.executable, "-m", "serving", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0" in refused.stderr and "SERVE_TOKENS_FILE" in refused.stderr
    assert time.monotonic() - started < 60  # it refused before loading anything
