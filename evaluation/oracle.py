"""The quality bar: the champions' scores after their training cutoff, against the oracle's truth.

- fraud: AUC-PR of the champion's scores >= 0.90 x AUC-PR of the oracle's true fraud probability,
  on the same authorized payments made after the training cutoff;
- demand: WAPE of the forecast <= 1.15 x WAPE of the oracle's expected units, and at least 20%
  below the seasonal-naive baseline's, on the same store x product x days after the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
from sklearn.metrics import average_precision_score

from ml.duckdb_limits import connect

FRAUD_RATIO_FLOOR = 0.90
DEMAND_ORACLE_RATIO_CEILING = 1.15
DEMAND_BASELINE_IMPROVEMENT = 0.20


@dataclass(frozen=True)
class Check:
    name: str
    model: float
    reference: float
    reference_name: str
    rows: int
    passed: bool
    rule: str


def _wape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.abs(predicted - actual).sum() / np.abs(actual).sum())


def fraud_check(con: duckdb.DuckDBPyConnection, oracle_dir: Path) -> Check:
    rows = con.sql(
        f"""
        with champion as (
            select r.training_cutoff
            from ml.model_aliases a
            join ml.model_registry r using (model_name, version)
            where a.model_name = 'payment_fraud' and a.alias = 'champion'
        )
        select s.fraud_score, o.fraud_probability, o.is_fraud
        from ml.payment_fraud_scores s
        join marts.fct_payments p using (payment_id)
        join read_parquet('{oracle_dir / "payments.parquet"}') o using (payment_id)
        where p.paid_at > (select training_cutoff from champion)
        order by payment_id
        """
    ).fetchnumpy()
    truth = rows["is_fraud"].astype(int)
    model = float(average_precision_score(truth, rows["fraud_score"]))
    oracle = float(average_precision_score(truth, rows["fraud_probability"]))
    return Check(
        "fraud AUC-PR",
        model,
        oracle,
        "oracle probability",
        int(truth.size),
        model >= FRAUD_RATIO_FLOOR * oracle,
        f">= {FRAUD_RATIO_FLOOR} x oracle",
    )


def demand_checks(con: duckdb.DuckDBPyConnection, oracle_dir: Path) -> list[Check]:
    rows = con.sql(
        f"""
        select s.predicted_units, o.expected_units, f.seasonal_naive_units, d.units_sold
        from ml.daily_demand_scores s
        join marts.fct_daily_sales d
            on d.store_id = s.store_id and d.product_id = s.product_id and d.sales_date = s.forecast_date
        join features.feat_daily_demand f
            on f.store_id = s.store_id and f.product_id = s.product_id and f.forecast_date = s.forecast_date
        join read_parquet('{oracle_dir / "demand.parquet"}') o
            on o.store_id = s.store_id and o.product_id = s.product_id and o.date = s.forecast_date
        order by s.store_id, s.product_id, s.forecast_date
        """
    ).fetchnumpy()
    actual = rows["units_sold"].astype(float)
    model = _wape(actual, rows["predicted_units"])
    oracle = _wape(actual, rows["expected_units"])
    naive = _wape(actual, np.nan_to_num(rows["seasonal_naive_units"].astype(float)))
    n = int(actual.size)
    return [
        Check(
            "demand WAPE",
            model,
            oracle,
            "oracle expected units",
            n,
            model <= DEMAND_ORACLE_RATIO_CEILING * oracle,
            f"<= {DEMAND_ORACLE_RATIO_CEILING} x oracle",
        ),
        Check(
            "demand WAPE",
            model,
            naive,
            "seasonal naive",
            n,
            model <= (1 - DEMAND_BASELINE_IMPROVEMENT) * naive,
            f"<= {1 - DEMAND_BASELINE_IMPROVEMENT:.2f} x naive",
        ),
    ]


def run_checks(warehouse: Path, oracle_dir: Path) -> list[Check]:
    with connect(warehouse, read_only=True) as con:
        return [fraud_check(con, oracle_dir), *demand_checks(con, oracle_dir)]
