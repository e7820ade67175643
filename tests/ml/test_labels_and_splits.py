"""A binary label as an outcome (boolean, 0/1, with an optional `known_at`) or as the time it became
known, and splits by calendar dates as well as by days before the latest event.

The feature relations are small tables in an in-memory DuckDB, so every row's label and split is
checked by hand."""

from __future__ import annotations

import copy
import re
from datetime import date, datetime, timedelta

import duckdb
import pytest

from ml.dataset import load_labelled, resolve_cutoff
from ml.errors import FeatureRelationError, SpecError
from ml.specs import ModelSpec, parse_spec

START = datetime(2025, 1, 1)
DAYS = 60

SPEC = {
    "name": "churn",
    "description": "Will the account churn within 30 days.",
    "task": "binary",
    "features_relation": "features.accounts",
    "entity_key": ["account_id"],
    "event_timestamp": "event_at",
    "label": {"column": "churned", "maturity_days": 0},
    "features": {"numeric": ["x"]},
    "lightgbm": {"params": {"objective": "binary"}},
    "split": {"validation_days": 10, "test_days": 10},
    "output": {"table": "ml.churn_scores", "score_column": "churn_score"},
}


def spec(**changes: object) -> ModelSpec:
    """SPEC with top-level keys replaced; `label` is merged into SPEC's label."""
    data = {**copy.deepcopy(SPEC), **changes}
    if "label" in changes:
        data["label"] = {**SPEC["label"], **changes["label"]}
    return parse_spec(data, "churn.yml")


def calendar(**dates: object) -> dict:
    return {
        "train_until": "2025-01-31",
        "validation_until": "2025-02-10",
        "test_until": "2025-02-20",
        **dates,
    }


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """One account a day from START at noon; every third churned; the churn became known 5 days
    after the event; the last day's outcome is not known (null)."""
    connection = duckdb.connect()
    connection.execute("create schema features")
    connection.execute(
        f"""
        create table features.accounts as
        select
            'a' || lpad(cast(i as varchar), 3, '0') as account_id,
            timestamp '{START}' + to_days(cast(i as integer)) + interval 12 hour as event_at,
            cast(i as double) as x,
            case when i = {DAYS - 1} then null else i % 3 = 0 end as churned,
            case when i % 3 = 0 then timestamp '{START}' + to_days(cast(i as integer) + 5) end as churned_at
        from range({DAYS}) as t(i)
        """
    )
    return connection


def labels(con: duckdb.DuckDBPyConnection, model: ModelSpec, cutoff: datetime) -> dict[str, tuple[int, str]]:
    frame = load_labelled(con, model, cutoff).frame
    return {row["account_id"]: (row["_label"], row["_split"]) for row in frame.iter_rows(named=True)}


def account(day: int) -> str:
    return f"a{day:03d}"


def test_a_boolean_outcome_is_the_label_and_an_unknown_one_is_not_labelled(con) -> None:
    model = spec()
    cutoff = resolve_cutoff(con, model)
    rows = labels(con, model, cutoff)
    assert account(DAYS - 1) not in rows  # null: not known, not a negative
    assert len(rows) == DAYS - 1
    assert all(label == (1 if int(key[1:]) % 3 == 0 else 0) for key, (label, _) in rows.items())


def test_a_zero_one_integer_is_the_same_label(con) -> None:
    model = spec()
    as_boolean = labels(con, model, resolve_cutoff(con, model))
    con.execute("alter table features.accounts alter churned type integer using cast(churned as integer)")
    assert labels(con, model, resolve_cutoff(con, model)) == as_boolean


def test_an_integer_label_other_than_zero_or_one_is_refused(con) -> None:
    con.execute("alter table features.accounts alter churned type integer using cast(churned as integer) * 2")
    with pytest.raises(
        FeatureRelationError, match=r"label.column churned must hold 0 or 1 .* rows hold others"
    ):
        labels(con, spec(), datetime(2025, 3, 1))


def test_a_label_of_another_type_is_refused_by_name(con) -> None:
    con.execute("alter table features.accounts alter churned type varchar")
    with pytest.raises(FeatureRelationError, match="must be a boolean, an integer 0/1 or a timestamp"):
        labels(con, spec(), datetime(2025, 3, 1))


def test_known_at_counts_an_outcome_known_after_the_cutoff_as_not_seen(con) -> None:
    model = spec(label={"known_at": "churned_at"})
    cutoff = datetime(2025, 2, 20, 12)  # day 50, noon
    rows = labels(con, model, cutoff)
    assert rows[account(48)][0] == 0  # churned, but known on day 53: not seen at the cutoff
    assert rows[account(45)][0] == 1  # known on day 50 at midnight, before the cutoff
    without = labels(con, spec(), cutoff)
    assert without[account(48)][0] == 1


def test_a_timestamp_label_is_the_time_the_positive_became_known(con) -> None:
    model = spec(label={"column": "churned_at"})
    rows = labels(con, model, datetime(2025, 2, 20, 12))
    assert rows[account(45)][0] == 1 and rows[account(48)][0] == 0
    assert rows[account(1)][0] == 0  # no churn time: a negative, not an unknown outcome
    with pytest.raises(FeatureRelationError, match=r"label\.known_at: churned_at is a timestamp"):
        labels(con, spec(label={"column": "churned_at", "known_at": "event_at"}), datetime(2025, 2, 20))


def test_a_calendar_split_puts_each_whole_day_where_the_dates_say(con) -> None:
    model = spec(split=calendar())
    cutoff = resolve_cutoff(con, model)
    assert cutoff == datetime(2025, 2, 20, 23, 59, 59, 999999)
    rows = labels(con, model, cutoff)
    for day, split in ((30, "train"), (31, "validation"), (40, "validation"), (41, "test"), (50, "test")):
        assert rows[account(day)][1] == split, day  # day 30 is 2025-01-31, day 50 is 2025-02-20
    assert account(51) not in rows  # after test_until


def test_a_calendar_split_waits_for_the_labels_to_mature(con) -> None:
    model = spec(label={"maturity_days": 30}, split=calendar())
    with pytest.raises(
        FeatureRelationError, match=r"split.test_until 2025-02-20: .* final on 2025-03-22, but the data"
    ):
        resolve_cutoff(con, model)
    ready = spec(label={"maturity_days": 5}, split=calendar())
    assert resolve_cutoff(con, ready) == datetime(2025, 2, 20, 23, 59, 59, 999999) + timedelta(days=5)


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (
            {**calendar(), "test_days": 10},
            "split.test_days: relative days cannot be mixed with calendar dates",
        ),
        (calendar(validation_until="2025-01-31"), "split.validation_until: must be after train_until"),
        (
            calendar(test_until="20 Feb 2025"),
            "split.test_until: expected a date (YYYY-MM-DD), got '20 Feb 2025'",
        ),
        ({"train_until": "2025-01-31", "test_until": "2025-02-20"}, "split.validation_until: is required"),
        ({"validation_days": 10}, "split.test_days: is required"),
    ],
)
def test_split_mistakes_name_the_field(split: dict, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        parse_spec({**SPEC, "split": split}, "churn.yml")


def test_yaml_dates_and_iso_strings_are_the_same_split() -> None:
    as_dates = parse_spec(
        {**SPEC, "split": calendar(train_until=date(2025, 1, 31), test_until=date(2025, 2, 20))}, "churn.yml"
    )
    assert as_dates.split == parse_spec({**SPEC, "split": calendar()}, "churn.yml").split
    with pytest.raises(SpecError, match=r"split\.train_until: expected a date"):
        parse_spec({**SPEC, "split": calendar(train_until=datetime(2025, 1, 31))}, "churn.yml")


def test_known_at_is_for_binary_labels_only() -> None:
    data = {
        **SPEC,
        "task": "regression",
        "label": {"column": "x2", "maturity_days": 0, "known_at": "event_at"},
    }
    with pytest.raises(SpecError, match=r"label\.known_at: only a binary label"):
        parse_spec(data, "churn.yml")
