"""`none` keeps no auxiliary task; `all` keeps every candidate (all-task MTL, the usual strong baseline)."""

from __future__ import annotations

from auxlearn.report_kit.method import SelectionReport
from auxlearn.select.base import Selection, Selector


class _NoneReport(SelectionReport):
    def explain(self, run):
        return "No selection was run: the final model is the primary alone."


class NoneSelector(Selector):
    name = "none"
    report = _NoneReport()
    trains = False

    def keeps_at_most(self, candidates: int) -> int:
        return 0

    def _select(self, stage):
        return Selection(self.name, [])


class _AllReport(SelectionReport):
    def explain(self, run):
        return f"The 'all' selector kept every candidate: {', '.join(run.selected) or 'none'}."


class AllSelector(Selector):
    name = "all"
    report = _AllReport()
    trains = False

    def _select(self, stage):
        return Selection(self.name, stage.candidates)
