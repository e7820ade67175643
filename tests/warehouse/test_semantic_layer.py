"""The semantic layer (warehouse/models/semantic/): every metric MetricFlow computes equals the same
metric written by hand from the marts and ml tables, per week and store, on the default world
trained and scored; the published file gets the saved queries' tables; and `mf query` answers from
the terminal against the published file, as README.md shows."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.defs.publish.publishing import publish
from orchestration.lib.metricflow_sql import SemanticLayer, SemanticLayerError
from tests.conftest import REPO_ROOT
from tests.trained import TrainedWarehouse

pytestmark = pytest.mark.slow

TARGET = REPO_ROOT / "warehouse" / "target"  # `make install` parses the project: semantic_manifest.json
GROUP_BY = ["metric_time__week", "store"]

# Each metric by hand, per (week, store), from the tables the marts are built from where they can be:
# fct_chargebacks rather than fct_payment_outcomes, the scores table rather than the review queue.
ORDERS = """
    select date_trunc('week', business_date) as week, store_id as store,
        coalesce(sum(order_total_usd) filter (where is_completed), 0) as revenue,
        coalesce(sum(units) filter (where is_completed), 0) as units,
        count(*) filter (where is_completed) as orders
    from marts.fct_orders group by all
"""
PAYMENTS = """
    with fraud as (
        select payment_id, count(*) as chargebacks, bool_or(is_fraud) as is_fraud
        from marts.fct_chargebacks group by payment_id
    ),
    matured as (select max(paid_at) - interval 90 day as until from marts.fct_payments)
    select date_trunc('week', p.paid_date) as week, p.store_id as store,
        count(*) as payments,
        count(*) filter (where p.is_authorized) as authorized,
        coalesce(sum(f.chargebacks) filter (where p.is_authorized), 0) as chargebacks,
        sum(p.amount_usd) filter (where p.is_authorized) as authorized_usd,
        coalesce(sum(p.amount_usd) filter (where p.is_authorized and f.is_fraud), 0) as fraud_usd,
        count(*) filter (where p.paid_at <= m.until and s.is_flagged) as flagged,
        count(*) filter (where p.paid_at <= m.until and p.is_authorized and f.is_fraud) as frauds,
        count(*) filter (where p.paid_at <= m.until and s.is_flagged and f.is_fraud) as caught
    from marts.fct_payments as p
    cross join matured as m
    left join fraud as f using (payment_id)
    left join ml.payment_fraud_scores as s using (payment_id)
    group by all
"""
FORECASTS = """
    select date_trunc('week', s.forecast_date) as week, s.store_id as store,
        sum(d.units_sold) as actual,
        sum(abs(s.predicted_units - d.units_sold)) as absolute_error,
        sum(s.predicted_units - d.units_sold) as error
    from ml.daily_demand_scores as s
    join marts.fct_daily_sales as d
        on d.store_id = s.store_id and d.product_id = s.product_id and d.sales_date = s.forecast_date
    group by all
"""


def ratio(numerator: str, denominator: str) -> str:
    return f"cast({numerator} as double) / nullif({denominator}, 0)"


BY_HAND = {
    "revenue": (ORDERS, "revenue"),
    "units": (ORDERS, "units"),
    "average_basket": (ORDERS, ratio("revenue", "orders")),
    "authorization_rate": (PAYMENTS, ratio("authorized", "payments")),
    "chargeback_rate": (PAYMENTS, ratio("chargebacks", "authorized")),
    "fraud_loss_rate": (PAYMENTS, ratio("fraud_usd", "authorized_usd")),
    "review_queue_precision": (PAYMENTS, ratio("caught", "flagged")),
    "review_queue_recall": (PAYMENTS, ratio("caught", "frauds")),
    "forecast_wape": (FORECASTS, ratio("absolute_error", "actual")),
    "forecast_bias": (FORECASTS, ratio("error", "actual")),
}


def by_key(rows: list[tuple]) -> dict[tuple, float | None]:
    """(week as a date, store) -> value; MetricFlow's rows for groups without the metric's rows (a
    store that took payments but no orders that week) are null, as they are absent by hand."""
    return {
        (week.date() if hasattr(week, "date") else week, store): None if value is None else float(value)
        for week, store, value in rows
        if value is not None
    }


@pytest.fixture(scope="module")
def layer(trained_warehouse: TrainedWarehouse) -> SemanticLayer:
    return SemanticLayer(TARGET, "warehouse")


@pytest.mark.parametrize("metric", sorted(BY_HAND))
def test_each_metric_equals_its_definition_by_hand(
    trained_warehouse: TrainedWarehouse, layer: SemanticLayer, metric: str
) -> None:
    source, expression = BY_HAND[metric]
    with duckdb.connect(str(trained_warehouse.env.database), read_only=True) as con:
        compiled = layer.compile([metric], GROUP_BY)
        metricflow = by_key(
            con.execute(f"select {', '.join(GROUP_BY)}, {metric} from ({compiled}\n)").fetchall()
        )
        by_hand = by_key(con.execute(f"select week, store, {expression} from ({source})").fetchall())
    # the world's weeks and stores give each metric many groups (the forecast: 2 weeks, 9 stores;
    # precision: the matured weeks and stores with a flagged payment, 64)
    assert len(by_hand) >= (18 if source is FORECASTS else 50), len(by_hand)
    assert metricflow.keys() == by_hand.keys()
    different = {
        key: (value, by_hand[key])
        for key, value in metricflow.items()
        if not math.isclose(value, by_hand[key], rel_tol=1e-9, abs_tol=1e-9)
    }
    assert different == {}


def test_every_metric_the_issue_names_is_defined_and_tested(layer: SemanticLayer) -> None:
    assert set(BY_HAND) <= set(layer.metric_names())


def test_the_review_queue_is_measured_on_matured_labels_only(trained_warehouse: TrainedWarehouse) -> None:
    """The dbt var the mart uses is the fraud spec's label window, and the newest 90 days count as
    not matured: their recall would look low only because their chargebacks have not arrived yet."""
    project = yaml.safe_load((REPO_ROOT / "warehouse" / "dbt_project.yml").read_text())
    spec = yaml.safe_load((REPO_ROOT / "ml" / "models" / "payment_fraud.yml").read_text())
    assert project["vars"]["fraud_label_maturity_days"] == spec["label"]["maturity_days"]
    newest_matured, newest = trained_warehouse.query(
        "select max(paid_at) filter (where is_label_matured), max(paid_at) from marts.fct_payment_outcomes"
    )[0]
    assert 89 <= (newest - newest_matured).days <= 90


def test_an_unknown_metric_is_a_clear_error(layer: SemanticLayer) -> None:
    with pytest.raises(SemanticLayerError, match="cannot compile metrics revenu"):
        layer.compile(["revenu"], GROUP_BY)


def test_the_published_file_has_the_saved_queries_and_mf_query_reads_it(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    analytics = tmp_path / "analytics.duckdb"
    published = publish(trained_warehouse.env.database, analytics, semantic_layer=TARGET)
    metric_tables = {name: rows for name, rows in published.tables.items() if name.startswith("metrics.")}
    assert set(metric_tables) == {
        "metrics.store_weekly_sales",
        "metrics.weekly_fraud_screening",
        "metrics.store_forecast_accuracy",
    }
    assert all(rows > 0 for rows in metric_tables.values()), metric_tables
    with duckdb.connect(str(analytics), read_only=True) as con:
        table = con.execute(
            "select strftime(metric_time__week, '%Y-%m-%d %H:%M:%S'), store, revenue, units "
            "from metrics.store_weekly_sales where revenue is not null order by all"
        ).fetchall()
    # the README's command, from the terminal, on the published file (target `analytics`)
    answer = tmp_path / "revenue.csv"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("mf")),
            "query",
            "--metrics",
            "revenue,units",
            "--group-by",
            "metric_time__week,store",
            "--csv",
            str(answer),
        ],
        cwd=REPO_ROOT / "warehouse",
        env={**os.environ, "DBT_TARGET": "analytics", "ANALYTICS_DB": str(analytics)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with answer.open() as csv_file:
        rows = list(csv.reader(csv_file))
    assert rows[0] == ["metric_time__week", "store", "revenue", "units"]
    from_terminal = sorted(
        (week, store, float(revenue), int(units)) for week, store, revenue, units in rows[1:]
    )
    published_rows = [(week, store, float(revenue), int(units)) for week, store, revenue, units in table]
    assert len(from_terminal) == len(published_rows) > 50
    assert from_terminal == published_rows
