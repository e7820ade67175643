"""Redraws docs/img/monitoring-report.png: the top of the fraud champion's latest monitoring report
(verdicts and the first feature distributions), as a browser shows it. After `make run`:

    .venv/bin/python docs/img/monitoring_report.py

Needs Chromium (`apt-get install chromium`); the report itself is plain HTML with embedded images.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def latest_report(models_dir: Path, model: str) -> Path:
    reports = sorted(models_dir.glob(f"{model}/*/reports/monitoring-*.html"), key=lambda p: p.stat().st_mtime)
    if not reports:
        raise SystemExit(f"no monitoring report under {models_dir / model}: run `make run` first")
    return reports[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "data" / "models")
    parser.add_argument("--model", default="payment_fraud")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("monitoring-report.png"))
    parser.add_argument("--size", default="1100,1500", help="window width,height in pixels")
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is missing (apt-get install chromium)")
    report = latest_report(args.models_dir, args.model)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={args.size}", f"--screenshot={args.out}",
             report.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(f"{report} -> {args.out}")


if __name__ == "__main__":
    main()
