"""End to end on the default world: train, register, gate, score, and the marts that read the scores."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from evaluation.oracle import run_checks
from ml import registry
from ml.artifacts import load_artifact
from ml.errors import ArtifactError
from ml.specs import SPEC_DIR, parse_spec
from ml.training.run import run_training
from tests.conftest import REPO_ROOT
from tests.trained import TrainedWarehouse

pytestmark = pytest.mark.slow

MODELS = ("daily_demand", "payment_fraud")
FORECAST = (
    "select store_id, product_id, forecast_date, predicted_units from ml.daily_demand_scores order by 1, 2, 3"
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_both_models_have_a_registered_champion(trained_warehouse: TrainedWarehouse) -> None:
    rows = trained_warehouse.query("select model_name, version, alias from ml.model_aliases order by 1, 3")
    assert rows == [("daily_demand", 1, "champion"), ("payment_fraud", 1, "champion")]
    registered = trained_warehouse.query(
        "select model_name, train_rows, test_rows, data_fingerprint, artifact_hash, training_cutoff "
        "from ml.model_registry order by 1"
    )
    for name, train_rows, test_rows, fingerprint, artifact_hash, cutoff in registered:
        assert train_rows > 0 and test_rows > 0, name
        assert len(fingerprint) == len(artifact_hash) == 64
        assert cutoff is not None


def test_each_version_has_its_segments_measured_on_the_test_window(
    trained_warehouse: TrainedWarehouse,
) -> None:
    rows = trained_warehouse.query(
        "select model_name, segment_column, count(*), sum(rows), count(*) filter (where is_judged) "
        "from ml.segment_performance where model_version = 1 and scope = 'test' group by 1, 2 order by 1, 2"
    )
    test_rows = dict(trained_warehouse.query("select model_name, test_rows from ml.model_registry"))
    columns = {(name, column) for name, column, *_ in rows}
    assert columns == {
        ("daily_demand", "category_id"),
        ("daily_demand", "store_id"),
        ("payment_fraud", "account_age_days"),
        ("payment_fraud", "channel"),
        ("payment_fraud", "customer_country_code"),
    }
    # every test row is in exactly one segment of each column
    assert all(total == test_rows[name] for name, _, _, total, _ in rows), (rows, test_rows)
    worst = trained_warehouse.query(
        "select model_name, metrics->>'$.fairness.worst_segment' from ml.model_registry order by 1"
    )
    assert all(segment for _, segment in worst), worst


def test_scores_and_marts_are_built(trained_warehouse: TrainedWarehouse) -> None:
    for table in (
        "ml.payment_fraud_scores",
        "ml.daily_demand_scores",
        "marts.fraud_review_queue",
        "marts.demand_plan",
    ):
        assert trained_warehouse.scalar(f"select count(*) from {table}") > 0, table
    # the demand forecast covers the 14 days after the cutoff for every series
    days = trained_warehouse.scalar("select count(distinct forecast_date) from ml.daily_demand_scores")
    assert days == 14


def test_score_tables_match_the_dbt_source_contract(trained_warehouse: TrainedWarehouse) -> None:
    # dbt's source YAML is the contract of the ML outputs; the Python writer must produce exactly it.
    sources = yaml.safe_load((REPO_ROOT / "warehouse/models/staging/ml/_ml__sources.yml").read_text())
    for table in sources["sources"][0]["tables"]:
        declared = [(c["name"], c["data_type"].upper()) for c in table["columns"]]
        actual = trained_warehouse.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'ml' and table_name = ? order by ordinal_position",
            [table["name"]],
        )
        assert actual == declared, table["name"]


def test_quality_bar_against_the_oracle(trained_warehouse: TrainedWarehouse) -> None:
    checks = run_checks(trained_warehouse.env.database, trained_warehouse.oracle_dir)
    summary = [(c.name, c.reference_name, round(c.model, 4), round(c.reference, 4), c.passed) for c in checks]
    assert all(c.passed for c in checks), summary
    assert all(c.rows > 1000 for c in checks), summary


def test_review_queue_holds_flagged_payments_with_reasons(trained_warehouse: TrainedWarehouse) -> None:
    flagged = trained_warehouse.scalar("select count(*) from ml.payment_fraud_scores where is_flagged")
    assert trained_warehouse.scalar("select count(*) from marts.fraud_review_queue") == flagged > 0
    assert (
        trained_warehouse.scalar("select count(*) from marts.fraud_review_queue where reason_codes = ''") == 0
    )


def test_rescoring_replaces_never_duplicates(trained_warehouse: TrainedWarehouse, tmp_path: Path) -> None:
    env = trained_warehouse.copy_to(tmp_path)
    # an exact checksum: a float sum() is added in parallel in no fixed order, its last digit varies
    query = (
        "select count(*), count(distinct payment_id), sum(hash(payment_id, fraud_score)) "
        "from ml.payment_fraud_scores"
    )
    with duckdb.connect(str(env.database), read_only=True) as con:
        before = con.sql(query).fetchone()
    env.python("-m", "ml", "score", "payment_fraud")
    with duckdb.connect(str(env.database), read_only=True) as con:
        after = con.sql(query).fetchone()
    assert after == before and after[0] == after[1]


def test_scoring_landing_days_replaces_those_days_only(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    """A daily partition (or a range, in one pass) of the fraud scores: its days are replaced, the
    other days are untouched, and scoring the same days twice changes nothing."""
    from ml.scoring.batch import score
    from ml.specs import load_specs

    spec = load_specs()["payment_fraud"]
    env = trained_warehouse.copy_to(tmp_path)
    per_day = (
        "select loaded_on, count(*), count(distinct payment_id), "
        "sum(hash(payment_id, fraud_score, model_version)) from ml.payment_fraud_scores group by 1 order by 1"
    )
    with duckdb.connect(str(env.database)) as con:
        before = con.sql(per_day).fetchall()
        first, last = before[100][0], before[102][0]
        con.execute("delete from ml.payment_fraud_scores where loaded_on between ? and ?", [first, last])
        for _ in range(2):
            result = score(con, spec, env.models_dir, datetime(2026, 1, 1), days=(first, last))
            assert result.rows == sum(n for day, n, *_ in before if first <= day <= last)
            assert result.engine == "lightgbm"  # a few days are not worth compiling the forest
            assert con.sql(per_day).fetchall() == before
        empty = score(
            con, spec, env.models_dir, datetime(2026, 1, 1), days=(date(2030, 1, 1), date(2030, 1, 1))
        )
        assert empty.rows == 0 and con.sql(per_day).fetchall() == before


def test_training_again_on_the_same_rows_keeps_the_registered_version(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    """Same spec, training rows and code: nothing is trained, the registry does not grow."""
    env = trained_warehouse.copy_to(tmp_path)
    before = trained_warehouse.query("select * from ml.model_registry order by 1, 2")
    trained = env.python("-m", "ml", "train").stdout
    for name in MODELS:
        assert f"{name} v1 -> champion" in trained and "not retrained: v1 (champion)" in trained, trained
    with duckdb.connect(str(env.database), read_only=True) as con:
        after = con.sql("select * from ml.model_registry order by 1, 2").fetchall()
    assert [row[:2] for row in after] == [row[:2] for row in before]


def test_same_data_and_spec_give_byte_identical_models_and_scores(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    """Trained again from an empty registry: the same model bytes and the same scores."""
    env = trained_warehouse.copy_to(tmp_path)
    with duckdb.connect(str(env.database)) as con:
        first = dict(
            ((name, version), Path(path))
            for name, version, path in con.sql(
                "select model_name, version, artifact_path from ml.model_registry"
            ).fetchall()
        )
        con.execute("delete from ml.model_alias_history; delete from ml.model_registry")
    env.python("-m", "ml", "train")
    env.python("-m", "ml", "score")
    with duckdb.connect(str(env.database), read_only=True) as con:
        paths = dict(
            ((name, version), Path(path))
            for name, version, path in con.sql(
                "select model_name, version, artifact_path from ml.model_registry"
            ).fetchall()
        )
        assert sorted(paths) == [(name, 1) for name in MODELS]
        for name in MODELS:
            assert paths[(name, 1)] == Path(name) / "1"  # relative to the models directory
            original, again = trained_warehouse.env.models_dir, env.models_dir
            assert sha256(original / first[(name, 1)] / "model.txt") == sha256(
                again / paths[(name, 1)] / "model.txt"
            ), name
            assert registry.alias_version(con, name, "champion") == 1
        new_scores = con.sql(
            "select payment_id, fraud_score from ml.payment_fraud_scores order by 1"
        ).fetchall()
        new_forecast = con.sql(FORECAST).fetchall()
    assert new_scores == trained_warehouse.query(
        "select payment_id, fraud_score from ml.payment_fraud_scores order by 1"
    )
    assert new_forecast == trained_warehouse.query(FORECAST)


def test_gate_refuses_a_model_below_its_floor_and_scoring_keeps_the_champion(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    env = trained_warehouse.copy_to(tmp_path)
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    strict = copy.deepcopy(data)
    strict["gates"]["floors"]["auc_pr"] = 0.999
    spec = parse_spec(strict, "payment_fraud.yml")
    now = datetime(2030, 1, 1)
    with duckdb.connect(str(env.database)) as con:
        result = run_training(con, spec, env.models_dir, now)
        assert not result.promoted and "below floor 0.999" in result.gate.summary
        assert registry.alias_version(con, "payment_fraud", "champion") == 1
        assert registry.alias_version(con, "payment_fraud", "challenger") == 2
        refused = con.execute(
            "select version, reason from ml.model_alias_history "
            "where model_name = 'payment_fraud' and action = 'refused'"
        ).fetchall()
        assert refused == [(2, result.gate.summary)]
    # the refused version's report sets it against the champion on the same rows
    report = (env.models_dir / "payment_fraud" / "2" / "report.html").read_text()
    assert "<h2>Champion v1 on the same rows</h2>" in report
    assert 'alt="champion_vs_candidate_pr.png"' in report
    assert 'alt="champion_vs_candidate_calibration.png"' in report and "<h2>Across segments" in report
    assert "http" not in report  # self-contained
    env.python("-m", "ml", "score", "payment_fraud")
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql("select distinct model_version from ml.payment_fraud_scores").fetchall() == [(1,)]


def test_a_degraded_model_is_never_promoted_and_the_champions_scores_stay(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    """A spec change that cripples the model (only the hour of the payment left as a feature)."""
    env = trained_warehouse.copy_to(tmp_path)
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    data["features"] = {"numeric": ["paid_hour_utc"], "categorical": []}
    data["monitoring"]["exclude"] = []  # it names a feature this spec no longer has
    del data["fairness"]  # and so do its segments
    spec = parse_spec(data, "payment_fraud.yml")
    scores = "select count(*), sum(hash(payment_id, fraud_score, model_version)) from ml.payment_fraud_scores"
    with duckdb.connect(str(env.database)) as con:
        before = con.sql(scores).fetchone()
        result = run_training(con, spec, env.models_dir, datetime(2030, 1, 1))
        assert not result.promoted, result.metrics["test"]
        assert "below floor" in result.gate.summary and "worse than champion" in result.gate.summary
        assert registry.alias_version(con, "payment_fraud", "champion") == 1
        refused = "select count(*) from ml.model_alias_history where action = 'refused' and version = ?"
        assert con.execute(refused, [result.version]).fetchone() == (1,)
    env.python("-m", "ml", "score", "payment_fraud")
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql(scores).fetchone() == before


def test_rollback_restores_an_earlier_champion(trained_warehouse: TrainedWarehouse, tmp_path: Path) -> None:
    env = trained_warehouse.copy_to(tmp_path)
    with duckdb.connect(str(env.database), read_only=True) as con:
        v1_scores = con.sql(FORECAST).fetchall()
    # v2: a slightly different model (fewer leaves) that passes the gate and replaces the scores
    data = yaml.safe_load((SPEC_DIR / "daily_demand.yml").read_text())
    data["lightgbm"]["params"]["num_leaves"] = 47
    now = datetime.now(UTC).replace(tzinfo=None)  # before the rollback's own timestamp
    with duckdb.connect(str(env.database)) as con:
        assert run_training(con, parse_spec(data, "daily_demand.yml"), env.models_dir, now).promoted
    env.python("-m", "ml", "score", "daily_demand")
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql(FORECAST).fetchall() != v1_scores
    env.python("-m", "ml", "rollback", "daily_demand", "1", "--reason", "test rollback")
    env.python("-m", "ml", "score", "daily_demand")
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql(FORECAST).fetchall() == v1_scores  # the previous scores, exactly
        assert registry.alias_version(con, "daily_demand", "champion") == 1
        history = con.sql(
            "select version, action, changed_at from ml.model_alias_history "
            "where model_name = 'daily_demand' and alias = 'champion' order by changed_at"
        ).fetchall()
        assert [(v, a) for v, a, _ in history] == [(1, "set"), (2, "set"), (1, "rollback")]
        # which version was live at a given time is a question the history answers
        assert registry.live_version_at(con, "daily_demand", history[1][2] + timedelta(microseconds=1)) == 2
        assert registry.live_version_at(con, "daily_demand", history[0][2] - timedelta(days=1)) is None
        assert con.sql("select distinct model_version from ml.daily_demand_scores").fetchall() == [(1,)]


def test_artifacts_hold_model_card_and_plots_and_detect_tampering(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    env = trained_warehouse.copy_to(tmp_path)
    with duckdb.connect(str(env.database), read_only=True) as con:
        champion = registry.resolve(con, "payment_fraud")
    path = champion.artifact_dir(env.models_dir)
    for name in ("model.txt", "spec.yml", "metrics.json", "manifest.json", "card.md"):
        assert (path / name).is_file(), name
    assert {p.name for p in (path / "plots").glob("*.png")} >= {
        "pr_curve.png",
        "roc_curve.png",
        "calibration.png",
        "feature_importance.png",
    }
    card = (path / "card.md").read_text()
    assert "auc_pr" in card and "data fingerprint" in card and "Limitations" in card
    assert "## Across segments (test window)" in card and "| channel=online |" in card
    load_artifact(path, champion.artifact_hash)
    with (path / "model.txt").open("a") as handle:
        handle.write("\n")
    with pytest.raises(ArtifactError, match="was altered"):
        load_artifact(path, champion.artifact_hash)


def test_compiled_scoring_matches_lightgbm_in_the_table(
    trained_warehouse: TrainedWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole fraud window scored through the compiled forest and through LightGBM: the same
    rows, flags and reason codes, and scores within 1e-9."""
    from ml.scoring.batch import score
    from ml.specs import load_specs

    spec = load_specs()["payment_fraud"]
    env = trained_warehouse.copy_to(tmp_path)
    columns = "payment_id, fraud_score, is_flagged, reason_codes"
    tables = {}
    with duckdb.connect(str(env.database)) as con:
        for engine, setting in (("lleaves", "always"), ("lightgbm", "never")):
            monkeypatch.setenv("ML_COMPILED_SCORING", setting)
            assert score(con, spec, env.models_dir, datetime(2026, 1, 1)).engine == engine
            tables[engine] = con.sql(f"select {columns} from ml.payment_fraud_scores order by 1").fetchall()
    compiled, reference = tables["lleaves"], tables["lightgbm"]
    assert len(compiled) == len(reference) > 0
    assert max(abs(a[1] - b[1]) for a, b in zip(compiled, reference, strict=True)) <= 1e-9
    assert [(a[0], a[2], a[3]) for a in compiled] == [(b[0], b[2], b[3]) for b in reference]


def test_reason_method_is_taken_from_the_current_spec(
    trained_warehouse: TrainedWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The champion was trained with tree_shap; a spec now saying `reason_method: path` scores
    with path attribution (a scoring choice, unlike the features, which come from the artifact)."""
    from dataclasses import replace

    import ml.scoring.batch
    from ml.scoring.attribution import PathAttribution
    from ml.specs import load_specs

    spec = replace(load_specs()["payment_fraud"], reason_method="path")
    built, original = [], PathAttribution.from_booster

    def spy(booster):
        built.append(booster)
        return original(booster)

    monkeypatch.setattr(ml.scoring.batch.PathAttribution, "from_booster", spy)
    env = trained_warehouse.copy_to(tmp_path)
    with duckdb.connect(str(env.database)) as con:
        result = ml.scoring.batch.score(con, spec, env.models_dir, datetime(2026, 1, 1))
        coded = con.sql("select count(*) from ml.payment_fraud_scores where len(reason_codes) > 0").fetchone()
    assert result.flagged and built and coded[0] > 0


def test_the_backtest_reads_exactly_the_test_split(trained_warehouse: TrainedWarehouse) -> None:
    """The backtest loads the test window alone (its memory follows the window, not the history):
    the same rows, in the same order, as the test split of the training data."""
    from ml import registry
    from ml.dataset import load_labelled, load_test_window
    from ml.settings import RETAIL
    from ml.specs import load_specs, specs_of

    with duckdb.connect(str(trained_warehouse.env.database), read_only=True) as con:
        for spec in specs_of(load_specs(), (RETAIL,)).values():
            cutoff = registry.resolve(con, spec.name).training_cutoff
            test = load_labelled(con, spec, cutoff).part("test").drop("_split")
            window = load_test_window(con, spec, cutoff)
            assert window.height > 0 and window.equals(test), spec.name
