"""Several dbt and `python -m ml` commands in one process, one after another, as a Dagster run executes
its steps: dbt runs through the run's in-process runner (orchestration/lib/dbt_in_process.py), so
dbt is imported and the project parsed once for all the commands instead of once per command.

    python -m tests.in_process "dbt build --selector before_ml" \\
        "LANDING_DAY_FROM=2025-03-01 LANDING_DAY_TO=2025-03-01 dbt build --selector daily" \\
        "ml score payment_fraud --days 2025-03-01 2025-03-01"

Each command is one argument, split into words as a shell would; `NAME=value` words before the
program set variables for that command only. The first command that fails ends the process with
its exit code, after its output.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time

from orchestration.lib.dbt_in_process import InProcessDbt
from orchestration.lib.environment import WAREHOUSE_DIR, environ_set


def parse(command: str) -> tuple[dict[str, str], str, list[str]]:
    """(variables, program, arguments) of one command line."""
    words = shlex.split(command)
    settings: dict[str, str] = {}
    while words and "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        settings[name] = value
    if not words or words[0] not in ("dbt", "ml"):
        raise SystemExit(f"not a dbt or ml command: {command!r}")
    return settings, words[0], words[1:]


def run_dbt(args: list[str], settings: dict[str, str]) -> int:
    dbt = InProcessDbt(["dbt", *args], env={**os.environ, **settings}, cwd=WAREHOUSE_DIR)
    for line in dbt.stdout:
        print(json.loads(line)["info"]["msg"], flush=True)
    return dbt.wait() or 0


def run_ml(args: list[str], settings: dict[str, str]) -> int:
    from ml.__main__ import main

    with environ_set(settings):
        return main(args)


def main(commands: list[str]) -> int:
    for command in commands:
        settings, program, args = parse(command)
        print(f"$ {command}", flush=True)
        started = time.monotonic()
        code = (run_dbt if program == "dbt" else run_ml)(args, settings)
        print(f"({time.monotonic() - started:.1f} s)", flush=True)
        if code:
            print(f"failed ({code}): {command}", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
