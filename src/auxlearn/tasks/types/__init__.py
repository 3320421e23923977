"""Task types by name, as task specs and YAML files spell them. One module per type behind ``TaskType``
(base.py); a new type is its module plus its line in the registry below."""

from __future__ import annotations

from auxlearn.aang.objectives.transforms import IGNORE_INDEX
from auxlearn.tasks.types.base import TaskType
from auxlearn.tasks.types.classification import Classification
from auxlearn.tasks.types.masked_lm import MaskedLM
from auxlearn.tasks.types.regression import Regression
from auxlearn.tasks.types.tagging import Tagging

TASK_TYPES: dict[str, TaskType] = {t.name: t for t in (Classification(), Regression(), Tagging(), MaskedLM())}

__all__ = ["IGNORE_INDEX", "TASK_TYPES", "TaskType"]
