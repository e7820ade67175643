"""The simulator's knobs (SimConfig) and their validation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from simulator.reference import Reference

MAX_PRODUCTS = 20_000  # product ids P00001..P20000; P9xxxx is reserved for orphan defects
MAX_CUSTOMERS = 5_000_000
MAX_DEFECT_RATE = 0.05
# What a regime change can switch on (see RegimeChange).
FRAUD_PATTERN, DEMAND_SHOCK = "fraud_pattern", "demand_shock"
REGIME_KINDS = (FRAUD_PATTERN, DEMAND_SHOCK)


class ConfigError(ValueError):
    """A knob has a value the simulator cannot honour."""


@dataclass(frozen=True)
class RegimeChange:
    """From `day` on (inclusive), the world changes: a new fraud pattern and/or a demand shock.

    Days before `day` are generated exactly as without the change; see simulator/README.md.
    """

    day: date
    kinds: tuple[str, ...] = REGIME_KINDS

    def __post_init__(self) -> None:
        # Accept "fraud_pattern,demand_shock" or any iterable of names; store a tuple (hashable, frozen).
        kinds = self.kinds.split(",") if isinstance(self.kinds, str) else self.kinds
        object.__setattr__(self, "kinds", tuple(str(k).strip() for k in kinds))

    def has(self, kind: str) -> bool:
        return kind in self.kinds


@dataclass(frozen=True)
class SimConfig:
    """Everything `generate` depends on; the output is a pure function of these values."""

    out_dir: Path = field(default=Path("data/landing"))
    oracle_dir: Path = field(default=Path("data/oracle"))
    seeds_dir: Path = field(default=Path("seeds"))
    seed: int = 7
    start: date = date(2025, 1, 1)
    days: int = 425
    customers: int = 20_000
    stores: int = 8
    products: int = 60
    payments_per_day: int = 1_200
    defect_rate: float = 0.002
    progress: bool = True
    regime_change: RegimeChange | None = None  # None: no regime change (the default)

    @property
    def end(self) -> date:
        """Last simulated day (inclusive)."""
        return self.start + timedelta(days=self.days - 1)

    def regime_day(self, kind: str) -> int | None:
        """Index of the first day of regime change `kind`, or None when it is not switched on."""
        change = self.regime_change
        if change is None or not change.has(kind):
            return None
        return (change.day - self.start).days


def validate(config: SimConfig, reference: Reference) -> None:
    """Raise ConfigError with a clear message for any knob out of range."""
    problems: list[str] = []
    if config.seed < 0:
        problems.append(f"seed must be >= 0 (got {config.seed})")
    if config.days < 1:
        problems.append(f"days must be >= 1 (got {config.days})")
    if not 1 <= config.customers <= MAX_CUSTOMERS:
        problems.append(f"customers must be in 1..{MAX_CUSTOMERS} (got {config.customers})")
    n_physical = len(reference.physical_stores)
    if not 0 <= config.stores <= n_physical:
        problems.append(
            f"stores must be in 0..{n_physical}, the physical stores in stores.csv (got {config.stores})"
        )
    if not 1 <= config.products <= MAX_PRODUCTS:
        problems.append(f"products must be in 1..{MAX_PRODUCTS} (got {config.products})")
    if config.payments_per_day < 1:
        problems.append(f"payments-per-day must be >= 1 (got {config.payments_per_day})")
    if not 0.0 <= config.defect_rate <= MAX_DEFECT_RATE:
        problems.append(f"defect-rate must be in 0..{MAX_DEFECT_RATE} (got {config.defect_rate})")
    first, last = reference.holiday_coverage()
    if config.start < first or config.days > (last - config.start).days + 1:
        span = f"{config.start} + {config.days} days"
        problems.append(f"date range {span} is outside the holidays.csv coverage {first}..{last}")
    problems += _regime_problems(config)
    out, oracle = Path(config.out_dir).resolve(), Path(config.oracle_dir).resolve()
    if out == oracle or out in oracle.parents or oracle in out.parents:
        problems.append(f"--out ({out}) and --oracle-out ({oracle}) must be separate directories")
    cwd, home, seeds = Path.cwd().resolve(), Path.home().resolve(), Path(config.seeds_dir).resolve()
    for label, path in (("--out", out), ("--oracle-out", oracle)):
        if path in (cwd, home, seeds) or path in cwd.parents or path in seeds.parents or path in home.parents:
            problems.append(f"{label} {path} would be deleted and recreated; pick a dedicated directory")
    if problems:
        raise ConfigError("invalid simulator configuration:\n  - " + "\n  - ".join(problems))


def _regime_problems(config: SimConfig) -> list[str]:
    change = config.regime_change
    if change is None:
        return []
    problems: list[str] = []
    if not isinstance(change.day, date):
        problems.append(f"regime-change-day must be a date (got {change.day!r})")
    elif not config.start <= change.day <= config.end:
        problems.append(
            f"regime-change-day {change.day} is outside the simulated range {config.start}..{config.end}"
        )
    kinds = change.kinds
    unknown = [k for k in kinds if k not in REGIME_KINDS]
    if unknown:
        known = ", ".join(REGIME_KINDS)
        problems.append(f"regime-change kinds must be among {known} (got unknown {unknown})")
    if not kinds:
        problems.append(f"regime-change needs at least one kind among {', '.join(REGIME_KINDS)}")
    elif len(set(kinds)) != len(kinds):
        problems.append(f"regime-change kinds must not repeat (got {list(kinds)})")
    return problems
