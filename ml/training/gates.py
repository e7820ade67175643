"""The promotion gate: absolute floors from the spec, then no worse than the champion (within the
spec's margin) on the same out-of-time window, and no more unequal across segments than the spec's
fairness limit allows, or than the champion by more than its margin."""

from __future__ import annotations

from dataclasses import dataclass

from ml.segments import Disparity, fairness_failures
from ml.specs import METRIC_DIRECTIONS, ModelSpec


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "passed every gate"


def evaluate_gates(
    spec: ModelSpec,
    candidate: dict,
    champion: dict | None,
    candidate_disparity: Disparity | None = None,
    champion_disparity: Disparity | None = None,
) -> GateResult:
    """`candidate` and `champion` are metric dicts computed on the same rows, and so are their worst
    disparities across the spec's segments (ml/segments.py)."""
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
    failures += fairness_failures(spec, candidate_disparity, champion_disparity)
    return GateResult(passed=not failures, reasons=tuple(failures))
