"""Self-contained HTML reports: one file, pictures inlined as PNG data, no script and no link out, so
it opens from a laptop, a ticket or an e-mail as it is. The training and monitoring reports build
their sections; this module only assembles them."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1b1f24; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
td, th { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; }
td:first-child, th:first-child, td.text { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; } .figures img { max-width: 33rem; }
p.note { color: #57606a; }
"""


@dataclass
class Section:
    title: str
    note: str = ""
    tables: list[tuple[list[str], list[list[object]]]] = field(default_factory=list)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (alt text, PNG)


def _td(value: object) -> str:
    """A cell: numbers right-aligned, text left-aligned."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f"<td>{_cell(value)}</td>" if numeric or value is None else f'<td class="text">{_cell(value)}</td>'


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape("-" if value is None else str(value))


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join("<tr>" + "".join(_td(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(alt: str, png: bytes) -> str:
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def page(title: str, facts: dict[str, object], sections: list[Section]) -> str:
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _table(["", ""], [[name, value] for name, value in facts.items()]),
    ]
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        parts += [_table(header, rows) for header, rows in section.tables]
        if section.images:
            figures = "".join(_image(alt, picture) for alt, picture in section.images)
            parts.append(f'<div class="figures">{figures}</div>')
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
