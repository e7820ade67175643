"""Spec validation: every mistake a data scientist can make in a YAML file gets a clear error."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ml.errors import SpecError
from ml.specs import SPEC_DIR, load_spec, load_specs, parse_spec

FRAUD = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())


def broken(change) -> dict:
    data = copy.deepcopy(FRAUD)
    change(data)
    return data


def test_shipped_specs_load() -> None:
    # every spec in ml/models loads; a user's new spec joins the two flagship ones
    specs = load_specs()
    assert {"payment_fraud", "daily_demand"} <= set(specs)
    assert specs["payment_fraud"].task == "binary"
    assert specs["daily_demand"].task == "regression"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(colour="blue"), "payment_fraud.yml: spec: unknown keys ['colour']"),
        (lambda d: d["split"].update(test_day=3), "payment_fraud.yml: split: unknown keys ['test_day']"),
        (lambda d: d.pop("entity_key"), "payment_fraud.yml: entity_key: is required"),
        (
            lambda d: d["split"].update(test_days="x"),
            "payment_fraud.yml: split.test_days: expected an integer >= 1, got 'x'",
        ),
        (lambda d: d["split"].update(test_days=True), "split.test_days: expected an integer >= 1, got True"),
        (lambda d: d.update(task="ranking"), "task: expected one of ['binary', 'regression'], got 'ranking'"),
        (lambda d: d.update(name="other"), "name: must match the file name 'payment_fraud'"),
        (
            lambda d: d["gates"]["floors"].update(wape=0.5),
            "gates.floors: unknown metric 'wape' for task binary",
        ),
        (
            lambda d: d["features"]["numeric"].append("amount_usd; drop table x"),
            "features.numeric: expected lower-case SQL identifiers",
        ),
        (lambda d: d.update(features_relation="features.feat'x"), "features_relation: expected schema.table"),
        (lambda d: d["output"].update(table="scores"), "output.table: expected schema.table"),
        (lambda d: d["lightgbm"]["params"].update(seed=3), "lightgbm.params: may not set ['seed']"),
        (
            lambda d: d["features"]["numeric"].append("paid_at"),
            "features may not include the timestamp, label or filter",
        ),
        (
            lambda d: d["features"]["categorical"].append("amount_usd"),
            "features.categorical: listed as numeric too",
        ),
        (
            lambda d: d.update(operating_precision=1.5),
            "operating_precision: expected a number between 0 and 1",
        ),
        (lambda d: d.update(reason_method="lime"), "reason_method: expected 'tree_shap' or 'path'"),
    ],
)
def test_invalid_specs_name_the_file_and_the_field(change, message: str) -> None:
    with pytest.raises(SpecError, match=None) as error:
        parse_spec(broken(change), "payment_fraud.yml")
    assert message in str(error.value)


def test_regression_specs_cannot_be_calibrated() -> None:
    demand = yaml.safe_load((SPEC_DIR / "daily_demand.yml").read_text())
    demand["calibration"] = "platt"
    with pytest.raises(SpecError, match="calibration: only binary models are calibrated"):
        parse_spec(demand, "daily_demand.yml")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    # A YAML tag that would construct Python objects must be refused, not executed.
    path = tmp_path / "evil.yml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(SpecError, match=r"evil\.yml: not valid YAML"):
        load_spec(path)


def test_spec_hash_ignores_key_order() -> None:
    reordered = dict(reversed(list(copy.deepcopy(FRAUD).items())))
    assert (
        parse_spec(reordered, "payment_fraud.yml").spec_hash
        == parse_spec(FRAUD, "payment_fraud.yml").spec_hash
    )
