"""ML assets generated from the specs in ml/models/: per model a training asset (with the promotion
gate as a blocking check) and a scoring asset (with score sanity as a blocking check). A new spec
appears in the graph with no Python change."""

# no `from __future__ import annotations`: Dagster checks the context annotation at runtime
from datetime import UTC, datetime

import dagster as dg

from ml.identifiers import quote, quote_relation
from ml.specs import ModelSpec
from orchestration.defs.domains import dbt_environ, running_specs
from orchestration.defs.lock import LOCK_KEY
from orchestration.defs.settings import SETTINGS_KEY, WarehouseSettings
from orchestration.lib.engine import ml_connection
from orchestration.lib.partitions import LANDING_DAYS, SINGLE_RUN, partition_days
from orchestration.lib.translator import ML_GROUP, table_key

# DuckDB allows one writing process per file: a transient lock held by someone else is retried.
WRITER_RETRY = dg.RetryPolicy(max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL)
GATE_CHECK = "promotion_gate"
RETRAIN_REASON_TAG = "ml/retrain_reason"
SANITY_CHECK = "score_sanity"


def model_key(spec: ModelSpec) -> dg.AssetKey:
    return dg.AssetKey(["ml", f"{spec.name}_model"])


def scores_key(spec: ModelSpec) -> dg.AssetKey:
    return table_key(*spec.output.table.split("."))


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def numeric_metadata(values: dict, prefix: str = "") -> dict[str, float]:
    """The numbers of a metrics dict (not flags, not text) as float metadata, keys prefixed."""
    return {
        f"{prefix}{k}": float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


def training_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    key = model_key(spec)

    @dg.asset(
        key=key,
        deps=[table_key(*spec.features_relation.split("."))],
        group_name=ML_GROUP,
        kinds={"lightgbm", "python"},
        description=f"Trains, registers and gates {spec.name}: {spec.description.strip()}",
        check_specs=[
            dg.AssetCheckSpec(
                GATE_CHECK, asset=key, blocking=True, description="floors and champion comparison"
            )
        ],
        retry_policy=WRITER_RETRY,
        required_resource_keys={LOCK_KEY, SETTINGS_KEY},
        metadata={"spec": spec.source_path},
    )
    def train(context: dg.AssetExecutionContext):
        settings: WarehouseSettings = context.resources.settings
        from ml.training.run import run_training  # LightGBM and friends load when a run needs them

        # a run the retraining sensor started says why; the alias history keeps it with the gate's verdict
        trigger = context.run.tags.get(RETRAIN_REASON_TAG)
        with ml_connection(settings.paths, dbt_environ()) as con:
            result = run_training(
                con, spec, settings.models_dir, now_utc(), trigger=trigger, cluster=settings.dask_scheduler
            )
        card = (result.artifact_path / "card.md").read_text()
        role = "champion" if result.promoted else "challenger"
        if result.retrained:
            context.log.info(f"{spec.name} v{result.version}: {role}")
        else:
            context.log.info(f"{spec.name}: {result.gate.summary}")
        yield dg.MaterializeResult(
            metadata={
                "version": result.version,
                "promoted": result.promoted,
                "retrained": result.retrained,
                "gate": result.gate.summary,
                "training_cutoff": str(result.training_cutoff),
                "rows": dg.MetadataValue.json(result.rows),
                "artifact": dg.MetadataValue.path(str(result.artifact_path)),
                # (a version trained before reports existed has none)
                **(
                    {"report": dg.MetadataValue.path(str(report))}
                    if (report := result.artifact_path / "report.html").is_file()
                    else {}
                ),
                "model_card": dg.MetadataValue.md(card),
                **numeric_metadata(result.metrics["test"], "test/"),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=GATE_CHECK,
                    passed=result.promoted,
                    metadata={"version": result.version, "reasons": result.gate.summary},
                )
            ],
        )

    return train


def scoring_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    """Scores with the champion; a `daily` spec is partitioned by landing day, and a range of days
    is one scoring pass."""
    key = scores_key(spec)
    daily = spec.scoring.window == "daily"

    # Upstream of scoring: the champion and the features it scores. The features edge orders the
    # steps in jobs without training (daily_refresh): the features are rebuilt before they are scored.
    @dg.asset(
        key=key,
        deps=[model_key(spec), table_key(*spec.features_relation.split("."))],
        group_name=ML_GROUP,
        kinds={"duckdb", "python"},
        description=f"{spec.output.table}: {spec.name} scored by its champion.",
        check_specs=[
            dg.AssetCheckSpec(SANITY_CHECK, asset=key, blocking=True, description="no nulls, in range, rows")
        ],
        retry_policy=WRITER_RETRY,
        required_resource_keys={LOCK_KEY, SETTINGS_KEY},
        partitions_def=LANDING_DAYS if daily else None,
        backfill_policy=SINGLE_RUN if daily else None,
    )
    def score_table(context: dg.AssetExecutionContext):
        settings: WarehouseSettings = context.resources.settings
        from ml import registry
        from ml.scoring.batch import score

        days = partition_days(context) if daily else None
        if days:
            context.log.info(f"scoring landing days {days[0]} to {days[1]} in one pass")
        with ml_connection(settings.paths, dbt_environ()) as con:
            result = score(
                con, spec, settings.models_dir, now_utc(), days=days, cluster=settings.dask_scheduler
            )
            column, table = quote(spec.output.score_column), quote_relation(spec.output.table)
            nulls, low, high = con.execute(
                f"select count(*) filter (where {column} is null), min({column}), max({column}) from {table}"
            ).fetchone()
            champion = registry.resolve(con, spec.name).version
        upper = 1.0 if spec.task == "binary" else float("inf")
        in_range = low is not None and low >= 0.0 and high <= upper
        # a landing day without payments scores nothing; a whole window must score something
        passed = (result.rows > 0 or days is not None) and nulls == 0 and in_range
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "model_version": champion,
                "flagged": result.flagged if result.flagged is not None else 0,
                "backtest_rows": result.backtest_rows,
                "prediction_engine": result.engine,
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=SANITY_CHECK,
                    passed=passed,
                    metadata={
                        "rows": result.rows,
                        "nulls": nulls,
                        "min": float(low or 0),
                        "max": float(high or 0),
                    },
                )
            ],
        )

    return score_table


def ml_assets() -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    for spec in running_specs().values():
        assets += [training_asset(spec), scoring_asset(spec)]
    return assets
