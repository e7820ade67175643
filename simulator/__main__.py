"""Command line: `python -m simulator generate --out data/landing --oracle-out data/oracle ...`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from simulator.config import REGIME_KINDS, ConfigError, RegimeChange, SimConfig
from simulator.engine import generate
from simulator.plant import PlantConfig, generate_plant

DEFAULTS = SimConfig()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Deterministic simulator of a retailer's operational systems and their daily exports.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser(
        "generate",
        help="write the landing zone and the oracle",
        description=(
            "Play the retailer's systems day by day and write what they export into a partitioned landing "
            "zone (docs/landing-contract.md), plus ground truth into the oracle directory. The output is a "
            "pure function of the arguments: same arguments, byte-identical files. Both output directories "
            "are deleted and recreated."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    gen.add_argument("--out", type=Path, default=DEFAULTS.out_dir, help="landing-zone directory (recreated)")
    gen.add_argument(
        "--oracle-out",
        type=Path,
        default=DEFAULTS.oracle_dir,
        help="ground-truth directory: demand.parquet, payments.parquet, defects.json, and with a regime "
        "change regime.json and regime_payments.parquet (recreated)",
    )
    gen.add_argument(
        "--seeds-dir", type=Path, default=DEFAULTS.seeds_dir, help="directory with the seed CSVs"
    )
    gen.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help="random seed; change it for another world"
    )
    gen.add_argument("--start", type=_date, default=DEFAULTS.start, help="first simulated day (YYYY-MM-DD)")
    gen.add_argument(
        "--days",
        type=int,
        default=DEFAULTS.days,
        help="number of simulated days (within holidays.csv coverage)",
    )
    gen.add_argument(
        "--customers",
        type=int,
        default=DEFAULTS.customers,
        help="legit customers (about 70%% signed up before the start, the rest during the period)",
    )
    gen.add_argument(
        "--stores",
        type=int,
        default=DEFAULTS.stores,
        help="physical stores: the first N physical stores of stores.csv (the online store S000 always runs)",
    )
    gen.add_argument("--products", type=int, default=DEFAULTS.products, help="products in the catalog")
    gen.add_argument(
        "--payments-per-day",
        type=int,
        default=DEFAULTS.payments_per_day,
        help="average payments (= orders) per day; fraud campaign volume scales with it",
    )
    gen.add_argument(
        "--defect-rate",
        type=float,
        default=DEFAULTS.defect_rate,
        help="rate of each data-quality defect kind per row (0 = perfectly clean exports)",
    )
    gen.add_argument(
        "--regime-change-day",
        type=_date,
        default=None,
        help="first day (YYYY-MM-DD) of a regime change; days before it are generated as without it "
        "(default: no regime change)",
    )
    gen.add_argument(
        "--regime-change",
        default=None,
        metavar="KINDS",
        help=f"comma-separated kinds of the regime change among {','.join(REGIME_KINDS)} "
        "(default with --regime-change-day: all of them)",
    )
    gen.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    plant = commands.add_parser(
        "plant",
        help="write the sensors domain's landing table (a plant's machine readings)",
        description="A second world for the sensors domain (simulator/plant.py): daily machine readings "
        "in <out>/sensors/readings/date=YYYY-MM-DD/, recreated. Switch the domain on with "
        "WAREHOUSE_DOMAINS=sensors.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    plant_defaults = PlantConfig(out_dir=DEFAULTS.out_dir)
    plant.add_argument("--out", type=Path, default=plant_defaults.out_dir, help="landing-zone directory")
    plant.add_argument("--seed", type=int, default=plant_defaults.seed, help="random seed")
    plant.add_argument("--start", type=_date, default=plant_defaults.start, help="first day (YYYY-MM-DD)")
    plant.add_argument("--days", type=int, default=plant_defaults.days, help="number of days")
    plant.add_argument("--machines", type=int, default=plant_defaults.machines, help="number of machines")
    return parser


def _regime_change(parser: argparse.ArgumentParser, args: argparse.Namespace) -> RegimeChange | None:
    if args.regime_change_day is None:
        if args.regime_change is not None:
            parser.error("--regime-change needs --regime-change-day")
        return None
    kinds = REGIME_KINDS if args.regime_change is None else args.regime_change
    return RegimeChange(day=args.regime_change_day, kinds=kinds)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "plant":
        config = PlantConfig(args.out, args.seed, args.start, args.days, args.machines)
        print(f"plant readings in {generate_plant(config)}")
        return 0
    config = SimConfig(
        out_dir=args.out,
        oracle_dir=args.oracle_out,
        seeds_dir=args.seeds_dir,
        seed=args.seed,
        start=args.start,
        days=args.days,
        customers=args.customers,
        stores=args.stores,
        products=args.products,
        payments_per_day=args.payments_per_day,
        defect_rate=args.defect_rate,
        progress=not args.no_progress,
        regime_change=_regime_change(parser, args),
    )
    try:
        summary = generate(config)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
