"""Disputes: chargebacks scheduled when a payment settles, exported on the day they are received."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.ids import digit_ids, take_strings
from simulator.instruments import BRANDS
from simulator.settle import Settled
from simulator.tables import Batch, TsColumn, make_batch, money
from simulator.world import World

DAY = 86_400
DISPUTE_RATE = 0.002  # ordinary (non-fraud) disputes among legit authorized payments
MAX_DELAY = 90


def _delays(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """1..90 days, right-skewed: most within 30 days."""
    return np.clip(np.ceil(rng.gamma(1.6, scale, n)), 1, MAX_DELAY).astype(np.int64)


@dataclass
class Disputes:
    """Chargebacks waiting for their received date (only those inside the simulated range)."""

    world: World
    reasons_by: dict[tuple[int, bool], np.ndarray]
    pending: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)
    next_id: int = 1

    @classmethod
    def create(cls, world: World) -> Disputes:
        reasons = world.ref.reasons
        table: dict[tuple[int, bool], np.ndarray] = {}
        for b, brand in enumerate(BRANDS):
            for fraud in (True, False):
                match = [i for i, r in enumerate(reasons) if r.network == brand and r.is_fraud == fraud]
                table[(b, fraud)] = np.array(
                    match or [i for i, r in enumerate(reasons) if r.is_fraud == fraud]
                )
        return cls(world, table)

    def schedule(
        self, day: int, settled: Settled, payment_words: np.ndarray, rng: np.random.Generator
    ) -> None:
        """Fraud chargebacks for every authorized fraudulent payment, plus a few ordinary disputes."""
        authorized = ~settled.declined
        fraud = authorized & settled.is_fraud
        dispute = authorized & ~settled.is_fraud & (rng.random(settled.size) < DISPUTE_RATE)
        chosen = np.flatnonzero(fraud | dispute)
        if chosen.size == 0:
            return
        is_fraud = fraud[chosen]
        delay = np.where(is_fraud, _delays(rng, chosen.size, 11.0), _delays(rng, chosen.size, 15.0))
        arrival = day + delay
        received = self.world.start_utc + arrival * DAY + rng.integers(7 * 3600, 20 * 3600, chosen.size)
        amount = settled.amount_cents[chosen]
        partial = rng.random(chosen.size) < np.where(is_fraud, 0.03, 0.15)
        currency = settled.orders.currency[chosen]
        step = 10 ** (2 - self.world.money.minor_units[currency])
        share = rng.uniform(0.2, 0.9, chosen.size)
        amount = np.where(
            partial, np.maximum(np.rint(amount * share / step), 1).astype(np.int64) * step, amount
        )
        brand = self.world.cards.brand[settled.orders.card[chosen]]
        reason = np.empty(chosen.size, dtype=np.int64)
        pick = rng.random(chosen.size)
        for (b, fraud_flag), options in self.reasons_by.items():
            mask = (brand == b) & (is_fraud == fraud_flag)
            reason[mask] = options[(pick[mask] * options.size).astype(np.int64)]
        chunk = {
            "payment": payment_words[chosen],
            "received": received,
            "tz": self.world.stores.tz[settled.orders.store[chosen]],
            "reason": reason,
            "amount": amount,
            "currency": currency,
        }
        for target in np.unique(arrival):
            if target >= self.world.config.days:
                continue  # not received yet when the simulation ends
            mask = arrival == target
            self.pending.setdefault(int(target), []).append({k: v[mask] for k, v in chunk.items()})

    def arrivals(self, day: int, payment_ids) -> Batch | None:
        """The day's received chargebacks, numbered in order of receipt."""
        chunks = self.pending.pop(day, [])
        if not chunks:
            return None
        data = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        order = np.argsort(data["received"], kind="stable")
        data = {k: v[order] for k, v in data.items()}
        n = order.shape[0]
        ids = digit_ids("CB-", self.next_id + np.arange(n), 8)
        self.next_id += n
        w = self.world
        return make_batch(
            "chargebacks",
            {
                "chargeback_id": ids,
                "payment_id": payment_ids(data["payment"]),
                "received_at": TsColumn(data["received"], w.zones.offsets(data["received"], data["tz"])),
                "reason_code": take_strings([r.reason_code for r in w.ref.reasons], data["reason"]),
                "amount": money(data["amount"]),
                "currency": take_strings(w.money.codes, data["currency"]),
            },
        )
