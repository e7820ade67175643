"""The day loop: generate one day, write it, drop it. Only small state survives between days."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from simulator.batches import HIJACK, concat
from simulator.chargebacks import Disputes
from simulator.config import DEMAND_SHOCK, FRAUD_PATTERN, SimConfig, validate
from simulator.customers import apply_updates
from simulator.defects import DefectLog, Deferred, inject
from simulator.demand import MEAN_LINES, MEAN_QUANTITY, DemandModel, build_demand
from simulator.exports import (
    catalog_rows,
    customers,
    first_seen_instruments,
    payment_ids,
    payment_words,
    product_ids,
    shop_and_payments,
)
from simulator.fraud import (
    CAMPAIGNS,
    HIJACK_CAMPAIGN,
    CampaignContext,
    HijackPlan,
    expected_campaign_orders,
    plan_hijack,
    session_hijack,
)
from simulator.orders import legit_orders
from simulator.reference import load_reference
from simulator.rng import Stream, rng_for
from simulator.schema import TABLES
from simulator.settle import mcc_table, settle
from simulator.summary import GenerationSummary
from simulator.tables import Batch
from simulator.world import DAY, World, build_world
from simulator.writer import LandingWriter, OracleWriter, discard, reset_dir


@dataclass
class DayLoop:
    """Mutable cross-day state: counters, pending chargebacks; the world's registries grow in place."""

    world: World
    demand: DemandModel
    disputes: Disputes
    writer: LandingWriter
    oracle: OracleWriter
    log: DefectLog
    mcc_codes: list[str]
    category_mcc: np.ndarray
    next_order: int = 1
    next_payment: int = 1
    ring_exports: dict[int, list[np.ndarray]] = field(default_factory=dict)
    hijack: HijackPlan | None = None  # the regime change's fraud pattern, when switched on

    def customer_rows(
        self, day: int, new_accounts: list[np.ndarray], rng: np.random.Generator
    ) -> Batch | None:
        w = self.world
        c = w.customers
        day_start = w.start_utc + day * DAY
        legit_signup = c.signup_utc[: w.n_legit]
        lo = 0 if day == 0 else int(np.searchsorted(legit_signup, day_start))
        hi = int(np.searchsorted(legit_signup, day_start + DAY))
        first_rows = [np.arange(lo, hi), *self.ring_exports.get(day, []), *new_accounts]
        idx = np.concatenate(first_rows).astype(np.int64)
        active = int(np.searchsorted(legit_signup, day_start))
        changed = apply_updates(
            c, active, w.customer_countries, w.customer_country_weights, w.ref.country_codes, rng
        )
        if idx.size == 0 and changed.size == 0:
            return None
        updated = day_start + rng.integers(7 * 3600, 23 * 3600, changed.size)
        all_idx = np.concatenate([idx, changed])
        when = np.concatenate([c.signup_utc[idx], updated])
        order = np.lexsort((all_idx, when))
        return customers(w, all_idx[order], when[order])

    def run_day(self, day: int) -> None:
        w, seed = self.world, self.world.config.seed
        today = w.day_date(day)
        midnights = w.zones.local_midnights(today)
        lam, discount, price = self.demand.expected_units(day)
        self.oracle.write_demand(today, w.stores.ids, product_ids(np.arange(w.catalog.size)), lam)

        parts = [legit_orders(w, day, lam, discount, price, midnights, rng_for(seed, Stream.DAY_ORDERS, day))]
        ctx = CampaignContext(w, day, price, discount, midnights)
        fraud_rng = rng_for(seed, Stream.DAY_FRAUD, day)
        new_accounts: list[np.ndarray] = []
        for campaign in CAMPAIGNS:
            result = campaign(ctx, fraud_rng)
            if result is not None:
                parts.append((result[0], result[1]))
                new_accounts.append(result[2])
        if self.hijack is not None and day >= self.hijack.first_day:
            # Its own stream: the other streams are consumed exactly as without the regime change.
            expected = float(lam.sum()) / (MEAN_LINES * MEAN_QUANTITY) + expected_campaign_orders(w)
            result = session_hijack(ctx, self.hijack, expected, rng_for(seed, Stream.DAY_REGIME_FRAUD, day))
            if result is not None:
                parts.append((result[0], result[1]))
        orders, lines = concat(parts)
        settled = settle(
            w,
            orders,
            lines,
            self.next_order,
            self.next_payment,
            self.category_mcc,
            rng_for(seed, Stream.DAY_PAYMENTS, day),
        )
        self.next_order += settled.size
        self.next_payment += settled.size
        words = payment_words(seed, settled.payment_seq)
        self.oracle.write_payments(
            payment_ids(words), settled.paid_utc, settled.fraud_p, settled.is_fraud, settled.declined
        )
        if self.hijack is not None:
            hijacked = np.flatnonzero(settled.orders.kind == HIJACK)
            self.oracle.write_regime_payments(
                payment_ids(words[hijacked]),
                settled.paid_utc[hijacked],
                HIJACK_CAMPAIGN,
                settled.is_fraud[hijacked],
                settled.declined[hijacked],
            )
        self.disputes.schedule(day, settled, words, rng_for(seed, Stream.DAY_CHARGEBACKS, day))

        batches: dict[str, Batch] = {}
        batches.update(catalog_rows(w, day))
        crm = self.customer_rows(day, new_accounts, rng_for(seed, Stream.DAY_CUSTOMERS, day))
        if crm is not None:
            batches["customers"] = crm
        batches.update(first_seen_instruments(w, settled))
        if settled.size:
            batches.update(shop_and_payments(w, settled, self.mcc_codes))
        received = self.disputes.arrivals(day, payment_ids)
        if received is not None:
            batches["chargebacks"] = received

        regular: dict[str, Batch] = {}
        deferred: list[Deferred] = []
        defects_rng = rng_for(seed, Stream.DAY_DEFECTS, day)
        for name in TABLES:  # fixed order: the defect stream is consumed deterministically
            if name not in batches:
                continue
            regular[name], later = inject(batches[name], day, w.config.defect_rate, defects_rng, self.log)
            deferred += later
        self.writer.write_day(day, regular, deferred)


def _ring_export_days(world: World) -> dict[int, list[np.ndarray]]:
    """Ring accounts are exported by the CRM on their sign-up day (day 0 if before the start)."""
    result: dict[int, list[np.ndarray]] = {}
    for ring in world.rings:
        export_day = np.maximum((world.customers.signup_utc[ring.accounts] - world.start_utc) // DAY, 0)
        for d in np.unique(export_day):
            if d < world.config.days:
                result.setdefault(int(d), []).append(ring.accounts[export_day == d])
    return result


def generate(config: SimConfig) -> GenerationSummary:
    """Generate the landing zone and the oracle for `config`; deterministic in `config`."""
    started = time.perf_counter()
    reference = load_reference(config.seeds_dir)
    validate(config, reference)
    world = build_world(config, reference)
    demand = build_demand(world, expected_campaign_orders(world))
    log = DefectLog()
    previous = [reset_dir(config.out_dir), reset_dir(config.oracle_dir)]
    landing, oracle_dir = Path(config.out_dir), Path(config.oracle_dir)
    mcc_codes, category_mcc = mcc_table(world)
    hijack, regime = None, None
    if config.regime_change is not None:
        regime = {"day": config.regime_change.day.isoformat(), "kinds": list(config.regime_change.kinds)}
        hijack_day = config.regime_day(FRAUD_PATTERN)
        if hijack_day is not None:
            hijack, mcc_codes = plan_hijack(world, hijack_day, mcc_codes)
            regime[FRAUD_PATTERN] = hijack.describe(world, mcc_codes)
        if config.regime_day(DEMAND_SHOCK) is not None:
            regime[DEMAND_SHOCK] = demand.describe_shock()
    loop = DayLoop(
        world=world,
        demand=demand,
        disputes=Disputes.create(world),
        writer=LandingWriter(landing, config.start, log),
        oracle=OracleWriter(oracle_dir, regime),
        log=log,
        mcc_codes=mcc_codes,
        category_mcc=category_mcc,
        ring_exports=_ring_export_days(world),
        hijack=hijack,
    )
    try:
        for day in tqdm(range(config.days), desc="simulating days", unit="day", disable=not config.progress):
            loop.run_day(day)
    except BaseException:
        loop.writer.abort()
        raise
    loop.writer.finish()
    loop.oracle.close(log)
    for path in previous:
        discard(path)
    return GenerationSummary(
        rows=dict(loop.writer.rows),
        files=dict(loop.writer.files),
        payments=loop.oracle.n_payments,
        authorized_payments=loop.oracle.n_authorized,
        authorized_fraud=loop.oracle.n_authorized_fraud,
        defects=log.as_dict(),
        wall_seconds=time.perf_counter() - started,
    )
