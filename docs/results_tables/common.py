"""What every results table shares: reading ``bench/results/*.json``, and writing numbers and tables alike.

Kept apart from the tables so that each page's module holds only its own wording, and a sign, an interval or a
task name reads the same on every page.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import yaml


ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
MINUS = "\u2212"

log = logging.getLogger("mkdocs.hooks.gen_results")

NAMES = {  # how the tables write task names
    "rte": "RTE", "mrpc": "MRPC", "stsb": "STS-B", "sst2": "SST-2", "cola": "CoLA", "mnli": "MNLI", "qqp": "QQP",
    "qnli": "QNLI", "wnli": "WNLI", "citation_intent": "citation intent", "conll2003_ner": "CoNLL-2003 NER",
    "conll2003_pos": "CoNLL-2003 POS", "ag_news": "AG News", "rct": "PubMed RCT",
}


class MissingResults(Exception):
    """A table's JSON file is absent or unreadable."""


# --------------------------------------------------------------------------------------------------- formatting


def name(task: str) -> str:
    return NAMES.get(task, task)


def signed(value: float, digits: int) -> str:
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        text = f"+{abs(value):.{digits}f}"  # +0.0 rather than -0.0
    return text.replace("-", MINUS)


def number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace("-", MINUS)


def mean_std(values: Iterable[float], digits: int = 3) -> str:
    """Mean ± sample standard deviation; one value alone."""
    values = list(values)
    if len(values) == 1:
        return number(values[0], digits)
    return f"{number(statistics.mean(values), digits)} ± {statistics.stdev(values):.{digits}f}"


def interval(test: dict[str, Any], scale: float = 1.0, digits: int = 3, p_digits: Optional[int] = None) -> str:
    """A paired test's mean (low to high), optionally with its p value."""
    text = signed(scale * test["mean"], digits)
    if test.get("low") is not None and test.get("high") is not None:
        text += f" ({signed(scale * test['low'], digits)} to {signed(scale * test['high'], digits)})"
    if p_digits is not None and test.get("p_value") is not None:
        text += f", p {test['p_value']:.{p_digits}f}"
    return text


def points(test: dict[str, Any], p_digits: Optional[int] = None) -> str:
    return interval(test, 100, 1, p_digits)


def span(values: Iterable[float], fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> str:
    values = sorted(values)
    low, high = fmt(values[0]), fmt(values[-1])
    return low if low == high else f"{low}–{high}"


def two_significant(value: float) -> str:
    """2.6, 0.33, 0.010, 100: a share in percent to two significant figures."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.{max(1 - math.floor(math.log10(value)), 0)}f}"


def table(header: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


# ------------------------------------------------------------------------------------------------------ reading


def load(stem: str) -> dict[str, Any]:
    path = RESULTS / f"{stem}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingResults(f"{path.relative_to(ROOT)} not found") from None
    except (OSError, ValueError) as error:
        raise MissingResults(f"{path.relative_to(ROOT)}: {error}") from None


def example_steps(example: str) -> int:
    """``train.steps`` of an example experiment (the recipe a bench ran)."""
    return yaml.safe_load((ROOT / "examples" / example).read_text(encoding="utf-8"))["train"]["steps"]


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(a: list[float], b: list[float]) -> float:
    return statistics.correlation(ranks(a), ranks(b))
