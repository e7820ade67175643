"""A deterministic retailer simulator that writes a landing zone (see docs/landing-contract.md).

    from simulator import SimConfig, generate
    summary = generate(SimConfig(out_dir=Path("data/landing"), oracle_dir=Path("data/oracle")))

The output is a pure function of the SimConfig: the same config gives byte-identical files.
Ground truth (expected demand, true fraud) goes to the oracle directory, never to the landing zone.
The public names are imported lazily, so that the file-writer child process (`simulator.sink`)
starts without loading the whole simulator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.config import ConfigError, RegimeChange, SimConfig
    from simulator.engine import generate
    from simulator.summary import GenerationSummary

__all__ = ["ConfigError", "GenerationSummary", "RegimeChange", "SimConfig", "generate"]
_HOMES = {
    "ConfigError": "simulator.config",
    "RegimeChange": "simulator.config",
    "SimConfig": "simulator.config",
    "generate": "simulator.engine",
    "GenerationSummary": "simulator.summary",
}


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute {name!r}")
