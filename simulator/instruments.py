"""Payment instruments: cards and devices, growing registries exported on first use."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from simulator.ids import hex_ids, take_strings
from simulator.rng import hashed, salt
from simulator.tables import Batch, TsColumn, make_batch

BRANDS = ["visa", "mastercard", "amex"]
CARD_TYPES = ["credit", "debit"]
DEVICE_TYPES = ["mobile", "desktop", "tablet"]
OPERATING_SYSTEMS = ["iOS", "Android", "Windows", "macOS", "Linux", "iPadOS", "ChromeOS"]
# P(os | device type) over OPERATING_SYSTEMS, for ordinary and for fraudster devices.
_OS_GIVEN_TYPE = {
    False: np.array(
        [
            [0.55, 0.45, 0, 0, 0, 0, 0],
            [0, 0, 0.62, 0.3, 0.03, 0, 0.05],
            [0, 0.3, 0, 0, 0, 0.7, 0],
        ]
    ),
    True: np.array(
        [
            [0.2, 0.8, 0, 0, 0, 0, 0],
            [0, 0, 0.7, 0.1, 0.2, 0, 0],
            [0, 0.6, 0, 0, 0, 0.4, 0],
        ]
    ),
}


@dataclass
class Cards:
    """Card registry; a card's fingerprint is a hash of (seed, index), never a PAN."""

    seed: int
    brand: np.ndarray
    card_type: np.ndarray
    issuing_country: np.ndarray
    owner: np.ndarray  # customer index, -1 = anonymous
    seen: np.ndarray  # exported already

    @classmethod
    def empty(cls, seed: int) -> Cards:
        z = np.zeros(0, dtype=np.int32)
        return cls(seed, z.copy(), z.copy(), z.copy(), z.copy(), np.zeros(0, dtype=bool))

    @property
    def size(self) -> int:
        return self.brand.shape[0]

    def add(
        self, owner: np.ndarray, issuing_country: np.ndarray, us_issued: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Issue new cards; amex is more common on US-issued cards. Returns their indices."""
        n = owner.shape[0]
        u = rng.random(n)
        amex_share = np.where(us_issued, 0.15, 0.04)
        brand = np.where(u < amex_share, 2, np.where(u < amex_share + 0.5 * (1 - amex_share), 0, 1))
        debit = rng.random(n) < np.where(us_issued, 0.4, 0.6)
        start = self.size
        self.brand = np.concatenate([self.brand, brand.astype(np.int32)])
        self.card_type = np.concatenate([self.card_type, debit.astype(np.int32)])
        self.issuing_country = np.concatenate([self.issuing_country, issuing_country.astype(np.int32)])
        self.owner = np.concatenate([self.owner, owner.astype(np.int32)])
        self.seen = np.concatenate([self.seen, np.zeros(n, dtype=bool)])
        return np.arange(start, start + n)

    def fingerprints(self, idx: np.ndarray) -> pa.StringArray:
        idx = np.asarray(idx, dtype=np.int64)
        words = np.stack([hashed(idx, salt(self.seed, f"card-{k}")) for k in range(4)], axis=1)
        return hex_ids("", words)

    def batch(
        self, idx: np.ndarray, first_seen: TsColumn, owner_ids: pa.Array, country_codes: list[str]
    ) -> Batch:
        return make_batch(
            "cards",
            {
                "card_fingerprint": self.fingerprints(idx),
                "customer_id": owner_ids,
                "card_brand": take_strings(BRANDS, self.brand[idx]),
                "card_type": take_strings(CARD_TYPES, self.card_type[idx]),
                "issuing_country": take_strings(country_codes, self.issuing_country[idx]),
                "first_seen_at": first_seen,
            },
        )


@dataclass
class Devices:
    """Device registry; ids are 'dev_' + a hash of (seed, index)."""

    seed: int
    device_type: np.ndarray
    os: np.ndarray
    seen: np.ndarray

    @classmethod
    def empty(cls, seed: int) -> Devices:
        z = np.zeros(0, dtype=np.int32)
        return cls(seed, z.copy(), z.copy(), np.zeros(0, dtype=bool))

    @property
    def size(self) -> int:
        return self.device_type.shape[0]

    def add(self, n: int, rng: np.random.Generator, fraudster: bool = False) -> np.ndarray:
        type_p = [0.3, 0.55, 0.15] if fraudster else [0.62, 0.28, 0.10]
        device_type = rng.choice(3, n, p=type_p)
        cumulative = np.cumsum(_OS_GIVEN_TYPE[fraudster][device_type], axis=1)
        os = (rng.random(n)[:, None] > cumulative).sum(axis=1).clip(0, len(OPERATING_SYSTEMS) - 1)
        start = self.size
        self.device_type = np.concatenate([self.device_type, device_type.astype(np.int32)])
        self.os = np.concatenate([self.os, os.astype(np.int32)])
        self.seen = np.concatenate([self.seen, np.zeros(n, dtype=bool)])
        return np.arange(start, start + n)

    def ids(self, idx: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
        idx = np.asarray(idx, dtype=np.int64)
        return hex_ids("dev_", hashed(np.maximum(idx, 0), salt(self.seed, "device")), valid)

    def batch(self, idx: np.ndarray, first_seen: TsColumn) -> Batch:
        return make_batch(
            "devices",
            {
                "device_id": self.ids(idx),
                "device_type": take_strings(DEVICE_TYPES, self.device_type[idx]),
                "os": take_strings(OPERATING_SYSTEMS, self.os[idx]),
                "first_seen_at": first_seen,
            },
        )
