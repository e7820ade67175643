"""The CRM's customers: a growing registry (legit customers and fraudster accounts) and its export rows."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.ids import digit_ids, hex_ids, take_strings
from simulator.names import NameBook
from simulator.reference import DEFAULT_PHONE_PLAN, PHONE_PLANS
from simulator.rng import hashed, salt
from simulator.tables import Batch, TsColumn, make_batch
from simulator.timefmt import Zones

DOMAINS = ["example.com", "example.org", "example.net"]
LEGIT, RING, VELOCITY, CARD_TESTING = 0, 1, 2, 3
_ID_MULTIPLIER = 7_654_321  # coprime with 10**8, so the id permutation is a bijection
_ID_SPACE = 100_000_000


@dataclass
class Customers:
    """Column arrays, one entry per customer; index order is registration order."""

    country: np.ndarray  # current country (index into reference countries)
    home_country: np.ndarray  # country at sign-up
    signup_utc: np.ndarray
    first: np.ndarray
    last: np.ndarray
    email_style: np.ndarray
    email_num: np.ndarray  # -1: no digits
    email_domain: np.ndarray
    handle: np.ndarray  # bool: random handle instead of a name-based address
    phone_country: np.ndarray
    phone: np.ndarray  # national significant number
    opt_in: np.ndarray
    weight: np.ndarray  # shopping activity
    kind: np.ndarray  # LEGIT / RING / VELOCITY / CARD_TESTING
    card_start: np.ndarray
    n_cards: np.ndarray
    device_start: np.ndarray
    n_devices: np.ndarray

    @classmethod
    def empty(cls) -> Customers:
        dtypes = {
            "signup_utc": np.int64,
            "phone": np.int64,
            "weight": np.float64,
            "handle": bool,
            "opt_in": bool,
        }
        return cls(**{f.name: np.zeros(0, dtype=dtypes.get(f.name, np.int32)) for f in fields(cls)})

    @property
    def size(self) -> int:
        return self.country.shape[0]

    def append(self, **columns: np.ndarray) -> np.ndarray:
        """Register new customers; returns their indices."""
        start = self.size
        n = len(next(iter(columns.values())))
        for f in fields(self):
            current = getattr(self, f.name)
            setattr(self, f.name, np.concatenate([current, np.asarray(columns[f.name], dtype=current.dtype)]))
        return np.arange(start, start + n)


def new_people(
    countries: np.ndarray,
    country_codes: list[str],
    names: NameBook,
    rng: np.random.Generator,
    fraudster: bool = False,
) -> dict[str, np.ndarray]:
    """PII columns for new customers from the given countries (indices into `country_codes`)."""
    n = countries.shape[0]
    first, last = names.draw([country_codes[c] for c in countries], rng)
    num = np.where(rng.random(n) < 0.6, rng.integers(1, 10_000, n), -1)
    return {
        "country": countries,
        "home_country": countries,
        "first": first,
        "last": last,
        "email_style": rng.integers(0, 5, n),
        "email_num": num,
        "email_domain": rng.integers(0, len(DOMAINS), n),
        "handle": rng.random(n) < (0.5 if fraudster else 0.01),
        "phone_country": countries,
        "phone": _phone_numbers(countries, country_codes, rng),
        "opt_in": rng.random(n) < (0.2 if fraudster else 0.55),
    }


def _phone_numbers(countries: np.ndarray, country_codes: list[str], rng: np.random.Generator) -> np.ndarray:
    lengths = np.array([PHONE_PLANS.get(c, DEFAULT_PHONE_PLAN)[1] for c in country_codes])[countries]
    low = 2 * 10 ** (lengths - 1).astype(np.int64)
    high = 10 ** lengths.astype(np.int64)
    return low + (rng.random(countries.shape[0]) * (high - low)).astype(np.int64)


def customer_ids(seed: int, indices: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """'C' + 8 digits; a seed-dependent permutation so ids carry no registration order."""
    offset = int(salt(seed, "customer-id") % np.uint64(_ID_SPACE))
    numbers = (np.asarray(indices, dtype=np.int64) * _ID_MULTIPLIER + offset) % _ID_SPACE
    return digit_ids("C", numbers, 8, valid)


def _emails(c: Customers, idx: np.ndarray, names: NameBook, seed: int) -> pa.Array:
    first = take_strings(names.first_slug, c.first[idx])
    last = take_strings(names.last_slug, c.last[idx])
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    styles = [
        pc.binary_join_element_wise(first, last, "."),
        pc.binary_join_element_wise(first, last, ""),
        pc.binary_join_element_wise(initial, last, ""),
        pc.binary_join_element_wise(first, last, "_"),
        pc.binary_join_element_wise(last, first, "."),
    ]
    local = pc.choose(pa.array(c.email_style[idx].astype(np.int8)), *styles)
    num = c.email_num[idx]
    digits = pc.if_else(pa.array(num >= 0), pc.cast(pa.array(num), pa.string()), "")
    local = pc.binary_join_element_wise(local, digits, "")
    handles = pc.utf8_slice_codeunits(hex_ids("", hashed(idx, salt(seed, "email-handle"))), 0, 10)
    local = pc.if_else(pa.array(c.handle[idx]), handles, local)
    return pc.binary_join_element_wise(local, take_strings(DOMAINS, c.email_domain[idx]), "@")


def _phones(c: Customers, idx: np.ndarray, country_codes: list[str]) -> pa.Array:
    codes = [PHONE_PLANS.get(cc, DEFAULT_PHONE_PLAN)[0] for cc in country_codes]
    number = pc.cast(pa.array(c.phone[idx].astype(np.int64)), pa.string())
    return pc.binary_join_element_wise("+", take_strings(codes, c.phone_country[idx]), number, "")


def customer_batch(
    c: Customers,
    idx: np.ndarray,
    updated_utc: np.ndarray,
    names: NameBook,
    country_codes: list[str],
    country_tz: np.ndarray,
    zones: Zones,
    seed: int,
) -> Batch:
    """CRM rows (one version each) for customers `idx` as of `updated_utc`."""
    idx = np.asarray(idx, dtype=np.int64)
    full_name = pc.binary_join_element_wise(
        take_strings(names.first, c.first[idx]), take_strings(names.last, c.last[idx]), " "
    )
    signup_off = zones.offsets(c.signup_utc[idx], country_tz[c.home_country[idx]])
    updated_off = zones.offsets(updated_utc, country_tz[c.country[idx]])
    return make_batch(
        "customers",
        {
            "customer_id": customer_ids(seed, idx),
            "full_name": full_name,
            "email": _emails(c, idx, names, seed),
            "phone": _phones(c, idx, country_codes),
            "country_code": take_strings(country_codes, c.country[idx]),
            "signed_up_at": TsColumn(c.signup_utc[idx], signup_off),
            "updated_at": TsColumn(np.asarray(updated_utc, dtype=np.int64), updated_off),
            "marketing_opt_in": pa.array(c.opt_in[idx], type=pa.bool_()),
        },
    )


def apply_updates(
    c: Customers,
    n_legit_active: int,
    move_countries: np.ndarray,
    move_weights: np.ndarray,
    country_codes: list[str],
    rng: np.random.Generator,
    monthly_rate: float = 0.01,
) -> np.ndarray:
    """Change e-mail, phone or country of ~1 %/month of active legit customers; returns who changed."""
    changed = np.flatnonzero(rng.random(n_legit_active) < monthly_rate / 30.4)
    n = changed.shape[0]
    if n == 0:
        return changed
    what = rng.random(n)
    new_country = rng.choice(move_countries, n, p=move_weights)
    move = (what >= 0.85) & (new_country != c.country[changed])
    phone = (what >= 0.45) & (what < 0.85)
    email = ~move & ~phone  # includes moves that drew the current country
    c.email_style[changed[email]] = rng.integers(0, 5, int(email.sum()))
    c.email_num[changed[email]] = rng.integers(1, 10_000, int(email.sum()))
    c.email_domain[changed[email]] = rng.integers(0, len(DOMAINS), int(email.sum()))
    c.country[changed[move]] = new_country[move]
    renumber = changed[phone]
    c.phone_country[renumber] = c.country[renumber]
    c.phone[renumber] = _phone_numbers(c.country[renumber], country_codes, rng)
    flip = changed[rng.random(n) < 0.1]
    c.opt_in[flip] = ~c.opt_in[flip]
    return changed
