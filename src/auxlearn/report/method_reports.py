"""The report of a run's selector and mixer, found by the method's name in its registry: the report above the
methods looks them up, so that the kit they build their reports with (``auxlearn.report_kit``) knows none."""

from __future__ import annotations

from auxlearn.mix import MIXERS
from auxlearn.report_kit.method import MixingReport, SelectionReport
from auxlearn.report_kit.run_data import RunData
from auxlearn.select import SELECTORS


def selection_report(run: RunData) -> SelectionReport:
    """The report of the run's selector; the default one for a method no longer (or never) registered."""
    method = SELECTORS.get(run.selection_method)
    return method.report if method is not None else SelectionReport()


def mixing_report(run: RunData) -> MixingReport:
    method = MIXERS.get(run.mixing_method)
    return method.report if method is not None else MixingReport()
