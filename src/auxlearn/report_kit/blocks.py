"""What a report is made of, independent of its format: sections of paragraphs, tables, figures and code.

html.py and markdown.py render these; every number is formatted here (``fmt``, ``fmt_gain``), so the tests can
compare the page with results.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Union

from auxlearn.stats import Comparison


def fmt(value: Optional[float]) -> str:
    """A score as the report shows it (4 decimals)."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def fmt_gain(value: Optional[float]) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.4f}"


def fmt_ratio(ratios: dict[str, float]) -> str:
    return " : ".join(f"{t} {r:g}" for t, r in ratios.items())


@dataclass
class Paragraph:
    text: str
    css: str = ""
    lead: str = ""  # shown in bold before the text


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    id: str = ""
    caption: str = ""
    row_classes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    name: str  # file stem for report.md's images
    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Code:
    text: str


Block = Union[Paragraph, Table, Figure, Code]


@dataclass
class Section:
    title: str
    id: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    verdict: str
    sections: list[Section]
    gains: dict[str, Comparison]  # final − each reference arm ("baseline", "control"); empty for a study


def add_figure(blocks: list[Block], name: str, png: Optional[bytes], alt: str, caption: str = "") -> None:
    """Append the figure when there was something to draw (a plot function returns None otherwise)."""
    if png:
        blocks.append(Figure(name, png, alt, caption))


def format_seconds(seconds: float) -> str:
    """A duration as people read it (here, without the plotting library: `auxlearn run --dry-run` says it too)."""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
