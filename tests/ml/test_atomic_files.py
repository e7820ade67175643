"""A file replaced whole: the new content after the block, the old one if the block fails, and
no staging file either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml import atomic_files


def test_the_file_is_replaced_and_no_staging_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "card.md"
    target.write_text("old")
    atomic_files.write_text(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]


def test_a_failed_write_leaves_the_old_file_and_no_staging_file(tmp_path: Path) -> None:
    target = tmp_path / "tokens.yml"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_files.replaced(target) as staging:
        staging.write_text("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.yml"]
