"""A small landing zone of every domain, for tools that need landing files to exist but not many
(the SQL linter compiles the incremental branches of the landing models against it)."""

from __future__ import annotations

from pathlib import Path

from simulator.config import SimConfig
from simulator.engine import generate
from simulator.plant import PlantConfig, generate_plant

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"


def sample_landing(work: Path, days: int = 3) -> Path:
    """`days` of retail (200 customers, one store, five products) and of a two-machine plant under
    `work/landing`; the simulator's ground truth goes to `work/truth`. Returns the landing folder."""
    landing = work / "landing"
    config = SimConfig(
        out_dir=landing,
        oracle_dir=work / "truth",
        seeds_dir=SEEDS_DIR,
        days=days,
        customers=200,
        stores=1,
        products=5,
        payments_per_day=50,
        progress=False,
    )
    generate(config)
    generate_plant(PlantConfig(out_dir=landing, days=days, machines=2))
    return landing
