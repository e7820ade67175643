"""The worlds the benchmark runs on: simulator arguments and which extra measurements each gets.

Every scale is seed 7 from 2025-01-01, so a scale's landing zone is the same bytes on every run
(the simulator is a pure function of its arguments). `default` is exactly the Makefile's SIM_ARGS,
i.e. the world `make run` builds.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMON = ("--seed", "7", "--start", "2025-01-01")


@dataclass(frozen=True)
class Scale:
    name: str
    sim_args: tuple[str, ...]
    # the incremental scenario: a full Dagster run, then the held-back landing day on its own
    dagster_scenario: bool = False
    # `python -m bench.scoring` (the scoring speed figures), when that module exists
    scoring_microbench: bool = False
    # the online API under 500 requests/s on loopback (bench/serving.py)
    serving_load: bool = False
    # the pandas baseline runs here unless --skip-baseline (elsewhere only with --baseline)
    baseline_by_default: bool = False
    # the production specs need a 90-day label maturity plus validation and test windows: a
    # 120-day world trains with the shortened specs of the test suite (tests/pipeline.py)
    short_specs: bool = False

    @property
    def description(self) -> str:
        return " ".join(self.sim_args)


SCALES: dict[str, Scale] = {
    scale.name: scale
    for scale in (
        # the smoke test's world: the test suite's tiny pipeline volumes (300 payments a day over
        # 120 days, 2 stores and 12 products) with the benchmark's seed and more customers
        Scale(
            "tiny",
            (
                *COMMON,
                "--days",
                "120",
                "--payments-per-day",
                "300",
                "--customers",
                "3000",
                "--stores",
                "2",
                "--products",
                "12",
            ),
            dagster_scenario=True,
            short_specs=True,
        ),
        # `make run`'s world: 1,200 payments a day, 20,000 customers (about 515k payments)
        Scale(
            "default",
            (*COMMON, "--days", "425"),
            dagster_scenario=True,
            scoring_microbench=True,
            serving_load=True,
        ),
        # about 1M payments
        Scale(
            "M",
            (*COMMON, "--days", "425", "--payments-per-day", "2400", "--customers", "40000"),
            dagster_scenario=True,  # one new day against rerunning the notebook (issue 13)
            scoring_microbench=True,
            baseline_by_default=True,
        ),
        # about 10M payments; only when named (`--scale L`): the CLI's default is `default`
        Scale(
            "L",
            (*COMMON, "--days", "425", "--payments-per-day", "24000", "--customers", "400000"),
            scoring_microbench=True,
        ),
    )
}
