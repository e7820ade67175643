"""Expected units per (store, product, day): the regression target the oracle records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from simulator.config import DEMAND_SHOCK
from simulator.rng import Stream, rng_for
from simulator.world import World

MEAN_QUANTITY = 0.85 * 1 + 0.11 * 2 + 0.04 * 3  # quantity per order line
MEAN_LINES = 2.3  # order lines per order
QUANTITY_P = (0.85, 0.11, 0.04)
DISPERSION = 4.0  # gamma shape of the Poisson-gamma noise
ELASTICITY = -1.5
PROMO_LIFT = 2.5
ANNUAL_GROWTH = 0.10
LAUNCH_RAMP_DAYS = 30
ONLINE_SHARE = 0.35

# Holidays on which physical stores are closed; other holidays reduce traffic.
CLOSED_HOLIDAYS = ("Christmas Day", "New Year's Day", "Easter Sunday", "Thanksgiving Day")
HOLIDAY_FACTOR = 0.6
# Mon..Sun traffic of physical stores (Sunday by country) and of the online store.
PHYSICAL_WEEK = np.array([0.85, 0.85, 0.9, 0.95, 1.1, 1.45, 1.0])
SUNDAY = {"DE": 0.0, "FR": 0.35, "NL": 0.8}
ONLINE_WEEK = np.array([1.08, 1.0, 0.98, 0.95, 0.9, 0.95, 1.15])
# How strongly a category follows the weekly rhythm (exponent on the weekly factor).
WEEKLY_STRENGTH = {"electronics": 0.7, "gift cards": 0.5, "kitchen": 0.8, "home textiles": 0.9}
# The regime change's demand shock (SimConfig.regime_change with "demand_shock"), from its day on:
# a stay-at-home turn (home electronics and kitchen up, apparel down; other categories x1) and
# shopping moved from the weekend to the start of the week (Mon..Sun, every store, mean 1).
SHOCK_CATEGORY = {"electronics": 1.8, "kitchen": 1.8, "outerwear": 0.6, "knitwear": 0.6, "t-shirts": 0.6}
SHOCK_WEEK = np.array([1.25, 1.15, 1.05, 1.0, 0.95, 0.75, 0.85])


def _yearly(category: str, doy: float) -> float:
    """Category seasonality by day of year (1 = no effect)."""
    angle = 2 * np.pi / 365.25

    def wave(amplitude: float, peak: float) -> float:
        return float(np.exp(amplitude * np.cos(angle * (doy - peak))))

    def december(amplitude: float, peak: float, width: float) -> float:
        distance = min(abs(doy - peak), 365.25 - abs(doy - peak))
        return 1 + amplitude * float(np.exp(-0.5 * (distance / width) ** 2))

    profiles = {
        "outerwear": lambda: wave(0.7, 15),
        "knitwear": lambda: wave(0.6, 10),
        "t-shirts": lambda: wave(0.4, 190),
        "footwear": lambda: wave(0.15, 100),
        "swimwear": lambda: wave(1.1, 185),
        "accessories": lambda: december(0.3, 350, 15),
        "home textiles": lambda: wave(0.2, 320),
        "kitchen": lambda: december(0.4, 350, 12),
        "electronics": lambda: december(1.4, 350, 12),
        "gift cards": lambda: december(2.5, 353, 8),
    }
    return profiles.get(category, lambda: 1.0)()


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November."""
    first = date(year, 11, 1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    return thursday + timedelta(days=1)


def _season_spike(day: date) -> float:
    """Christmas run-up (Dec 10-23) and the Black Friday weekend, for every store."""
    factor = 1.0
    if day.month == 12 and 10 <= day.day <= 23:
        factor *= 1 + 0.8 * (day.day - 9) / 14
    bf = black_friday(day.year)
    if 0 <= (day - bf).days <= 3:
        factor *= 1.8 if day == bf else 1.3
    return factor


@dataclass(frozen=True)
class DemandModel:
    world: World
    base: np.ndarray  # (S, P)
    category_names: list[str]
    weekly_exponent: np.ndarray  # (P,)
    scale: float
    shock_day: int | None = None  # first day of the demand shock; None: no shock
    shock_category: np.ndarray | None = None  # (P,) the shock's multiplier of each product's category

    def raw(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unscaled expected units (S, P), the day's discount (S, P) and USD list prices (P,)."""
        w = self.world
        d = w.day_date(day)
        stores, catalog = w.stores, w.catalog
        n_s, n_p = stores.size, catalog.size
        price = catalog.price_usd(day)
        discount = w.promotions.discount_matrix(day, n_s, n_p)
        effective = price[None, :] * (1 - discount)
        reference = catalog.launch_cents[None, :] / 100.0
        elasticity = np.where(catalog.gift_card[None, :], 1.0, (effective / reference) ** ELASTICITY)
        promo = 1 + PROMO_LIFT * discount
        age = day - catalog.launch_day
        ramp = np.clip((age + 1) / LAUNCH_RAMP_DAYS, 0.0, 1.0)
        yearly = np.array([_yearly(name, d.timetuple().tm_yday) for name in self.category_names])
        trend = (1 + ANNUAL_GROWTH) ** (day / 365.25)
        weekly = np.empty((n_s, n_p))
        store_factor = np.empty(n_s)
        for s in range(n_s):
            country = w.ref.country_codes[stores.country[s]]
            if stores.online[s]:
                week = ONLINE_WEEK[d.weekday()]
                holiday = 0.7 if (d.month, d.day) == (12, 25) else 1.0
            else:
                week = PHYSICAL_WEEK[d.weekday()] if d.weekday() < 6 else SUNDAY.get(country, 1.0)
                name = w.ref.holidays.get(country, {}).get(d)
                holiday = 1.0 if name is None else (0.0 if name in CLOSED_HOLIDAYS else HOLIDAY_FACTOR)
                if (d.month, d.day) == (12, 24):
                    holiday *= 0.7
            weekly[s] = week**self.weekly_exponent
            store_factor[s] = holiday * (1.0 if day >= stores.opened_day[s] else 0.0)
        lam = (
            self.base
            * weekly
            * yearly[catalog.category][None, :]
            * (store_factor * trend * _season_spike(d))[:, None]
            * promo
            * elasticity
            * ramp[None, :]
        )
        return lam, discount, price

    def shock(self, day: int) -> np.ndarray | None:
        """The demand shock's multiplier (1, P) on day `day`, or None before it (or without one)."""
        if self.shock_day is None or self.shock_category is None or day < self.shock_day:
            return None
        return (self.shock_category * SHOCK_WEEK[self.world.day_date(day).weekday()])[None, :]

    def expected_units(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lam, discount, price = self.raw(day)
        lam = lam * self.scale
        shock = self.shock(day)
        return (lam if shock is None else lam * shock), discount, price

    def describe_shock(self) -> dict[str, object]:
        return {
            "category_multiplier": {name: SHOCK_CATEGORY.get(name, 1.0) for name in self.category_names},
            "weekday_multiplier": dict(
                zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), SHOCK_WEEK.tolist(), strict=True)
            ),
        }


def build_demand(world: World, campaign_orders_per_day: float) -> DemandModel:
    """Scale the base so expected legit orders per day average payments-per-day minus fraud traffic."""
    rng = rng_for(world.config.seed, Stream.DEMAND_SHAPE)
    stores, catalog = world.stores, world.catalog
    category_names = [n.strip().lower() for n in world.ref.category_names]
    size = rng.lognormal(0.0, 0.25, stores.size)
    physical = ~stores.online
    share = np.where(stores.online, ONLINE_SHARE if physical.any() else 1.0, 0.0)
    if physical.any():
        share[physical] = (1 - ONLINE_SHARE) * size[physical] / size[physical].sum()
    names = [category_names[c] for c in catalog.category]
    channel_affinity = np.ones((stores.size, catalog.size))
    for p, name in enumerate(names):
        if name in ("electronics", "gift cards"):
            channel_affinity[stores.online, p] = 1.6
            channel_affinity[physical, p] = 0.7 if name == "electronics" else 0.4
    popularity = catalog.popularity / catalog.popularity.mean()
    base = share[:, None] * popularity[None, :] * channel_affinity
    exponent = np.array([WEEKLY_STRENGTH.get(n, 1.2) for n in names])
    model = DemandModel(world, base, category_names, exponent, 1.0)
    daily_units = np.array([model.raw(day)[0].sum() for day in range(world.config.days)])
    target_orders = max(world.config.payments_per_day - campaign_orders_per_day, 1.0)
    target_units = target_orders * MEAN_LINES * MEAN_QUANTITY
    mean_raw = float(daily_units.mean())
    scale = target_units / mean_raw if mean_raw > 0 else 0.0
    # The shock is applied on top of the scaled demand, so the days before it are unchanged.
    shock_day = world.config.regime_day(DEMAND_SHOCK)
    shock_category = np.array([SHOCK_CATEGORY.get(n, 1.0) for n in names]) if shock_day is not None else None
    return DemandModel(world, base, category_names, exponent, scale, shock_day, shock_category)
