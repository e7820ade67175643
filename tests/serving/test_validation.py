"""Bad input gets a 4xx naming the field and the reason, never a 500, and never echoes the value."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from serving.schemas import MAX_BATCH, Payment
from tests.serving.fakes import SCORE_PATH, payment_json


def errors_of(response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error", "message", "errors"}
    return {error["field"]: error["reason"] for error in body["errors"]}


def test_a_valid_payment_is_scored(client: TestClient) -> None:
    response = client.post(SCORE_PATH, json=payment_json(amount_usd=700.0))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result == {
        "payment_id": "pay_0123456789abcdef",
        "score": 0.7,
        "is_flagged": True,
        "operating_threshold": 0.5,
        "model_name": "payment_fraud",
        "model_version": 1,
        "reason_codes": ["amount_usd"],
    }
    assert response.headers["server-timing"].startswith("app;dur=")
    assert len(response.headers["x-request-id"]) == 32


def test_a_batch_is_scored_in_request_order(client: TestClient) -> None:
    ids = [f"pay_{i:016x}" for i in range(MAX_BATCH)]
    response = client.post(SCORE_PATH, json={"payments": [payment_json(payment_id=i) for i in ids]})
    assert response.status_code == 200
    assert [result["payment_id"] for result in response.json()["results"]] == ids


def test_optional_fields_default_to_null_and_authorized(client: TestClient) -> None:
    body = payment_json(channel="in_store")
    for field in ("customer_id", "device_id", "ip_country", "is_authorized"):
        del body[field]
    assert client.post(SCORE_PATH, json=body).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"amount_usd": -0.01}, "amount_usd", "Input should be greater than or equal to 0"),
        ({"amount_usd": 1e7}, "amount_usd", "Input should be less than or equal to 1000000"),
        # a number sent as a string is refused, not converted (strict types)
        ({"amount_usd": "12.5"}, "amount_usd", "Input should be a valid number"),
        ({"is_authorized": "true"}, "is_authorized", "Input should be a valid boolean"),
        ({"channel": "phone"}, "channel", "Input should be 'online' or 'in_store'"),
        (
            {"merchant_category_code": "565"},
            "merchant_category_code",
            "String should match pattern '^[0-9]{4}$'",
        ),
        ({"merchant_category_code": 5651}, "merchant_category_code", "Input should be a valid string"),
        ({"ip_country": "us"}, "ip_country", "String should match pattern '^[A-Z]{2}$'"),
        ({"card_fingerprint": "XYZ"}, "card_fingerprint", "String should match pattern '^[0-9a-f]{64}$'"),
        ({"payment_id": ""}, "payment_id", "String should have at least 1 character"),
        ({"payment_id": "p" * 65}, "payment_id", "String should have at most 64 characters"),
        ({"customer_id": "C 1"}, "customer_id", "String should match pattern '^[A-Za-z0-9_.:-]+$'"),
        # a timestamp without an offset is ambiguous: refused rather than guessed to be UTC
        ({"paid_at": "2026-02-01T10:00:00"}, "paid_at", "Input should have timezone info"),
        ({"paid_at": 1767225600}, "paid_at", "Input should be an RFC 3339 timestamp string"),
        (
            {"paid_at": "yesterday"},
            "paid_at",
            "Input should be a valid datetime or date, input is too short",
        ),
        (
            {"paid_at": "1999-12-31T23:59:59Z"},
            "paid_at",
            "must be on or after 2000-01-01T00:00:00Z and before 2100-01-01T00:00:00Z",
        ),
        ({"surprise": 1}, "surprise", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_field_is_named_with_its_reason(client: TestClient, overrides, field, reason) -> None:
    response = client.post(SCORE_PATH, json=payment_json(**overrides))
    assert response.status_code == 422
    assert errors_of(response) == {field: reason}
    assert response.json()["message"] == f"{field}: {reason}"


def test_a_missing_field_is_named(client: TestClient) -> None:
    body = payment_json()
    del body["card_fingerprint"]
    assert errors_of(client.post(SCORE_PATH, json=body)) == {"card_fingerprint": "Field required"}


def test_errors_in_a_batch_name_the_position(client: TestClient) -> None:
    body = {"payments": [payment_json(payment_id="a"), payment_json(payment_id="b", amount_usd=-5)]}
    response = client.post(SCORE_PATH, json=body)
    assert response.status_code == 422
    assert errors_of(response) == {"payments[1].amount_usd": "Input should be greater than or equal to 0"}


@pytest.mark.parametrize(
    ("payments", "reason"),
    [
        ([], "List should have at least 1 item after validation, not 0"),
        (
            [payment_json(payment_id=f"p{i}") for i in range(MAX_BATCH + 1)],
            "List should have at most 100 items after validation, not 101",
        ),
        (
            [payment_json(payment_id="same"), payment_json(payment_id="same")],
            "payment_id 'same' appears at positions 0 and 1; each payment is scored once per request",
        ),
    ],
)
def test_the_batch_size_and_unique_ids_are_checked(client: TestClient, payments, reason) -> None:
    response = client.post(SCORE_PATH, json={"payments": payments})
    assert response.status_code == 422
    assert errors_of(response) == {"payments": reason}


def test_nan_is_refused_and_never_echoed(client: TestClient) -> None:
    # FastAPI's default handler echoes the input and fails with a 500 on NaN (not JSON-serialisable)
    body = b'{"payment_id": NaN, "amount_usd": NaN}'
    response = client.post(SCORE_PATH, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    errors = errors_of(response)
    assert errors["payment_id"] == "Input should be a valid string"
    assert errors["amount_usd"] == "Input should be a finite number"
    assert "NaN" not in response.text


def test_values_are_never_echoed(client: TestClient) -> None:
    secret = "C_customer_secret value"
    response = client.post(SCORE_PATH, json=payment_json(customer_id=secret))
    assert response.status_code == 422
    assert secret not in response.text


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        (
            b'{"payment_id": ',
            {"content-type": "application/json"},
            422,
            "the body is not valid JSON at character 15: Expecting value",
        ),
        (b"", {"content-type": "application/json"}, 422, "a JSON body is required"),
        (
            b"[1, 2]",
            {"content-type": "application/json"},
            422,
            "Input should be a valid dictionary or object to extract fields from",
        ),
        (b"{}", {"content-type": "text/plain"}, 415, "Content-Type must be application/json, got text/plain"),
        (b"{}", {}, 415, "Content-Type must be application/json, got none"),
        (
            b"{}",
            {"content-type": "application/json", "content-length": "x"},
            400,
            "Content-Length is not a non-negative integer",
        ),
    ],
)
def test_a_malformed_body_gets_a_precise_4xx(client: TestClient, content, headers, status, message) -> None:
    response = client.post(SCORE_PATH, content=content, headers=headers)
    assert response.status_code == status
    assert response.json()["message"] == message


def test_a_body_over_the_limit_gets_a_413(client: TestClient) -> None:
    response = client.post(
        SCORE_PATH, content=b" " * (256 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "error": "payload_too_large",
        "message": "the request body (262145 bytes) exceeds the limit of 262144 bytes",
        "errors": [],
    }


def test_a_chunked_body_over_the_limit_gets_a_413(client: TestClient) -> None:
    # no Content-Length: the guard counts the bytes as they arrive
    chunks = (b" " * 65536 for _ in range(5))
    response = client.post(SCORE_PATH, content=chunks, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert (
        response.json()["message"]
        == "the request body (more than 262144 bytes) exceeds the limit of 262144 bytes"
    )


def test_unknown_paths_and_methods_get_json_4xx(client: TestClient) -> None:
    assert client.post("/v1/models/other_model/score", json=payment_json()).json()["error"] == "not_found"
    response = client.get(SCORE_PATH)
    assert (response.status_code, response.json()["error"]) == (405, "method_not_allowed")


def test_the_score_endpoint_answers_503_until_the_model_is_loaded(tmp_path) -> None:
    from tests.serving.fakes import fake_app

    def never_loads():
        raise RuntimeError("no champion yet")

    with TestClient(fake_app(tmp_path, load=never_loads)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 503
        response = client.post(SCORE_PATH, json=payment_json())
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert response.json()["error"] == "not_ready"


def test_paid_at_becomes_naive_utc() -> None:
    payment = Payment.model_validate(payment_json(paid_at="2026-02-01T10:00:00+02:00"))
    assert payment.paid_at_utc == datetime(2026, 2, 1, 8, 0, 0)


def test_a_payment_older_than_the_online_features_is_refused_not_scored(tmp_path) -> None:
    """Before the feature store's complete windows a payment's velocity features would count part
    of their window: a 422 naming the payment and the boundary, and nothing of the request is scored."""
    from tests.serving.fakes import FakeModel, fake_app, wait_ready
    from tests.serving.test_audit import read

    model = FakeModel(complete_from=datetime(2026, 1, 15))
    with TestClient(fake_app(tmp_path, load=lambda: model)) as client:
        wait_ready(client)
        alone = client.post(SCORE_PATH, json=payment_json(paid_at="2026-01-14T23:59:59Z"))
        assert alone.status_code == 422
        assert "before 2026-01-15T00:00:00Z" in errors_of(alone)["paid_at"]
        batch = {
            "payments": [
                payment_json(payment_id="pay_new", paid_at="2026-01-15T00:00:00Z"),
                payment_json(payment_id="pay_old", paid_at="2026-01-01T08:00:00+02:00"),
            ]
        }
        refused = client.post(SCORE_PATH, json=batch)
        assert refused.status_code == 422 and set(errors_of(refused)) == {"payments[1].paid_at"}
        assert "2026-01-01T06:00:00Z is before" in refused.json()["message"]
        assert model.recorded == []  # neither payment of the refused batch counts in the features
        at_the_boundary = client.post(SCORE_PATH, json=payment_json(paid_at="2026-01-15T00:00:00Z"))
        assert at_the_boundary.status_code == 200
    assert [row["payment_id"] for row in read(tmp_path / "serving_log", "scores")] == ["pay_0123456789abcdef"]
