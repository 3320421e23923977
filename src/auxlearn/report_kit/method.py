"""What a method says about its own result in the report.

A selector or mixer class carries ``report``, an instance of a subclass of ``SelectionReport`` or
``MixingReport``; the defaults below suit a method with no evidence of its own. The report (``auxlearn.report``)
finds a run's method by name, composes their sections and holds no method's name.
"""

from __future__ import annotations

from typing import Callable

from auxlearn.report_kit.blocks import Block
from auxlearn.report_kit.run_data import RunData


class SelectionReport:
    """A selector's part of the report: why it kept its tasks, and the evidence shown after the scores table."""

    score_column = "score"  # the header of the selection-scores table's score column
    score_meaning = "selection score"  # what a study's task x task matrix colours
    neutral_score = 0.0  # the matrix colour scale's centre: a score that says nothing either way

    def explain(self, run: RunData) -> str:
        """Why these tasks, in one paragraph."""
        return f"Selection method '{run.selection_method}' kept {', '.join(run.selected) or 'no task'}."

    def evidence(self, run: RunData) -> list[Block]:
        return []


class MixingReport:
    """A mixer's part of the report: words that end "Mixing (m) chose the ratios r", and its evidence."""

    def outcome(self, run: RunData) -> str:
        return ""

    def evidence(self, run: RunData) -> list[Block]:
        return []


def listing(tasks: list[str], scores: dict[str, float], fmt_score: Callable[[float], str],
            note: Callable[[str], str] = lambda task: "") -> str:
    """``"a (0.71), b (0.52)"``: each task with its formatted score and a note, when it has a score."""
    return ", ".join(f"{t} ({fmt_score(scores[t])}{note(t)})" if t in scores else t for t in tasks)
