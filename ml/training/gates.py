"""The promotion gate: absolute floors from the spec, then no worse than the champion (within the
spec's margin) on the same out-of-time window."""

from __future__ import annotations

from dataclasses import dataclass

from ml.specs import METRIC_DIRECTIONS, ModelSpec


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "passed every gate"


def evaluate_gates(spec: ModelSpec, candidate: dict, champion: dict | None) -> GateResult:
    """`candidate` and `champion` are metric dicts computed on the same rows."""
    directions = METRIC_DIRECTIONS[spec.task]
    failures: list[str] = []
    for metric, floor in spec.gates.floors.items():
        value = candidate[metric]
        ok = value >= floor if directions[metric] else value <= floor
        if not ok:
            failures.append(
                f"{metric} {value:.4f} {'below' if directions[metric] else 'above'} floor {floor}"
            )
    if champion is not None:
        for metric, margin in spec.gates.champion_margin.items():
            new, old = candidate[metric], champion[metric]
            ok = new >= old - margin if directions[metric] else new <= old + margin
            if not ok:
                failures.append(f"{metric} {new:.4f} worse than champion {old:.4f} by more than {margin}")
    return GateResult(passed=not failures, reasons=tuple(failures))
