"""TaskSpec: everything auxlearn needs to know about a task, validated once."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auxlearn.tasks.metrics import LOWER_IS_BETTER, check_metric

# Kept open: a new type adds an entry here, a head in models/heads.py and an encoder in data/encode.py.
TASK_TYPES = ("classification", "regression", "tagging")
# How a task with two texts is read: as one sequence (cross) or each text alone, then compared (siamese).
PairEncoding = Literal["cross", "siamese"]


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

    @model_validator(mode="after")
    def _one_source(self) -> "DataSource":
        if (self.path is None and self.local is None) == (self.files is None):
            raise ValueError("give either 'files' (local files per split) or 'path'/'local' (a hub dataset)")
        return self


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["classification", "regression", "tagging"]
    text_fields: list[str] = Field(min_length=1, max_length=2)
    label_field: str
    label_names: Optional[list[str]] = None
    metrics: list[str]
    main_metric: list[str] = Field(min_length=1)
    direction: Literal["maximize", "minimize"] = "maximize"
    max_length: int = Field(128, gt=0)
    source: DataSource

    @model_validator(mode="after")
    def _consistent(self) -> "TaskSpec":
        for metric in self.metrics:
            check_metric(metric, f"task {self.name!r}")
        missing = [m for m in self.main_metric if m not in self.metrics]
        if missing:
            raise ValueError(f"main_metric {missing} not among the task's metrics {self.metrics}")
        if self.type == "tagging" and len(self.text_fields) != 1:
            raise ValueError("a tagging task has exactly one text field (the column of word lists)")
        if self.type == "regression" and self.label_names:
            raise ValueError("a regression task has no label_names")
        if self.label_names is not None and len(set(self.label_names)) != len(self.label_names):
            raise ValueError("label_names has duplicates")
        return self

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "maximize"

    def signed(self, score: float) -> float:
        """``score`` as 'higher is better', whatever the main metric's direction: the one place of that rule."""
        return score if self.higher_is_better else -score

    def siamese(self, pair_encoding: PairEncoding) -> bool:
        """Whether the task's texts are encoded apart: only a pair task (two texts, not tagging) under siamese."""
        return pair_encoding == "siamese" and self.type != "tagging" and len(self.text_fields) == 2

    @property
    def num_labels(self) -> int:
        return 1 if self.type == "regression" else len(self.label_names or ())


def default_direction(main_metric: list[str]) -> str:
    return "minimize" if all(m in LOWER_IS_BETTER for m in main_metric) else "maximize"
