"""Deterministic randomness: one generator per purpose and per day, plus a vectorized integer hash."""

from __future__ import annotations

from enum import IntEnum
from functools import lru_cache

import numpy as np


class Stream(IntEnum):
    """Purposes that own an independent random stream."""

    PRODUCTS = 1
    PROMOTIONS = 2
    CUSTOMERS = 3
    INSTRUMENTS = 4
    RINGS = 5
    DEMAND_SHAPE = 6
    DAY_DEMAND = 20
    DAY_ORDERS = 21
    DAY_CUSTOMERS = 22
    DAY_FRAUD = 23
    DAY_PAYMENTS = 24
    DAY_CHARGEBACKS = 25
    DAY_DEFECTS = 26
    DAY_REGIME_FRAUD = 27  # only drawn from when the regime change's fraud pattern is on


def rng_for(seed: int, stream: Stream, day_index: int = 0, *extra: int) -> np.random.Generator:
    """A generator that depends only on (seed, purpose, day, extra)."""
    return np.random.default_rng(np.random.SeedSequence([seed, int(stream), day_index, *extra]))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a bijection on uint64, so distinct inputs give distinct outputs."""
    z = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        z += _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@lru_cache(maxsize=1024)
def salt(seed: int, purpose: str) -> np.uint64:
    """A 64-bit salt derived from the seed and a purpose name."""
    words = np.random.SeedSequence([seed, *purpose.encode()]).generate_state(2, dtype=np.uint32)
    return np.uint64((int(words[0]) << 32) | int(words[1]))


def hashed(indices: np.ndarray, salt_value: np.uint64) -> np.ndarray:
    """Hash non-negative integer indices with a salt; injective in the index."""
    with np.errstate(over="ignore"):
        return splitmix64(indices.astype(np.uint64) + salt_value)
