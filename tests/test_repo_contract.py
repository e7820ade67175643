"""The promises the repository makes to a newcomer and to CI."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

PIPELINE_CODE = ("warehouse", "ml", "orchestration")
SKIPPED_DIRS = {"target", "logs", "dbt_packages", "__pycache__"}


def test_top_level_layout() -> None:
    for name in ("warehouse", "ml", "orchestration", "seeds", "tests", "simulator", ".ci"):
        assert (REPO_ROOT / name).is_dir(), name
    for name in ("workspace.yaml", "pyproject.toml", "README.md", "Makefile", ".ci/run"):
        assert (REPO_ROOT / name).is_file(), name


def test_readme_quick_start_is_exactly_the_two_make_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```(?:bash|sh)?\n(.*?)```", section, flags=re.S)
    lines = [line.strip() for block in commands for line in block.splitlines() if line.strip()]
    assert lines == ["make run", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text()
    steps = [
        line.strip()
        for line in script.splitlines()
        if line.strip() and not line.strip().startswith(("#", "set ", "cd ", "python3 --version"))
    ]
    # the last step is the README's command; the only other steps install Debian packages (Chromium
    # for the UI screenshot test, PostgreSQL for the deployment's storage test, Java for Spark,
    # fiu-utils for the failing-write tests, Redis for the streaming tests) when missing and print
    # free disk, never a Python dependency
    assert steps[-1] == "make test"
    allowed = (
        *("command -v chromium", "command -v initdb", "command -v java", "command -v fiu-run"),
        "command -v redis-server",
        *("df -h ", "trap 'df -h "),
        *("missing=()", "if ((${#missing[@]})); then", "apt-get update", "DEBIAN_FRONTEND=", "fi"),
    )
    assert all(step.startswith(allowed) for step in steps[:-1]), steps
    assert not [step for step in steps[:-1] if re.search(r"\b(pip|uv|python3? -m)\b", step)], steps


def test_makefile_has_the_documented_targets() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target in ("run", "test", "dev", "lint", "install"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    assert "python3" in makefile and "-m venv" in makefile


def test_generated_data_is_git_ignored() -> None:
    assert "data/" in (REPO_ROOT / ".gitignore").read_text().split()


def files_naming_the_oracle(root: Path, tops: tuple[str, ...] = PIPELINE_CODE) -> list[str]:
    """Files under the pipeline folders of `root` whose text mentions the oracle."""
    offenders = []
    for top in tops:
        for path in (root / top).rglob("*"):
            if not path.is_file() or SKIPPED_DIRS & set(path.relative_to(root).parts):
                continue
            if "oracle" in path.read_text(errors="ignore").lower():
                offenders.append(str(path.relative_to(root)))
    return offenders


def test_no_pipeline_code_reads_the_oracle() -> None:
    # data/oracle/ holds the simulator's ground truth; only the evaluation may read it, and no
    # dbt model, macro, source or pipeline module may even name it. (The build test also deletes
    # the oracle before running dbt.)
    assert files_naming_the_oracle(REPO_ROOT) == []


def test_the_oracle_scan_finds_a_planted_leak(tmp_path: Path) -> None:
    for top in PIPELINE_CODE:
        (tmp_path / top).mkdir()
    (tmp_path / "warehouse" / "leak.sql").write_text("select * from read_parquet('../data/ORACLE/p.parquet')")
    (tmp_path / "warehouse" / "target").mkdir()
    (tmp_path / "warehouse" / "target" / "ignored.sql").write_text("oracle")
    assert files_naming_the_oracle(tmp_path) == ["warehouse/leak.sql"]


def tracked_folders(depth: int = 2) -> set[str]:
    """Every folder holding a tracked file, to `depth` levels below the repository root."""
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = set()
    for name in files:
        parts = Path(name).parts[:-1]
        folders.update("/".join(parts[:level]) for level in range(1, min(depth, len(parts)) + 1))
    return folders


def test_the_readme_folder_map_names_every_folder() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Folder map", 1)[1].split("\n## ", 1)[0]
    missing = sorted(folder for folder in tracked_folders() if f"`{folder}/`" not in section)
    assert missing == [], f"folders the README's folder map does not name: {missing}"


def test_pipeline_code_knows_nothing_of_fault_injection() -> None:
    # write points are audit events (ml/write_points.py); killing a process at one is the tests'
    # business (tests/reliability/faults.py), so no pipeline module reads CRASH_AT or imports tests
    offenders = []
    for top in PIPELINE_CODE:
        for path in (REPO_ROOT / top).rglob("*.py"):
            text = path.read_text()
            if "CRASH_AT" in text or re.search(r"^\s*(from|import) tests\b", text, flags=re.M):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []


def test_every_path_default_has_one_home() -> None:
    # ml/settings.py reads WAREHOUSE_DB, ANALYTICS_DB, ... and holds their defaults; every other
    # Python module asks it (the dbt project has its own, relative to warehouse/)
    from ml.settings import PATH_VARIABLES

    names = "|".join(PATH_VARIABLES)
    reads = re.compile(rf"""(environ\.get\(|environ\[|getenv\()\s*["']({names})["']""")
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for top in (*PIPELINE_CODE, "evaluation", "bench", "simulator")
        for path in (REPO_ROOT / top).rglob("*.py")
        if path.relative_to(REPO_ROOT) != Path("ml/settings.py") and reads.search(path.read_text())
    ]
    assert offenders == []
