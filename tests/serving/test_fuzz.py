"""Schemathesis fuzzes the API against its own OpenAPI schema, in process (ASGI): valid and invalid
bodies alike must never get a 5xx, and every response must match the schema (status code, media
type, body). Derandomized with a bounded number of examples, so it is repeatable and quick."""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from serving.auth import TOKEN_PREFIX, token_hash
from tests.serving.fakes import SCORE_PATH, fake_app, send_case, wait_ready

# Two rules JSON Schema cannot state (each tested in test_validation.py): payment_ids are unique
# within a batch, and paid_at lies in [2000, 2100). Their refusal is the only 422 a schema-valid
# body may get.
UNSTATED_RULES = ("payment_id ", "must be on or after 2000-01-01")

_ROOT = Path(tempfile.mkdtemp(prefix="serving-fuzz-"))
atexit.register(shutil.rmtree, _ROOT, True)  # also when no test of this module ran
# authentication on, as a deployment beyond loopback has it: every case carries a scoring token
TOKEN = TOKEN_PREFIX + secrets.token_urlsafe(16)
TOKENS = f"tokens: [{{name: fuzz, sha256: {token_hash(TOKEN)}, scopes: [score, metrics]}}]"
APP = fake_app(_ROOT, audit_flush_seconds=3600, tokens_inline=TOKENS, metrics_require_token=True)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=200, deterministic=True
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """The app with its lifespan running (the fake model loaded); every case goes through it."""
    with TestClient(APP) as client:
        wait_ready(client)
        yield client


def schema_valid_data_is_accepted(ctx, response, case) -> bool | None:
    """schemathesis' positive_data_acceptance, except for the rules the schema cannot state."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    reasons = [error["reason"] for error in response.json()["errors"]]
    unstated = [reason for reason in reasons if not reason.startswith(UNSTATED_RULES)]
    assert not unstated, f"schema-valid body refused: {unstated}"
    return True


@schema.parametrize()
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_the_api_conforms_to_its_schema_and_never_fails(case, client: TestClient) -> None:
    case.validate_response(
        send_case(client, case, TOKEN),
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_data_is_accepted],
    )


def test_the_fuzz_got_bodies_both_scored_and_refused() -> None:
    """Not vacuous: the generated bodies reached the model, and invalid ones were refused."""
    counted = {
        sample.labels["status"]: sample.value
        for family in APP.state.metrics.registry.collect()
        for sample in family.samples
        if sample.name == "scoring_api_requests_total" and sample.labels["endpoint"] == SCORE_PATH
    }
    if not counted:
        pytest.skip("the fuzz test did not run in this session")
    assert counted.get("200", 0) > 0 and counted.get("422", 0) > 0, counted
