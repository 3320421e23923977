"""Selection methods: which auxiliary tasks to keep. One module per method behind ``Selector`` (base.py)."""

from __future__ import annotations

from typing import Any, Mapping

from auxlearn.plugins import instantiate
from auxlearn.select.autosem import AutoSemSelector
from auxlearn.select.base import Selection, Selector
from auxlearn.select.exhaustive import ExhaustiveSelector
from auxlearn.select.gradts.selector import GradTSSelector
from auxlearn.select.trivial import AllSelector, NoneSelector

SELECTORS: dict[str, type[Selector]] = {
    cls.name: cls for cls in (NoneSelector, AllSelector, AutoSemSelector, ExhaustiveSelector, GradTSSelector)
}


def build_selector(method: str, options: Mapping[str, Any]) -> Selector:
    return instantiate(SELECTORS, method, options, "select")


__all__ = ["SELECTORS", "Selection", "Selector", "build_selector"]
