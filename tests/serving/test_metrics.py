"""/metrics speaks the Prometheus text format with the counters, the latency histogram and the
model version gauge the dashboards read."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.metrics import LATENCY_BUCKETS
from tests.serving.fakes import SCORE_PATH, payment_json


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_requests_payments_and_the_model_version_are_counted(client: TestClient) -> None:
    batch = {"payments": [payment_json(payment_id="a", amount_usd=900.0), payment_json(payment_id="b")]}
    assert client.post(SCORE_PATH, json=batch).status_code == 200
    assert client.post(SCORE_PATH, json=payment_json(amount_usd=-1)).status_code == 422
    found = samples(client)
    route = ("endpoint", SCORE_PATH)
    assert found[("scoring_api_requests_total", (route, ("method", "POST"), ("status", "200")))] == 1
    assert found[("scoring_api_requests_total", (route, ("method", "POST"), ("status", "422")))] == 1
    assert found[("scoring_api_payments_scored_total", (("model_name", "payment_fraud"),))] == 2
    assert found[("scoring_api_payments_flagged_total", (("model_name", "payment_fraud"),))] == 1
    assert found[("scoring_api_model_version", (("model_name", "payment_fraud"),))] == 1
    assert found[("scoring_api_model_loads_total", (("outcome", "loaded"),))] == 1
    assert found[("scoring_api_request_duration_seconds_count", (route,))] == 2
    assert found[("scoring_api_batch_payments_sum", ())] == 2  # one scoring call, two payments


def test_the_latency_histogram_resolves_below_10_ms(client: TestClient) -> None:
    client.post(SCORE_PATH, json=payment_json())
    bounds = {
        float(dict(labels)["le"])
        for (name, labels) in samples(client)
        if name == "scoring_api_request_duration_seconds_bucket"
    }
    assert {0.001, 0.002, 0.005, 0.01} <= bounds
    assert sum(bound <= 0.01 for bound in LATENCY_BUCKETS) >= 7


def test_unrouted_paths_share_one_label(client: TestClient) -> None:
    # raw paths as label values would let any client grow the metric without bound
    for i in range(3):
        client.get(f"/no/such/path/{i}")
    found = samples(client)
    unmatched = [
        labels
        for (name, labels) in found
        if name == "scoring_api_requests_total" and ("endpoint", "unmatched") in labels
    ]
    assert unmatched == [(("endpoint", "unmatched"), ("method", "GET"), ("status", "404"))]


def test_two_apps_keep_separate_counters(tmp_path, client: TestClient) -> None:
    from tests.serving.fakes import fake_app, wait_ready

    client.post(SCORE_PATH, json=payment_json())
    with TestClient(fake_app(tmp_path / "other")) as other:
        wait_ready(other)
        found = samples(other)
    assert ("scoring_api_payments_scored_total", (("model_name", "payment_fraud"),)) not in found
