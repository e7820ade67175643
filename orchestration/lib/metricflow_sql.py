"""The semantic layer's SQL: MetricFlow compiles a metric query, or a saved query's export, into
one DuckDB statement, from the semantic manifest dbt writes when it parses the project
(`<target>/semantic_manifest.json`, the metrics of warehouse/models/semantic/).

MetricFlow is used here as a compiler only: it never connects anywhere. The caller runs the SQL on
the DuckDB connection it already holds (the publish candidate, a test's file), and names the
catalog the semantic models' tables live in, because the manifest records the build file's
(`warehouse`) and the published file has another."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metricflow.engine.metricflow_engine import MetricFlowEngine, MetricFlowQueryRequest
from metricflow.protocols.sql_client import SqlEngine
from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer
from metricflow.sql.render.sql_plan_renderer import SqlPlanRenderer
from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup
from metricflow_semantics.sql.sql_bind_parameters import SqlBindParameterSet

SEMANTIC_MANIFEST = "semantic_manifest.json"


class SemanticLayerError(RuntimeError):
    """The semantic manifest is missing, or a query cannot be compiled."""


@dataclass(frozen=True)
class MetricExport:
    """A saved query's export: the table it becomes and the SQL that fills it."""

    saved_query: str
    schema: str
    table: str
    sql: str


class _CompileOnlyClient:
    """MetricFlow's SqlClient protocol for DuckDB's dialect, without a connection: `explain` needs
    the engine type and the renderer; nothing here executes."""

    sql_engine_type = SqlEngine.DUCKDB
    sql_plan_renderer: SqlPlanRenderer = DuckDbSqlPlanRenderer()

    def query(self, stmt: str, sql_bind_parameter_set: SqlBindParameterSet | None = None) -> None:
        raise SemanticLayerError("the semantic layer compiles SQL only; run it on your own connection")

    execute = dry_run = query

    def close(self) -> None:
        return None

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


def _relocated(manifest: dict, database: str) -> dict:
    """The manifest with every table (semantic models, time spines) in catalog `database`."""

    def move(relation: dict) -> None:
        relation["database"] = database
        relation["relation_name"] = f'"{database}"."{relation["schema_name"]}"."{relation["alias"]}"'

    for model in manifest["semantic_models"]:
        move(model["node_relation"])
    config = manifest["project_configuration"]
    for spine in config.get("time_spines", []):
        move(spine["node_relation"])
    for spine in config.get("time_spine_table_configurations", []):
        spine["location"] = f'"{database}".{spine["location"].split(".", 1)[-1]}'
    return manifest


class SemanticLayer:
    """The project's metrics, compiled for the tables in one DuckDB catalog."""

    def __init__(self, dbt_target: Path, database: str) -> None:
        path = dbt_target / SEMANTIC_MANIFEST
        if not path.is_file():
            raise SemanticLayerError(f"{path} is missing: run `dbt parse` in warehouse/ to write it")
        manifest = _relocated(json.loads(path.read_text()), database)
        self._manifest = parse_manifest_from_dbt_generated_manifest(json.dumps(manifest))
        self._engine = MetricFlowEngine(
            semantic_manifest_lookup=SemanticManifestLookup(self._manifest),
            sql_client=_CompileOnlyClient(),
        )

    def metric_names(self) -> list[str]:
        return sorted(metric.name for metric in self._manifest.metrics)

    def compile(self, metrics: Sequence[str], group_by: Sequence[str] = ()) -> str:
        """SQL for `metrics` grouped by `group_by` (MetricFlow's names: metric_time__week, store)."""
        request = MetricFlowQueryRequest.create(metric_names=list(metrics), group_by_names=list(group_by))
        return self._explain(request, f"metrics {', '.join(metrics)}")

    def exports(self) -> list[MetricExport]:
        """Every saved query's exports, in name order."""
        found = []
        for saved in sorted(self._manifest.saved_queries, key=lambda query: query.name):
            if not saved.exports:
                continue
            sql = self._explain(MetricFlowQueryRequest.create(saved_query_name=saved.name), saved.name)
            for export in saved.exports:
                schema = export.config.schema_name or "metrics"
                found.append(MetricExport(saved.name, schema, export.config.alias or export.name, sql))
        return found

    def _explain(self, request: MetricFlowQueryRequest, what: str) -> str:
        try:
            return self._engine.explain(request).sql_statement.sql
        except Exception as error:  # MetricFlow raises its own error classes for every bad query
            raise SemanticLayerError(f"MetricFlow cannot compile {what}: {error}") from error
