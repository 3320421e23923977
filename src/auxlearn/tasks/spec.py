"""TaskSpec: everything auxlearn needs to know about a task, validated once."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from auxlearn.config_types import PairEncoding
from auxlearn.aang.objectives.space import Objective
from auxlearn.tasks.metrics import LOWER_IS_BETTER, check_metric
from auxlearn.tasks.types import TASK_TYPES, TaskType

InvalidUtf8 = Literal["error", "replace"]  # what reading bytes that are not UTF-8 does (an error, or U+FFFD)


class DataSource(BaseModel):
    """Where a task's rows come from.

    ``path`` is a hub dataset id (``nyu-mll/glue``) or a folder in the hub's layout; offline it is looked
    up under the data dir by ``local`` (``glue``). ``files`` names local files per split instead
    (csv, tsv, jsonl, parquet), relative to the task file. ``splits`` maps auxlearn's split names to the
    dataset's own split names.
    """

    model_config = ConfigDict(extra="forbid")

    path: Optional[str] = None
    config: Optional[str] = None
    local: Optional[str] = None
    files: Optional[dict[Literal["train", "eval", "test"], str]] = None
    splits: dict[Literal["train", "eval", "test"], str] = Field(
        default_factory=lambda: {"train": "train", "eval": "validation", "test": "test"}
    )
    invalid_utf8: InvalidUtf8 = Field(
        "error", description="local text files with bytes that are not UTF-8: an error naming the line, or replace "
                             "them with U+FFFD (the count of lines affected is printed)")

    @model_validator(mode="after")
    def _one_source(self) -> "DataSource":
        if (self.path is None and self.local is None) == (self.files is None):
            raise ValueError("give either 'files' (local files per split) or 'path'/'local' (a hub dataset)")
        return self


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: str  # a name in TASK_TYPES; ``task_type`` is the type itself
    text_fields: list[str] = Field(min_length=1, max_length=2)
    label_field: Optional[str] = None  # None only for a type without labels (masked_lm)
    label_names: Optional[list[str]] = None
    metrics: list[str] = Field(default_factory=list)
    main_metric: list[str] = Field(default_factory=list)
    direction: Literal["maximize", "minimize"] = "maximize"
    max_length: int = Field(128, gt=0)
    source: DataSource
    replaces: bool = Field(False, description="a user task that takes a built-in task's name must say so")
    objective: Optional[Objective] = Field(
        None, description="an objective's task (tasks/objective_tasks.py): how its batches are made from the text")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TASK_TYPES:
            raise ValueError(f"unknown task type {value!r}; known types: {', '.join(TASK_TYPES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        if len(set(self.text_fields)) != len(self.text_fields):
            raise ValueError(f"text_fields names one column twice: {self.text_fields}")
        if self.label_field in self.text_fields:
            raise ValueError(f"{self.label_field!r} is both a text field and the label field: the model would "
                             "read the answer")
        for metric in self.metrics:
            check_metric(metric, f"task {self.name!r}")
        missing = [m for m in self.main_metric if m not in self.metrics]
        if missing:
            raise ValueError(f"main_metric {missing} not among the task's metrics {self.metrics}")
        self.task_type.validate(self)
        if self.label_names is not None and len(set(self.label_names)) != len(self.label_names):
            raise ValueError("label_names has duplicates")
        return self

    @property
    def task_type(self) -> TaskType:
        return TASK_TYPES[self.type]

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "maximize"

    def signed(self, score: float) -> float:
        """``score`` as 'higher is better', whatever the main metric's direction: the one place of that rule."""
        return score if self.higher_is_better else -score

    def siamese(self, pair_encoding: PairEncoding) -> bool:
        """Whether the task's texts are encoded apart (a pair task under siamese, as its type decides)."""
        return self.task_type.siamese(self, pair_encoding)

    @property
    def num_labels(self) -> int:
        return self.task_type.num_labels(self)


def default_direction(main_metric: list[str]) -> str:
    return "minimize" if main_metric and all(m in LOWER_IS_BETTER for m in main_metric) else "maximize"
