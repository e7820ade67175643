"""The model card's monitoring section: the latest pass's verdicts and plots, in `card.md` beside
the version, with a link to that pass's HTML report. Each pass replaces the section (between two
markers), so the card shows how the version is doing now, and the reports folder keeps every pass.

The card is not one of the artifact's hashed files (ml/artifacts.py): updating it never makes a
registered version look altered."""

from __future__ import annotations

import re
from pathlib import Path

from ml import atomic_files
from ml.html_report import Section

START, END = "<!-- monitoring:start -->", "<!-- monitoring:end -->"
BEFORE = "## Limitations"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _cell(value: object) -> str:
    text = f"{value:.4f}" if isinstance(value, float) else "-" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def monitoring_markdown(sections: list[Section], report: Path, heading: str) -> str:
    """The card section; writes each image as a PNG in a folder named after the report."""
    folder = report.with_suffix("")
    folder.mkdir(parents=True, exist_ok=True)
    base = report.parent.name  # the card sits one level above the reports folder
    lines = [START, f"## {heading}", "", f"Full report: [{report.name}]({base}/{report.name})"]
    for number, section in enumerate(sections, 1):
        lines += ["", f"### {section.title}"]
        if section.note:
            lines += ["", section.note]
        for header, rows in section.tables:
            lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
        for alt, data in section.images:
            name = f"{number}-{_slug(alt)}.png"
            atomic_files.write_bytes(folder / name, data)
            lines += ["", f"![{alt}]({base}/{folder.name}/{name})"]
    return "\n".join([*lines, END])


def update_card(card: Path, section: str) -> None:
    """Replace the card's monitoring section, or add it before the limitations (or at the end)."""
    if not card.is_file():
        return  # a version trained before cards: the report alone
    text = card.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    elif BEFORE in text:
        head, tail = text.split(BEFORE, 1)
        text = f"{head}{section}\n\n{BEFORE}{tail}"
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    atomic_files.write_text(card, text)
