"""Selection methods: which auxiliary tasks to keep. One module per method behind ``Selector`` (base.py)."""

from __future__ import annotations

from typing import Any, Mapping

from auxlearn.plugins import build
from auxlearn.select.alignment import AlignmentSelector
from auxlearn.select.all_none import AllSelector, NoneSelector
from auxlearn.select.atlas_prior import AtlasSelector
from auxlearn.select.autosem import AutoSemSelector
from auxlearn.select.base import Selection, Selector
from auxlearn.select.exhaustive import ExhaustiveSelector
from auxlearn.select.gradts.selector import GradTSSelector
from auxlearn.select.random_k import RandomKSelector
from auxlearn.select.similarity import SimilaritySelector

SELECTORS: dict[str, type[Selector]] = {
    cls.name: cls for cls in (NoneSelector, AllSelector, AutoSemSelector, ExhaustiveSelector, GradTSSelector,
                              RandomKSelector, SimilaritySelector, AtlasSelector, AlignmentSelector)
}


def build_selector(method: str, options: Mapping[str, Any]) -> Selector:
    return build(SELECTORS, method, options, "select")


__all__ = ["SELECTORS", "Selection", "Selector", "build_selector"]
