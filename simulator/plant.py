"""A second, unrelated world for the `sensors` domain (ml/domains.py): a plant's machines wear out,
their sensors show it, and they break down. One parquet file of readings per day lands in
`<out>/sensors/readings/date=YYYY-MM-DD/`. Deterministic: same arguments, byte-identical files.

Each machine carries a hidden wear level that grows with the hours it runs. Vibration and
temperature rise with wear, pressure falls, and the daily chance of a breakdown climbs steeply past
a wear of about 0.8. A breakdown, or now and then a planned service, resets the wear.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from simulator.files import write_parquet

MACHINE_TYPES = ("press", "lathe", "pump")
# per type: (vibration mm/s, temperature C, pressure bar) of a machine as new
NEW = {"press": (2.0, 45.0, 180.0), "lathe": (1.2, 38.0, 60.0), "pump": (3.0, 52.0, 12.0)}
PLANT_OFFSET = timezone(timedelta(hours=1))  # the plant exports local times with their offset


@dataclass(frozen=True)
class PlantConfig:
    out_dir: Path
    seed: int = 11
    start: date = date(2024, 10, 1)
    days: int = 200
    machines: int = 30


def _readings(config: PlantConfig) -> list[tuple[date, pa.Table]]:
    rng = np.random.default_rng(config.seed)
    n = config.machines
    ids = [f"M{index:03d}" for index in range(1, n + 1)]
    kinds = [MACHINE_TYPES[index % len(MACHINE_TYPES)] for index in range(n)]
    new = np.array([NEW[kind] for kind in kinds])
    wear_rate = rng.uniform(1 / 70, 1 / 35, n)  # wear per 24 hours of running
    wear = rng.uniform(0.0, 0.6, n)
    days = []
    for offset in range(config.days):
        day = config.start + timedelta(days=offset)
        runtime = np.round(rng.uniform(14.0, 24.0, n), 2)
        wear += wear_rate * runtime / 24
        hazard = 0.002 + 0.3 / (1 + np.exp(-12 * (wear - 1.0)))
        failed = rng.random(n) < hazard
        vibration = new[:, 0] * (1 + 1.8 * wear**2) + rng.normal(0, 0.25, n)
        temperature = new[:, 1] + 9 * wear + rng.normal(0, 1.5, n)
        pressure = new[:, 2] * (1 - 0.08 * wear) + rng.normal(0, new[:, 2] * 0.02, n)
        read_at = datetime.combine(day, datetime.min.time(), PLANT_OFFSET) + timedelta(hours=23, minutes=30)
        table = pa.table(
            {
                "machine_id": ids,
                "machine_type": kinds,
                "read_at": [read_at.isoformat()] * n,
                "temperature_c": np.round(temperature, 2),
                "vibration_mm_s": np.round(vibration, 3),
                "pressure_bar": np.round(pressure, 2),
                "runtime_hours": runtime,
                "failed": failed,
            }
        )
        days.append((day, table))
        serviced = rng.random(n) < 0.01
        reset = failed | serviced
        wear[reset] = rng.uniform(0.0, 0.1, int(reset.sum()))
    return days


def generate_plant(config: PlantConfig) -> Path:
    """Write the readings; returns the landing table's folder (recreated)."""
    folder = config.out_dir / "sensors" / "readings"
    shutil.rmtree(folder, ignore_errors=True)
    for day, table in _readings(config):
        write_parquet(table, folder / f"date={day.isoformat()}" / "part-0.parquet")
    return folder
