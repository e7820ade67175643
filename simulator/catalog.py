"""Products, their price history and promotions: static, drawn once from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.reference import Reference
from simulator.rng import Stream, rng_for

GIFT_DENOMINATIONS = np.array([25.0, 50.0, 100.0, 150.0])
DISCOUNTS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.40])
DISCOUNT_WEIGHTS = np.array([0.25, 0.2, 0.2, 0.15, 0.12, 0.08])

# Typical USD list price and product nouns per category name (lower case); unknown categories get defaults.
CATEGORY_PROFILES: dict[str, tuple[float, tuple[str, ...]]] = {
    "outerwear": (
        140.0,
        ("Parka", "Rain Jacket", "Wool Coat", "Puffer Jacket", "Trench Coat", "Windbreaker"),
    ),
    "knitwear": (65.0, ("Merino Sweater", "Cardigan", "Cable Knit Jumper", "Turtleneck", "Knit Vest")),
    "t-shirts": (22.0, ("Crew Tee", "V-Neck Tee", "Graphic Tee", "Pocket Tee", "Long Sleeve Tee")),
    "footwear": (95.0, ("Sneakers", "Chelsea Boots", "Loafers", "Trail Runners", "Canvas Shoes")),
    "swimwear": (38.0, ("Swim Shorts", "Bikini Set", "Swimsuit", "Board Shorts")),
    "accessories": (28.0, ("Leather Belt", "Scarf", "Beanie", "Tote Bag", "Sunglasses", "Wallet")),
    "home textiles": (45.0, ("Bath Towel Set", "Linen Duvet Cover", "Throw Blanket", "Cushion Cover")),
    "kitchen": (35.0, ("Chef's Knife", "Cast Iron Pan", "Coffee Grinder", "Mixing Bowl Set", "Kettle")),
    "electronics": (260.0, ("Wireless Earbuds", "Smartwatch", "Bluetooth Speaker", "Headphones", "Tablet")),
    "gift cards": (50.0, ("Gift Card",)),
}
DEFAULT_PROFILE = (40.0, ("Item",))
BRANDS: dict[str, tuple[str, ...]] = {
    "apparel": ("Northwind", "Alder & Co", "Fjell", "Marlowe", "Copper Lane", "Kestrel"),
    "accessories": ("Marlowe", "Linden", "Otto Berg", "Kestrel"),
    "home": ("Hearth", "Casa Lune", "Nordhem"),
    "electronics": ("Voltix", "Lumen", "Arcwave"),
    "digital": ("Giftly",),
}
ADJECTIVES = (
    "Classic",
    "Essential",
    "Premium",
    "Urban",
    "Heritage",
    "Everyday",
    "Studio",
    "Coastal",
    "Alpine",
)


def is_gift_card(name: str) -> bool:
    return name.strip().lower() == "gift cards"


def _to_99(usd: np.ndarray) -> np.ndarray:
    """Round a USD price to a .99 ending, in cents."""
    return np.maximum(np.rint(usd), 2).astype(np.int64) * 100 - 1


@dataclass(frozen=True)
class Catalog:
    """All products (index = product number - 1)."""

    category: np.ndarray  # int, index into reference categories
    brand: list[str]
    name: list[str]
    launch_day: np.ndarray  # day index relative to the start (negative: before the start)
    launch_cents: np.ndarray  # USD list price at launch, cents
    popularity: np.ndarray
    gift_card: np.ndarray  # bool
    change_day: np.ndarray  # (P, K) day a price change takes effect; huge when unused
    price_cents: np.ndarray  # (P, K + 1) USD list price after 0..K changes, cents

    @property
    def size(self) -> int:
        return self.category.shape[0]

    def price_usd(self, day: int) -> np.ndarray:
        """List price in USD of every product on day index `day`."""
        changes = (self.change_day <= day).sum(axis=1)
        return self.price_cents[np.arange(self.size), changes] / 100.0

    def price_changes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(product, valid_from day, cents) of every price change, by product then day."""
        product, k = np.nonzero(self.change_day < np.iinfo(np.int32).max)
        return product, self.change_day[product, k], self.price_cents[product, k + 1]


def build_catalog(seed: int, n_products: int, days: int, ref: Reference) -> Catalog:
    rng = rng_for(seed, Stream.PRODUCTS)
    n_cat = len(ref.category_ids)
    category = rng.permutation(np.arange(n_products) % n_cat)
    names = [ref.category_names[c].strip().lower() for c in category]
    gift = np.array([is_gift_card(n) for n in names], dtype=bool)
    base = np.array([CATEGORY_PROFILES.get(n, DEFAULT_PROFILE)[0] for n in names])
    launch_usd = base * rng.lognormal(0.0, 0.35, n_products)
    denominations = rng.choice(GIFT_DENOMINATIONS, n_products)
    launch_cents = np.where(gift, (denominations * 100).astype(np.int64), _to_99(launch_usd))
    before = rng.random(n_products) < 0.85
    launch_day = np.where(before, -rng.integers(1, 3 * 365, n_products), rng.integers(0, days, n_products))
    popularity = rng.lognormal(0.0, 0.6, n_products)

    brand_pick = rng.integers(0, 1_000_000, n_products)
    adjective_pick = rng.integers(0, len(ADJECTIVES), n_products)
    noun_pick = rng.integers(0, 1_000_000, n_products)
    brands: list[str] = []
    product_names: list[str] = []
    for i, c in enumerate(category):
        department = ref.category_departments[c].strip().lower()
        options = BRANDS.get(department, ("Maison",))
        brand = options[brand_pick[i] % len(options)]
        nouns = CATEGORY_PROFILES.get(names[i], DEFAULT_PROFILE)[1]
        if gift[i]:
            product_names.append(f"{brand} Gift Card {launch_cents[i] // 100} USD")
        else:
            noun = nouns[noun_pick[i] % len(nouns)]
            product_names.append(f"{brand} {ADJECTIVES[adjective_pick[i]]} {noun}")
        brands.append(brand)

    # Price changes every 60-120 days by +-5..15 %, from launch to the last simulated day.
    k_max = (days + 3 * 365) // 60 + 2
    gaps = rng.integers(60, 121, (n_products, k_max))
    change_day = launch_day[:, None] + np.cumsum(gaps, axis=1)
    step = rng.uniform(0.05, 0.15, (n_products, k_max)) * np.where(
        rng.random((n_products, k_max)) < 0.55, 1, -1
    )
    unused = (change_day > days - 1) | gift[:, None]
    change_day = np.where(unused, np.iinfo(np.int32).max, change_day)
    prices = np.empty((n_products, k_max + 1), dtype=np.int64)
    prices[:, 0] = launch_cents
    for k in range(k_max):
        proposed = _to_99(prices[:, k] / 100.0 * (1 + step[:, k]))
        prices[:, k + 1] = np.where(unused[:, k], prices[:, k], proposed)
    return Catalog(
        category=category,
        brand=brands,
        name=product_names,
        launch_day=launch_day,
        launch_cents=launch_cents,
        popularity=popularity,
        gift_card=gift,
        change_day=change_day,
        price_cents=prices,
    )


@dataclass(frozen=True)
class Promotions:
    """Promotion rows sorted by start day (index = promotion number - 1)."""

    product: np.ndarray
    store: np.ndarray  # store index, -1 = all stores
    start_day: np.ndarray
    end_day: np.ndarray
    discount: np.ndarray
    export_day: np.ndarray

    def discount_matrix(self, day: int, n_stores: int, n_products: int) -> np.ndarray:
        """Largest active discount per (store, product) on `day`."""
        result = np.zeros((n_stores, n_products))
        active = (self.start_day <= day) & (self.end_day >= day)
        everywhere = active & (self.store < 0)
        overall = np.zeros(n_products)
        np.maximum.at(overall, self.product[everywhere], self.discount[everywhere])
        local = active & (self.store >= 0)
        np.maximum.at(result, (self.store[local], self.product[local]), self.discount[local])
        return np.maximum(result, overall[None, :])


# Merchandising plans ahead: promotions are published four weeks before they start and price
# changes three weeks before they take effect, so a 14-day forecast can know them.
PROMOTION_NOTICE_DAYS = 28
PRICE_CHANGE_NOTICE_DAYS = 21


def build_promotions(seed: int, catalog: Catalog, n_stores: int, days: int) -> Promotions:
    """Per product, promotions of 3-14 days every 45-120 days; none for gift cards."""
    rng = rng_for(seed, Stream.PROMOTIONS)
    n = catalog.size
    k_max = (days + 60) // 45 + 2
    first = -60 + rng.integers(0, 90, n)
    duration = rng.integers(3, 15, (n, k_max))
    gaps = rng.integers(45, 121, (n, k_max))
    starts = first[:, None] + np.cumsum(gaps, axis=1) - gaps[:, :1]
    ends = starts + duration - 1
    discount = rng.choice(DISCOUNTS, (n, k_max), p=DISCOUNT_WEIGHTS)
    store = np.where(rng.random((n, k_max)) < 0.6, -1, rng.integers(0, n_stores, (n, k_max)))
    product = np.broadcast_to(np.arange(n)[:, None], (n, k_max))
    keep = (
        (starts >= catalog.launch_day[:, None])
        & (ends >= 0)
        & (starts - PROMOTION_NOTICE_DAYS <= days - 1)
        & ~catalog.gift_card[:, None]
    )
    order = np.lexsort((product[keep], starts[keep]))
    start_day = starts[keep][order]
    return Promotions(
        product=product[keep][order],
        store=store[keep][order],
        start_day=start_day,
        end_day=ends[keep][order],
        discount=discount[keep][order],
        export_day=np.maximum(start_day - PROMOTION_NOTICE_DAYS, 0),
    )
