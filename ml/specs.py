"""Model specs: one YAML file per model, parsed and validated into frozen, typed dataclasses.

Every error names the file and the field (for example ``payment_fraud.yml: split.test_days: expected
an integer >= 1, got 'x'``). Model-specific knowledge lives in the YAML and the feature SQL; nothing
in this package knows what a model predicts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import yaml

from ml.errors import SpecError
from ml.identifiers import is_identifier

Task = Literal["binary", "regression"]
REASON_METHODS = ("tree_shap", "path")
TASKS: tuple[str, ...] = ("binary", "regression")
# Metrics a gate may name, and whether larger is better.
METRIC_DIRECTIONS: dict[str, dict[str, bool]] = {
    "binary": {
        "auc_pr": True,
        "auc_roc": True,
        "log_loss": False,
        "brier": False,
        "recall_at_precision_90": True,
    },
    "regression": {"wape": False, "mae": False, "rmse": False, "abs_bias": False},
}
SPEC_DIR = Path(__file__).parent / "models"


@dataclass(frozen=True)
class LabelSpec:
    """What a row's outcome is and when it is known. A row is labelled once its event time plus
    `maturity_days` is at or before the training cutoff.

    binary: `column` is either the outcome (boolean, or an integer 0/1; null: not known, the row is
    not labelled) or the time the positive outcome became known (a timestamp; null: negative). With
    an outcome column, `known_at` may name the time it became known: an outcome known only after
    the cutoff counts as not seen then (negative), as a timestamp label does.
    regression: `column` is the target value (null: not known)."""

    column: str
    maturity_days: int
    known_at: str | None = None


@dataclass(frozen=True)
class FeatureSpec:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class LightGBMSpec:
    params: dict[str, Any]
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    seed: int = 7
    num_threads: int = 2
    # "local": one process (lightgbm.train); "dask": LightGBM's Dask interface on a dask.distributed
    # cluster (ml/training/distributed.py), `workers` local workers unless an address is configured
    engine: str = "local"
    workers: int = 2


ENGINES = ("local", "dask")


@dataclass(frozen=True)
class SplitSpec:
    """Matured rows are split by event time into train, validation (early stopping, calibration,
    threshold) and an out-of-time test window, in one of two ways:

    - relative: the cutoff is the latest event (with a known outcome, for regression) minus
      `cutoff_days_before_latest`; the test window is the `test_days` before the labels' maturity,
      validation the `validation_days` before it, train everything before (or `train_days`);
    - calendar: train up to the end of the day `train_until`, validation to `validation_until`,
      test to `test_until`; the cutoff is `test_until` plus the labels' maturity, and the data must
      reach it.
    """

    cutoff_days_before_latest: int = 0
    validation_days: int | None = None
    test_days: int | None = None
    train_days: int | None = None
    train_until: date | None = None
    validation_until: date | None = None
    test_until: date | None = None

    @property
    def is_calendar(self) -> bool:
        return self.test_until is not None


@dataclass(frozen=True)
class GateSpec:
    floors: dict[str, float] = field(default_factory=dict)
    champion_margin: dict[str, float] = field(default_factory=dict)


# the disparities a segment is judged on, per task: a rate of the segment against the same rate of all
# rows (ml/segments.py)
DISPARITY_METRICS = {
    "binary": ("false_positive_rate", "flag_rate"),
    "regression": ("wape",),
}


@dataclass(frozen=True)
class FairnessSpec:
    """Unequal treatment across segments, checked by the promotion gate on the test window: each
    segment's `metrics` (a false-positive or flag rate, a WAPE) against all rows', as a ratio in
    the direction that harms the segment. A version whose worst disparity over segments of at least
    `min_rows` rows exceeds `max_disparity`, or exceeds the champion's on the same rows by more than
    the fraction `champion_margin` of it, is refused. Segments are the values of `segments` columns
    and, for a numeric column in `bands`, the bands between its edges."""

    segments: tuple[str, ...] = ()
    bands: dict[str, tuple[float, ...]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    max_disparity: float = 2.0
    champion_margin: float = 0.25
    min_rows: int = 300

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.segments, *self.bands)


@dataclass(frozen=True)
class ScoringSpec:
    """Which rows are scored: all of them; those in the `next_days` after the cutoff; or `daily`,
    by the landing day in `day_column` (the scoring asset is then daily-partitioned, and a run
    replaces the scores of its days only)."""

    window: Literal["all", "next_days", "daily"] = "all"
    next_days: int | None = None
    day_column: str | None = None


@dataclass(frozen=True)
class OutputSpec:
    table: str
    score_column: str


# Metrics `ml.model_performance_daily` holds per day of matured events, and whether larger is better.
# what a binary model's performance estimate before its labels mature has (ml/monitoring/estimated.py)
ESTIMATED_METRICS = ("auc_pr", "precision_at_threshold", "recall_at_threshold")
PERFORMANCE_DIRECTIONS: dict[str, dict[str, bool]] = {
    "binary": {"auc_pr": True, "auc_roc": True, "recall_at_threshold": True, "brier": False},
    "regression": {"wape": False, "abs_bias": False},
}


@dataclass(frozen=True)
class MonitoringSpec:
    """Drift of every scored window against the baseline stored with the model version (PSI warns
    at `psi_warn`, fails at `psi_fail`; a window under `min_sample` rows is reported, not judged),
    and performance once labels are final, pooled over the latest `performance_days` matured days,
    against `performance_floors` (default: the gate's floors). `exclude` names features whose
    distribution moves by design (calendar positions), kept out of the drift check. `seasonal` names
    numeric features whose level follows the season: each is judged on its PSI beyond what it moved
    between comparable periods of its history (ml/monitoring/seasonal.py), counted from
    `seasonal_warmup_days` after the first event (the days a trailing feature needs to be complete).
    A binary model's performance is also estimated from its calibrated scores before the labels
    mature (ml/monitoring/estimated.py) and judged against `estimated_floors`, unless on the latest
    matured days the estimate was off by more than `estimation_tolerance`."""

    psi_warn: float = 0.1
    psi_fail: float = 0.25
    bins: int = 10
    min_sample: int = 200
    exclude: tuple[str, ...] = ()
    seasonal: tuple[str, ...] = ()
    seasonal_warmup_days: int = 0
    performance_days: int = 14
    performance_floors: dict[str, float] = field(default_factory=dict)
    estimated_floors: dict[str, float] = field(default_factory=dict)
    estimation_tolerance: float = 0.1
    # a failing check retrains only once the warehouse has moved this many days past the newest
    # training run's data: no retraining loop on unchanged data
    retrain_cooldown_days: int = 7


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    task: Task
    features_relation: str
    entity_key: tuple[str, ...]
    event_timestamp: str
    label: LabelSpec
    features: FeatureSpec
    lightgbm: LightGBMSpec
    split: SplitSpec
    gates: GateSpec
    output: OutputSpec
    scoring: ScoringSpec = field(default_factory=ScoringSpec)
    monitoring: MonitoringSpec = field(default_factory=MonitoringSpec)
    fairness: FairnessSpec = field(default_factory=FairnessSpec)
    sample_filter: str | None = None
    baseline_column: str | None = None
    calibration: Literal["none", "platt"] = "none"
    operating_precision: float | None = None
    reason_codes: int = 3
    # how reason codes credit features: exact TreeSHAP, or path attribution (ml/scoring/attribution.py)
    reason_method: Literal["tree_shap", "path"] = "tree_shap"
    # the business the model belongs to (ml/domains.py): its tables are built only when it is on
    domain: str = "retail"
    source_path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def spec_hash(self) -> str:
        """SHA-256 of the spec's content (key order independent)."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    @property
    def backtest_table(self) -> str:
        schema, _ = self.output.table.split(".")
        return f"{schema}.{self.name}_backtest"


class _Section:
    """Reads one mapping of a spec, recording which keys were used; errors name file and field."""

    def __init__(self, data: object, where: str, path: str) -> None:
        if not isinstance(data, dict):
            raise SpecError(f"{path}: {where or 'spec'}: expected a mapping, got {type(data).__name__}")
        self.data, self.where, self.path, self.used = data, where, path, set()

    def _field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def error(self, key: str, message: str) -> SpecError:
        return SpecError(f"{self.path}: {self._field(key)}: {message}")

    def get(
        self, key: str, kind: type | tuple[type, ...], default: Any = ..., check=None, hint: str = ""
    ) -> Any:
        self.used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise self.error(key, "is required")
            return default
        value = self.data[key]
        ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in _as_tuple(kind))
        if not ok or (check is not None and not check(value)):
            expected = hint or " or ".join(k.__name__ for k in _as_tuple(kind))
            raise self.error(key, f"expected {expected}, got {value!r}")
        return value

    def identifier(self, key: str, default: Any = ...) -> Any:
        return self.get(key, str, default, is_identifier, "a lower-case SQL identifier")

    def identifiers(self, key: str, default: Any = ...) -> tuple[str, ...]:
        values = self.get(key, list, default, hint="a list of lower-case SQL identifiers")
        if values is default:
            return default
        for value in values:
            if not is_identifier(value):
                raise self.error(key, f"expected lower-case SQL identifiers, got {value!r}")
        if len(set(values)) != len(values):
            raise self.error(key, f"has duplicates: {values}")
        return tuple(values)

    def section(self, key: str, default: Any = ...) -> _Section:
        value = self.get(key, dict, {} if default is not ... else ...)
        return _Section(value, self._field(key), self.path)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise SpecError(f"{self.path}: {self.where or 'spec'}: unknown keys {unknown}")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _positive(value: int) -> bool:
    return value >= 1


def _relation(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 2 and all(is_identifier(p) for p in parts)


def parse_spec(data: object, path: str) -> ModelSpec:
    """Validate a parsed YAML document into a ModelSpec; `path` is used in error messages."""
    top = _Section(data, "", path)
    name = top.identifier("name")
    if Path(path).suffix in {".yml", ".yaml"} and Path(path).stem != name:
        raise top.error("name", f"must match the file name {Path(path).stem!r}, got {name!r}")
    task = top.get("task", str, check=lambda v: v in TASKS, hint=f"one of {list(TASKS)}")

    label_s = top.section("label")
    label = LabelSpec(
        column=label_s.identifier("column"),
        maturity_days=label_s.get("maturity_days", int, check=lambda v: v >= 0, hint="an integer >= 0"),
        known_at=label_s.identifier("known_at", None),
    )
    label_s.finish()
    if label.known_at is not None and task != "binary":
        raise label_s.error("known_at", "only a binary label has a time it became known")

    features_s = top.section("features")
    features = FeatureSpec(
        numeric=features_s.identifiers("numeric", ()),
        categorical=features_s.identifiers("categorical", ()),
    )
    features_s.finish()
    if not features.names:
        raise features_s.error("numeric", "at least one feature is required")
    if set(features.numeric) & set(features.categorical):
        raise features_s.error(
            "categorical", f"listed as numeric too: {set(features.numeric) & set(features.categorical)}"
        )

    lgb_s = top.section("lightgbm")
    lightgbm = LightGBMSpec(
        params=lgb_s.get("params", dict, {}),
        num_boost_round=lgb_s.get("num_boost_round", int, 1000, _positive, "an integer >= 1"),
        early_stopping_rounds=lgb_s.get("early_stopping_rounds", int, 50, _positive, "an integer >= 1"),
        seed=lgb_s.get("seed", int, 7),
        num_threads=lgb_s.get("num_threads", int, 2, _positive, "an integer >= 1"),
        engine=lgb_s.get("engine", str, "local", ENGINES.__contains__, " or ".join(ENGINES)),
        workers=lgb_s.get("workers", int, 2, _positive, "an integer >= 1"),
    )
    lgb_s.finish()
    reserved = {"seed", "deterministic", "num_threads", "verbose", "categorical_feature"}
    if reserved & set(lightgbm.params):
        raise lgb_s.error(
            "params", f"may not set {sorted(reserved & set(lightgbm.params))} (set by the trainer)"
        )

    split = _parse_split(top.section("split"))

    gates_s = top.section("gates", {})
    known = METRIC_DIRECTIONS[task]

    def metric_map(key: str) -> dict[str, float]:
        values = gates_s.get(key, dict, {})
        for metric, threshold in values.items():
            if metric not in known:
                raise gates_s.error(
                    key, f"unknown metric {metric!r} for task {task} (known: {sorted(known)})"
                )
            if not isinstance(threshold, int | float) or isinstance(threshold, bool):
                raise gates_s.error(f"{key}.{metric}", f"expected a number, got {threshold!r}")
        return {m: float(v) for m, v in values.items()}

    gates = GateSpec(floors=metric_map("floors"), champion_margin=metric_map("champion_margin"))
    gates_s.finish()

    output_s = top.section("output")
    output = OutputSpec(
        table=output_s.get("table", str, check=_relation, hint="schema.table of SQL identifiers"),
        score_column=output_s.identifier("score_column"),
    )
    output_s.finish()

    scoring_s = top.section("scoring", {})
    window = scoring_s.get(
        "window", str, "all", lambda v: v in ("all", "next_days", "daily"), "'all', 'next_days' or 'daily'"
    )
    scoring = ScoringSpec(
        window=window,
        next_days=scoring_s.get(
            "next_days", int, ... if window == "next_days" else None, _positive, "an integer >= 1"
        ),
        day_column=scoring_s.identifier("day_column", ... if window == "daily" else None),
    )
    scoring_s.finish()

    monitoring = _parse_monitoring(top.section("monitoring", {}), task, features, gates)

    calibration = top.get("calibration", str, "none", lambda v: v in ("none", "platt"), "'none' or 'platt'")
    if calibration != "none" and task != "binary":
        raise top.error("calibration", "only binary models are calibrated")
    operating_precision = top.get(
        "operating_precision", float, None, lambda v: 0 < v < 1, "a number between 0 and 1"
    )
    if operating_precision is not None and task != "binary":
        raise top.error("operating_precision", "only binary models have an operating point")

    spec = ModelSpec(
        name=name,
        description=top.get("description", str),
        task=task,
        features_relation=top.get(
            "features_relation", str, check=_relation, hint="schema.table of SQL identifiers"
        ),
        entity_key=top.identifiers("entity_key"),
        event_timestamp=top.identifier("event_timestamp"),
        label=label,
        features=features,
        lightgbm=lightgbm,
        split=split,
        gates=gates,
        output=output,
        scoring=scoring,
        monitoring=monitoring,
        fairness=_parse_fairness(top.section("fairness", {}), task, features),
        sample_filter=top.identifier("sample_filter", None),
        baseline_column=top.identifier("baseline_column", None),
        calibration=calibration,
        operating_precision=operating_precision,
        reason_codes=top.get("reason_codes", int, 3, lambda v: 0 <= v <= 10, "an integer in 0..10"),
        reason_method=top.get(
            "reason_method", str, "tree_shap", lambda v: v in REASON_METHODS, "'tree_shap' or 'path'"
        ),
        domain=top.get("domain", str, "retail", lambda v: v.isidentifier(), "a domain's folder name"),
        source_path=path,
        raw=data,
    )
    top.finish()
    if not spec.entity_key:
        raise top.error("entity_key", "at least one key column is required")
    clash = set(spec.features.names) & {
        spec.label.column,
        spec.label.known_at,
        spec.event_timestamp,
        spec.sample_filter,
    }
    if clash:
        raise top.error(
            "features", f"features may not include the timestamp, label or filter: {sorted(clash)}"
        )
    return spec


RELATIVE_SPLIT = ("cutoff_days_before_latest", "validation_days", "test_days", "train_days")
CALENDAR_SPLIT = ("train_until", "validation_until", "test_until")


def _parse_split(section: _Section) -> SplitSpec:
    """Relative days or calendar dates, not both; every field checked, named on a mistake."""
    calendar = [key for key in CALENDAR_SPLIT if key in section.data]
    if not calendar:
        split = SplitSpec(
            cutoff_days_before_latest=section.get(
                "cutoff_days_before_latest", int, 0, lambda v: v >= 0, "an integer >= 0"
            ),
            validation_days=section.get("validation_days", int, check=_positive, hint="an integer >= 1"),
            test_days=section.get("test_days", int, check=_positive, hint="an integer >= 1"),
            train_days=section.get("train_days", int, None, _positive, "an integer >= 1"),
        )
        section.finish()
        return split
    relative = [key for key in RELATIVE_SPLIT if key in section.data]
    if relative:
        raise section.error(relative[0], f"relative days cannot be mixed with calendar dates {calendar}")
    dates = {key: _date(section, key) for key in CALENDAR_SPLIT}
    for earlier, later in pairwise(CALENDAR_SPLIT):
        if dates[later] <= dates[earlier]:
            raise section.error(later, f"must be after {earlier} ({dates[earlier]}), got {dates[later]}")
    section.finish()
    return SplitSpec(**dates)


def _date(section: _Section, key: str) -> date:
    """A calendar date: YAML's own (2025-06-30) or an ISO string."""
    value = section.get(key, (date, str), hint="a date (YYYY-MM-DD)")
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise section.error(key, f"expected a date (YYYY-MM-DD), got {value!r}") from None
    if type(value) is not date:  # a datetime is not a calendar day
        raise section.error(key, f"expected a date (YYYY-MM-DD), got {value!r}")
    return value


def _parse_monitoring(section: _Section, task: str, features: FeatureSpec, gates: GateSpec) -> MonitoringSpec:
    def unit(value: float) -> bool:
        # YAML gives an int for "1"; bool is an int too and is refused by `get`
        return 0 < value <= 10

    psi_warn = float(section.get("psi_warn", (int, float), 0.1, unit, "a number in (0, 10]"))
    psi_fail = float(section.get("psi_fail", (int, float), 0.25, unit, "a number in (0, 10]"))
    if psi_fail < psi_warn:
        raise section.error("psi_fail", f"must be >= psi_warn ({psi_warn}), got {psi_fail}")
    exclude = section.identifiers("exclude", ())
    unknown = sorted(set(exclude) - set(features.names))
    if unknown:
        raise section.error("exclude", f"not features of this model: {unknown}")
    seasonal = section.identifiers("seasonal", ())
    not_numeric = sorted(set(seasonal) - set(features.numeric))
    if not_numeric:
        raise section.error("seasonal", f"not numeric features of this model: {not_numeric}")
    known = PERFORMANCE_DIRECTIONS[task]
    floors = section.get("performance_floors", dict, None)
    if floors is None:
        floors = {metric: value for metric, value in gates.floors.items() if metric in known}
    for metric, value in floors.items():
        if metric not in known:
            raise section.error(
                "performance_floors", f"unknown metric {metric!r} for task {task} (known: {sorted(known)})"
            )
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise section.error(f"performance_floors.{metric}", f"expected a number, got {value!r}")
    estimated_floors = section.get("estimated_floors", dict, {})
    for metric, value in estimated_floors.items():
        if task != "binary" or metric not in ESTIMATED_METRICS:
            raise section.error(
                "estimated_floors",
                f"{metric!r}: a binary model's estimate has {list(ESTIMATED_METRICS)}; a regression has none",
            )
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise section.error(f"estimated_floors.{metric}", f"expected a number in [0, 1], got {value!r}")
    spec = MonitoringSpec(
        psi_warn=psi_warn,
        psi_fail=psi_fail,
        bins=section.get("bins", int, 10, lambda v: 2 <= v <= 100, "an integer in 2..100"),
        min_sample=section.get("min_sample", int, 200, _positive, "an integer >= 1"),
        exclude=exclude,
        seasonal=seasonal,
        seasonal_warmup_days=section.get("seasonal_warmup_days", int, 0, lambda v: v >= 0, "an integer >= 0"),
        performance_days=section.get("performance_days", int, 14, _positive, "an integer >= 1"),
        performance_floors={metric: float(value) for metric, value in floors.items()},
        estimated_floors={metric: float(value) for metric, value in estimated_floors.items()},
        estimation_tolerance=float(
            section.get("estimation_tolerance", (int, float), 0.1, lambda v: 0 < v <= 1, "a number in (0, 1]")
        ),
        retrain_cooldown_days=section.get(
            "retrain_cooldown_days", int, 7, lambda v: v >= 0, "an integer >= 0"
        ),
    )
    section.finish()
    return spec


def _parse_fairness(section: _Section, task: str, features: FeatureSpec) -> FairnessSpec:
    segments = section.identifiers("segments", ())
    unknown = sorted(set(segments) - set(features.names))
    if unknown:
        raise section.error("segments", f"not features of this model: {unknown}")
    bands: dict[str, tuple[float, ...]] = {}
    for column, edges in section.get("bands", dict, {}).items():
        if column not in features.numeric:
            raise section.error("bands", f"{column!r} is not a numeric feature of this model")
        numbers = edges if isinstance(edges, list) else []
        if not numbers or any(isinstance(e, bool) or not isinstance(e, int | float) for e in numbers):
            raise section.error(f"bands.{column}", f"expected a list of numbers, got {edges!r}")
        if list(numbers) != sorted(set(numbers)):
            raise section.error(f"bands.{column}", f"edges must increase, got {edges!r}")
        bands[column] = tuple(float(e) for e in numbers)
    known = DISPARITY_METRICS[task]
    metrics = section.identifiers("metrics", known[:1])
    if set(metrics) - set(known):
        unknown_metrics = sorted(set(metrics) - set(known))
        raise section.error("metrics", f"{unknown_metrics}: a {task} model has {list(known)}")
    spec = FairnessSpec(
        segments=segments,
        bands=bands,
        metrics=metrics,
        max_disparity=float(
            section.get("max_disparity", (int, float), 2.0, lambda v: v > 1, "a number above 1")
        ),
        champion_margin=float(
            section.get("champion_margin", (int, float), 0.25, lambda v: v >= 0, "a number >= 0")
        ),
        min_rows=section.get("min_rows", int, 300, _positive, "an integer >= 1"),
    )
    section.finish()
    return spec


def load_spec(path: Path) -> ModelSpec:
    """Parse one spec file (YAML loaded safely)."""
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path.name}: not valid YAML: {exc}") from exc
    return parse_spec(data, path.name)


def load_specs(directory: Path | None = None) -> dict[str, ModelSpec]:
    """Every spec in a directory (default: MODEL_SPECS_DIR, else ml/models), by model name, in name
    order. A directory without specs is an error, not an empty graph."""
    from ml.settings import specs_dir

    directory = directory or specs_dir()
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise SpecError(f"no model specs (*.yml) in {directory}")
    specs = [load_spec(path) for path in paths]
    return {spec.name: spec for spec in specs}


def specs_of(specs: dict[str, ModelSpec], domains: tuple[str, ...]) -> dict[str, ModelSpec]:
    """The specs of the given domains (those that run: ml.domains.active)."""
    return {name: spec for name, spec in specs.items() if spec.domain in domains}
