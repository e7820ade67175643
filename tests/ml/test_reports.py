"""The monitoring pass's HTML report: self-contained, and rendered by a real (headless) browser
with every section there."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from matplotlib import image

from ml.monitoring.card import END, START
from ml.monitoring.reference import PREDICTION, build_reference
from ml.monitoring.report import monitoring_sections, write_report
from ml.specs import SPEC_DIR, parse_spec

SECTIONS = (
    "Verdicts",
    "Feature distributions against the drift reference",
    "PSI over time",
    "Matured and estimated performance over time",
)


def report(tmp_path: Path, as_of: datetime = datetime(2025, 3, 6)) -> Path:
    spec = parse_spec(yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text()), "payment_fraud.yml")
    rng = np.random.default_rng(4)
    frame = pl.DataFrame(
        {"amount_usd": rng.gamma(2.0, 30.0, 2_000), "channel": rng.choice(["web", "app"], 2_000)}
    )
    reference = build_reference(frame, ("amount_usd",), ("channel",), rng.random(2_000), bins=10)
    latest = frame.with_columns((pl.col("amount_usd") * 1.5), pl.Series("_score", rng.random(2_000)))
    days = [date(2025, 3, 1) + timedelta(days=d) for d in range(5)]
    drift = [
        {"window_start": day, "feature": name, "psi": psi * (1 + i), "status": "ok"}
        for i, day in enumerate(days)
        for name, psi in (("amount_usd", 0.05), ("channel", 0.01), (PREDICTION, 0.02))
    ]
    performance = [{"event_date": day, "auc_pr": 0.8 - 0.01 * i} for i, day in enumerate(days)]
    estimated = [{"event_date": day, "estimated_auc_pr": 0.78} for day in days]
    verdicts = [("feature_drift", "warn", "amount_usd: PSI 0.250"), ("segment_disparity", "ok", "fine")]
    sections = monitoring_sections(spec, reference, latest, drift, performance, estimated, verdicts)
    return write_report(tmp_path, spec, 3, as_of, sections)


def test_the_report_is_one_self_contained_file_beside_the_version(tmp_path: Path) -> None:
    path = report(tmp_path)
    assert path == tmp_path / "payment_fraud" / "3" / "reports" / "monitoring-20250306T000000.html"
    text = path.read_text()
    assert "http" not in text and "<script" not in text
    assert all(f"<h2>{title}</h2>" in text for title in SECTIONS)
    assert text.count("data:image/png;base64,") == 5  # two features and the output, PSI, performance


def test_the_model_card_shows_the_latest_pass_with_the_same_plots(tmp_path: Path) -> None:
    card = tmp_path / "payment_fraud" / "3" / "card.md"
    card.parent.mkdir(parents=True)
    card.write_text("# payment_fraud v3\n\n## Plots\n\n## Limitations\n\n- labels mature late\n")
    first = report(tmp_path)
    second = report(tmp_path, datetime(2025, 3, 7))  # the next pass replaces the section
    text = card.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    assert text.index("## Plots") < text.index(START) < text.index("## Limitations")
    assert "## Monitoring (data as of 2025-03-07 00:00)" in text and f"reports/{second.name}" in text
    assert all(f"### {title}" in text for title in SECTIONS)
    assert "| feature_drift | warn | amount_usd: PSI 0.250 |" in text
    images = [line[line.index("](") + 2 : -1] for line in text.splitlines() if line.startswith("![")]
    assert len(images) == 5  # the report's five charts, as files beside it
    assert all((card.parent / image_path).stat().st_size > 1000 for image_path in images)
    assert all(image_path.startswith(f"reports/{second.stem}/") for image_path in images)
    assert first.exists()  # every pass's report stays


def test_the_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    path, shot = report(tmp_path), tmp_path / "report.png"
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,2400"]  # fmt: skip
    dom = subprocess.run(
        [*common, "--dump-dom", path.as_uri()], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert all(f"<h2>{title}</h2>" in dom for title in SECTIONS)
    assert dom.count("<img") == 5
    subprocess.run(
        [*common, f"--screenshot={shot}", path.as_uri()], check=True, capture_output=True, timeout=120
    )
    pixels = image.imread(str(shot))
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1300
    # charts drawn: many colours, not a blank or an error page
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200, len(colours)
