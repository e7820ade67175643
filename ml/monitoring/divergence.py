"""Distances between two binned distributions given as counts over the same bins."""

from __future__ import annotations

import numpy as np

# A bin empty on one side would make PSI infinite; shares are floored at this value first.
EPSILON = 1e-4


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    if total <= 0:
        raise ValueError("an empty distribution has no shares")
    return counts / total


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index: sum over bins of (a - e) * ln(a / e), shares floored at EPSILON."""
    e = np.maximum(_shares(np.asarray(expected, dtype=np.float64)), EPSILON)
    a = np.maximum(_shares(np.asarray(actual, dtype=np.float64)), EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon(expected: np.ndarray, actual: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits: 0 for identical shares, 1 for disjoint ones."""
    p = _shares(np.asarray(expected, dtype=np.float64))
    q = _shares(np.asarray(actual, dtype=np.float64))
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return max(0.0, (kl(p) + kl(q)) / 2)
