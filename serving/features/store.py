"""The online feature store: the fraud model's features of a payment computed in Python from
in-memory state, equal to the row feat_payment_fraud would hold for it (tests/serving/test_online_features.py
holds the two to each other).

State, built from the published snapshot and grown by `record`: per card, device and customer the
events the longest declared window needs (relative to the newest event, plus `history` of slack for
late payments), the all-time first payment of every card and of every customer's device and card,
and the customers' account versions. A payment's features are computed as of its paid_at over the
held events and the not-yet-held payments of the same call, each payment_id counted once; events
after its paid_at never count (peers at the same paid_at do, as in the SQL RANGE windows).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from ml.settings import specs_dir
from ml.specs import ModelSpec, load_spec
from serving.features.declaration import WindowFeature, load_window_features
from serving.features.errors import FeatureDeclarationError
from serving.features.events import FIELD_INDEX, Event, PaymentEvent, from_micros, to_event
from serving.features.snapshot import SnapshotState, read_snapshot
from serving.features.windows import EntityWindows, Reducer, frame, reducer

SPEC_FILE = "payment_fraud.yml"
FEATURES_RELATION = "features.feat_payment_fraud"
DEFAULT_HISTORY = timedelta(days=1)
# amount_vs_customer_avg divides by this declared window, as feat_payment_fraud does
AMOUNT_BASELINE = "customer_avg_amount_usd_30d"
ROW_FEATURES = (
    "amount_usd",
    "is_high_risk_merchant_category",
    "paid_hour_utc",
    "is_ip_country_mismatch",
    "account_age_days",
    "card_age_days",
    "amount_vs_customer_avg",
    "is_new_device",
    "is_new_card",
)
CATEGORICAL_FEATURES = ("channel", "merchant_category_code", "ip_country", "customer_country_code")
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
_CARD, _DEVICE, _CUSTOMER = (
    FIELD_INDEX["card_fingerprint"],
    FIELD_INDEX["device_id"],
    FIELD_INDEX["customer_id"],
)


@dataclass(frozen=True)
class _Window:
    feature: WindowFeature
    windows: EntityWindows
    reduce: Reducer


class OnlineFeatureStore:
    """Fraud features for payments, from state loaded off the published snapshot. Thread-safe."""

    def __init__(
        self, state: SnapshotState, declared: tuple[WindowFeature, ...], spec: ModelSpec, history: timedelta
    ) -> None:
        """Use `load`; this takes a state already read with `retention(declared, history)`."""
        self._snapshot = state.path
        self._names = spec.features.names
        self._numeric = frozenset(spec.features.numeric)
        self._schema = {"payment_id": pl.String} | {
            name: pl.Float64 if name in self._numeric else pl.String for name in self._names
        }
        self._history_us = history // timedelta(microseconds=1)
        self._retention_us = retention(declared, history)
        self._entities = {
            entity: EntityWindows(entity) for entity in dict.fromkeys(f.entity for f in declared)
        }
        self._windows = tuple(_Window(f, self._entities[f.entity], reducer(f)) for f in declared)
        for windows in self._entities.values():
            windows.extend_sorted(state.events)
        self._queue: deque[Event] = deque(state.events)  # held window events, in the order received
        self._held = {event[1] for event in state.events}
        self._newest_us = state.newest_us
        self._card_first_us = state.card_first_us
        self._first_device_use = state.first_device_use
        self._first_card_use = state.first_card_use
        self._customer_versions = state.customer_versions
        self._signed_up_us = state.signed_up_us
        self._high_risk = state.high_risk_categories
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        snapshot: Path,
        *,
        spec: ModelSpec | None = None,
        history: timedelta = DEFAULT_HISTORY,
        declaration: Path | None = None,
    ) -> OnlineFeatureStore:
        """The store over the published snapshot (analytics.duckdb), read through a read-only
        connection closed before returning. `history`: how far before the snapshot's newest payment
        a payment's windows are still complete (late payments); `spec` defaults to
        ml/models/payment_fraud.yml, `declaration` to warehouse/dbt_project.yml."""
        declared = load_window_features(declaration)
        spec = spec or load_spec(specs_dir() / SPEC_FILE)
        _check_spec(spec, declared)
        return cls(read_snapshot(snapshot, retention(declared, history)), declared, spec, history)

    @property
    def snapshot_path(self) -> Path:
        return self._snapshot

    @property
    def rows(self) -> int:
        """Payments held in the windows."""
        return len(self._held)

    @property
    def latest_paid_at(self) -> datetime | None:
        return from_micros(self._newest_us) if self._newest_us is not None else None

    @property
    def complete_from(self) -> datetime | None:
        """Payments at or after this time see every event their windows need; earlier ones may not."""
        return from_micros(self._newest_us - self._history_us) if self._newest_us is not None else None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self._names

    def holds(self, payment_id: str) -> bool:
        """The payment is in the windows: recording it again, or its features, count it once."""
        with self._lock:
            return payment_id in self._held

    def features(self, payments: Sequence[PaymentEvent]) -> pl.DataFrame:
        """One row per payment, in order: payment_id and the spec's features (numeric as Float64,
        categorical as String), what ml/scoring/batch.py reads from feat_payment_fraud. The store is not
        changed: `record` the payments to make them count for later ones."""
        return pl.DataFrame(self.feature_rows(payments), schema=self._schema, orient="row")

    def feature_rows(self, payments: Sequence[PaymentEvent]) -> list[tuple]:
        """`features` as tuples (payment_id, then the features in the spec's order: numeric ones as
        float or None, categorical ones as str or None), without building the frame."""
        with self._lock:
            events = [to_event(payment) for payment in payments]
            pending: dict[str, Event] = {}
            for event in events:
                if event[1] not in self._held:
                    pending.setdefault(event[1], event)
            overlay = list(pending.values())
            return [
                self._row(payment, event, overlay) for payment, event in zip(payments, events, strict=True)
            ]

    def record(self, payments: Sequence[PaymentEvent]) -> None:
        """Add scored payments to the state; a payment_id already held is ignored."""
        with self._lock:
            for payment in payments:
                self._record(to_event(payment))
            self._prune()

    def _record(self, event: Event) -> None:
        paid_us, payment_id = event[0], event[1]
        if payment_id in self._held:
            return
        card, device, customer = event[_CARD], event[_DEVICE], event[_CUSTOMER]
        if paid_us < self._card_first_us.get(card, paid_us + 1):
            self._card_first_us[card] = paid_us
        first = (paid_us, payment_id)
        if device is not None and first < self._first_device_use.get((customer, device), (paid_us + 1, "")):
            self._first_device_use[(customer, device)] = first
        if customer is not None and first < self._first_card_use.get((customer, card), (paid_us + 1, "")):
            self._first_card_use[(customer, card)] = first
        if self._newest_us is not None and paid_us < self._newest_us - self._retention_us:
            return  # before every complete window: only the all-time first uses needed it
        for windows in self._entities.values():
            windows.add(event)
        self._held.add(payment_id)
        self._queue.append(event)
        self._newest_us = paid_us if self._newest_us is None else max(self._newest_us, paid_us)

    def _prune(self) -> None:
        if self._newest_us is None:
            return
        cutoff = self._newest_us - self._retention_us
        queue = self._queue
        while queue and queue[0][0] < cutoff:
            event = queue.popleft()
            self._held.discard(event[1])
            for windows in self._entities.values():
                windows.prune(event[windows.index], cutoff)

    def _row(self, payment: PaymentEvent, event: Event, overlay: list[Event]) -> tuple:
        """The payment's features as of its paid_at, in the spec's order."""
        paid_us, payment_id, cents = event[0], event[1], event[2]
        card, device, customer = event[_CARD], event[_DEVICE], event[_CUSTOMER]
        values = self._window_values(event, overlay)
        country, signed_up = self._account_as_of(customer, paid_us)
        card_first = min(
            [self._card_first_us.get(card, paid_us), paid_us]
            + [other[0] for other in overlay if other[_CARD] == card]
        )
        amount = cents / 100
        baseline = values.get(AMOUNT_BASELINE)
        values.update(
            amount_usd=amount,
            is_high_risk_merchant_category=payment.merchant_category_code in self._high_risk,
            paid_hour_utc=(paid_us // _HOUR_US) % 24,
            is_ip_country_mismatch=(
                payment.ip_country is not None and country is not None and payment.ip_country != country
            ),
            # date_diff('day', ...) counts calendar-day boundaries, not 24-hour spans
            account_age_days=paid_us // _DAY_US - signed_up // _DAY_US if signed_up is not None else None,
            card_age_days=paid_us // _DAY_US - card_first // _DAY_US,
            amount_vs_customer_avg=amount / baseline if customer is not None and baseline else None,
            is_new_device=device is not None and _is_first(self._first_device_use, _DEVICE, event, overlay),
            is_new_card=customer is not None and _is_first(self._first_card_use, _CARD, event, overlay),
            channel=payment.channel,
            merchant_category_code=payment.merchant_category_code,
            ip_country=payment.ip_country,
            customer_country_code=country,
        )
        numeric = self._numeric
        return (
            payment_id,
            *(
                (float(values[name]) if values[name] is not None else None)
                if name in numeric
                else values[name]
                for name in self._names
            ),
        )

    def _window_values(self, event: Event, overlay: list[Event]) -> dict[str, object]:
        """The declared windows over the held events and the call's pending ones."""
        paid_us = event[0]
        values: dict[str, object] = {}
        for window in self._windows:
            index = window.windows.index
            key = event[index]
            if key is None:
                values[window.feature.name] = None
                continue
            start, end = frame(window.feature, paid_us)
            in_window = window.windows.between(key, start, end)
            if overlay:
                in_window += [e for e in overlay if e[index] == key and start <= e[0] < end]
            values[window.feature.name] = window.reduce(in_window)
        return values

    def _account_as_of(self, customer: str | None, paid_us: int) -> tuple[str | None, int | None]:
        """The customer's country in the latest account version at or before paid_us (the batch
        SQL's ASOF join), and the first sign-up over all versions; unknown customers have neither."""
        if customer is None:
            return None, None
        versions = self._customer_versions.get(customer)
        country = None
        if versions is not None:
            position = bisect_right(versions[0], paid_us) - 1
            country = versions[1][position] if position >= 0 else None
        return country, self._signed_up_us.get(customer)


def _is_first(
    first_use: dict[tuple[str | None, str], tuple[int, str]], index: int, event: Event, overlay: list[Event]
) -> bool:
    """The payment is the first of its (customer, entity) pair by (paid_at, payment_id) among the held
    and pending payments: row_number() = 1 in the batch SQL, where a null customer is one partition."""
    customer, other_key = event[_CUSTOMER], event[index]
    this = (event[0], event[1])
    first = min(
        [first_use.get((customer, other_key), this), this]
        + [(e[0], e[1]) for e in overlay if e[_CUSTOMER] == customer and e[index] == other_key]
    )
    return first == this


def retention(declared: tuple[WindowFeature, ...], history: timedelta) -> int:
    """Microseconds of events kept before the newest one: the longest window, plus the history."""
    if history < timedelta(0):
        raise ValueError(f"history must not be negative, got {history}")
    return max(f.window_us for f in declared) + history // timedelta(microseconds=1)


def _check_spec(spec: ModelSpec, declared: tuple[WindowFeature, ...]) -> None:
    """Every feature the spec reads is one the store computes, with the right kind."""
    where = spec.source_path
    if spec.features_relation != FEATURES_RELATION:
        raise FeatureDeclarationError(
            f"{where}: features_relation is {spec.features_relation!r}; the online store computes "
            f"{FEATURES_RELATION}"
        )
    numeric = {f.name for f in declared} | set(ROW_FEATURES)
    unknown = [name for name in spec.features.numeric if name not in numeric]
    unknown += [name for name in spec.features.categorical if name not in CATEGORICAL_FEATURES]
    if unknown:
        raise FeatureDeclarationError(
            f"{where}: features {unknown} are not computed online (numeric: {sorted(numeric)}; "
            f"categorical: {list(CATEGORICAL_FEATURES)})"
        )
    baseline = next((f for f in declared if f.name == AMOUNT_BASELINE), None)
    if "amount_vs_customer_avg" in spec.features.numeric and (
        baseline is None or baseline.aggregate != "avg" or baseline.entity != "customer_id"
    ):
        raise FeatureDeclarationError(
            f"{where}: amount_vs_customer_avg needs the declared window {AMOUNT_BASELINE} "
            "(avg of amount_usd per customer_id)"
        )
