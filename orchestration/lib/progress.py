"""A run as a person reads it: one line per finished step, then what the run left behind.

The lines are made from the run's events in the Dagster instance (the same records the UI shows):
per step its seconds, the tables it wrote and their rows, and its checks passed, warned (with the
check's summary) and failed; for a failed step the error, and the failed checks by name. Dagster's
full event stream goes to a log file instead (orchestration/run.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dagster import AssetCheckSeverity, DagsterEventType, EventLogEntry

# What the progress view reads; every other event is only in the log file.
EVENT_TYPES = {
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
    DagsterEventType.STEP_UP_FOR_RETRY,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
}
ERROR_LINES = 12


@dataclass
class StepTally:
    # asset -> its rows (None: not a table); a range run materializes a partitioned asset once per
    # day, each event with the whole table's rows, so an asset counts once, with its last count
    assets: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    passed: int = 0
    warned: list[str] = field(default_factory=list)  # failed checks of severity WARN, with why
    failed: list[str] = field(default_factory=list)

    def add(self, entry: EventLogEntry) -> None:
        materialization = entry.asset_materialization
        if materialization is None:
            return
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        rows = metadata.get("dagster/row_count")
        self.assets[materialization.asset_key.to_user_string()] = None if rows is None else int(rows)
        if "version" in metadata and "promoted" in metadata:  # a training step: what it registered
            role = "champion" if metadata["promoted"] else "challenger"
            kept = "" if metadata.get("retrained", True) else ", not retrained: same spec, rows and code"
            self.notes.append(f"v{metadata['version']} {role}{kept}")

    def describe(self) -> str:
        tables = [rows for rows in self.assets.values() if rows is not None]
        parts = list(self.notes)
        if tables:
            parts.append(f"{len(tables)} table{'s' if len(tables) != 1 else ''}, {sum(tables):,} rows")
        if self.passed or self.warned or self.failed:
            warned = f", {len(self.warned)} warned" if self.warned else ""
            parts.append(f"checks {self.passed} passed{warned}, {len(self.failed)} failed")
        return "; ".join(parts)


def _error_text(entry: EventLogEntry) -> str:
    error = getattr(entry.dagster_event.event_specific_data, "error", None)
    if error is None:
        return entry.user_message or ""
    # the root cause, not Dagster's wrapper: the last error of the chain
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


@dataclass
class Progress:
    """Turns event log entries into progress lines, written with `emit`."""

    emit: Callable[[str], None]
    steps: dict[str, StepTally] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    succeeded: bool = False

    def handle(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            return
        step = event.step_key or ""
        tally = self.steps.setdefault(step, StepTally())
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            tally.add(entry)
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            check = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                tally.passed += 1
            elif evaluation.severity == AssetCheckSeverity.WARN:
                summary = evaluation.metadata.get("summary")
                tally.warned.append(check + (f" ({summary.value})" if summary is not None else ""))
            else:
                tally.failed.append(check)
        elif kind == DagsterEventType.STEP_SUCCESS:
            self._step_line("ok", step, event.event_specific_data.duration_ms / 1000, tally)
        elif kind == DagsterEventType.STEP_FAILURE:
            self._step_line("FAILED", step, None, tally)
            error = _error_text(entry)
            self.failures.append(f"{step}: {error.splitlines()[0] if error else 'failed'}")
            for line in error.splitlines()[:ERROR_LINES]:
                self.emit(f"           {line}")
        elif kind == DagsterEventType.STEP_UP_FOR_RETRY:
            self.emit(f"  retry    {step}: {_error_text(entry).splitlines()[0]}")
        elif kind == DagsterEventType.STEP_SKIPPED:
            self.emit(f"  skipped  {step} (an upstream step failed or a blocking check did not pass)")
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            self.succeeded = kind == DagsterEventType.RUN_SUCCESS

    def _step_line(self, status: str, step: str, seconds: float | None, tally: StepTally) -> None:
        took = f"{seconds:7.1f} s" if seconds is not None else " " * 9
        details = tally.describe()
        self.emit(f"  {status:<8} {step:<34} {took}  {details}".rstrip())
        for check in tally.warned:  # a warning does not fail the run: said, not counted as a failure
            self.emit(f"           check warned: {check}")
        for check in tally.failed:
            self.emit(f"           check failed: {check}")
            self.failures.append(f"check failed: {check}")
