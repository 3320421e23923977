"""TaskType: everything that depends on what kind of task it is, so that no caller branches on a type's name.

A type checks the parts of a spec that depend on it, turns raw rows into labels, stacks labels into tensors,
builds the head (which holds the loss), and turns predictions into metric inputs and readable outputs. Types
hold no state: one instance serves every task of its type. A new type is one module in this package and its
entry in the registry (``__init__.py``).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

import numpy as np
import torch

from auxlearn.config_types import PairEncoding
from auxlearn.errors import AuxlearnError
from auxlearn.aang.objectives.batches import ObjectiveBatcher
from auxlearn.aang.objectives.space import Objective
from auxlearn.tasks.metrics import compute_metrics
from auxlearn.tasks.types.heads import Head


class Spec(Protocol):
    """What a type reads of a task's spec: ``auxlearn.tasks.spec.TaskSpec``, which names its type and so stands
    above the types."""

    name: str
    text_fields: list[str]
    label_field: Optional[str]
    label_names: Optional[list[str]]
    metrics: list[str]
    main_metric: list[str]
    objective: Optional[Objective]


class TaskType:
    name: str
    head: type[Head]
    default_metrics: tuple[str, ...]  # what a user task of this type is scored by when its file names none
    metrics: frozenset[str]  # the metrics that can score this type's predictions
    label_dtype: torch.dtype = torch.long
    uses_label_names = True  # False: labels are numbers, not names
    labelled = True  # False: the rows have no labels (the objectives make targets from the text)
    degenerate_check = False  # whether predicting one value for every example is flagged in results
    default_objective: Optional[Objective] = None  # what a task of this type trains by (None: its labels as read)
    hub_task = "text-classification"  # the Hugging Face Hub's task name, for a model card's model-index

    # --- the spec ---------------------------------------------------------------------------------------------

    def validate(self, spec: Spec) -> None:
        """Raise ValueError for a spec this type cannot serve (metric names are known by now)."""
        for metric in spec.metrics:
            if metric not in self.metrics:
                raise ValueError(f"metric {metric!r} does not apply to a {self.name} task "
                                 f"(its metrics: {', '.join(sorted(self.metrics))})")
        if not self.uses_label_names and spec.label_names:
            raise ValueError(f"a {self.name} task has no label_names")
        if self.labelled and (spec.label_field is None or not spec.main_metric):
            raise ValueError(f"a {self.name} task needs a label_field and a main_metric")

    def num_labels(self, spec: Spec) -> int:
        return len(spec.label_names or ())

    def siamese(self, spec: Spec, pair_encoding: PairEncoding) -> bool:
        """Whether the task's texts are encoded apart: a pair task under siamese encoding."""
        return pair_encoding == "siamese" and len(spec.text_fields) == 2

    # --- encoding ---------------------------------------------------------------------------------------------

    def tokenize(self, texts: list[list], tokenizer, max_length: int, siamese: bool) -> Mapping[str, Any]:
        """Token ids of each row's texts (one text, or a pair as one sequence or, siamese, each alone)."""
        texts = [[as_text(value) for value in column] for column in texts]
        if siamese:  # token types would all be 0, BERT's default, so none are kept
            first = tokenizer(texts[0], truncation=True, max_length=max_length, return_token_type_ids=False)
            second = tokenizer(texts[1], truncation=True, max_length=max_length)
            return {"input_ids": first["input_ids"], "pair_input_ids": second["input_ids"]}
        return tokenizer(*texts, truncation=True, max_length=max_length)

    def check_rows(self, spec: Spec, texts: list[list], labels: Optional[Sequence], row_ids: Sequence[int],
                   source: str) -> None:
        """Raise an AuxlearnError naming the row and field of a value this type cannot read (before tokenizing,
        whose own errors name neither); ``labels`` is None for an unlabelled split."""
        for field, column in zip(spec.text_fields, texts):
            check_each(spec, field, column, row_ids, source, _is_text, "a string")
        if labels is not None:
            check_each(spec, spec.label_field, labels, row_ids, source, _is_scalar, "a label name, an id or a number")

    def encode_labels(self, spec: Spec, values: Sequence, row_ids: Sequence[int], source: str,
                      encoded: Mapping[str, Any]) -> list:
        """Each row's label checked and converted; errors name the task, ``source`` and the row."""
        raise NotImplementedError

    def placeholder_labels(self, texts: list[list], encoded: Mapping[str, Any]) -> Optional[list]:
        """What an unlabelled split keeps in place of labels, when predictions need it; None: nothing."""
        return None

    def flat_labels(self, values: Sequence) -> list:
        """The label values of a label column, one per label, from which label names are inferred."""
        return list(values)

    # --- training ---------------------------------------------------------------------------------------------

    def collate_labels(self, labels: Sequence, width: int) -> torch.Tensor:
        """One batch's labels as a tensor; ``width`` is the batch's padded sequence length."""
        return torch.as_tensor(labels, dtype=self.label_dtype)

    def build_head(self, in_features: int, spec: Spec, dropout: float) -> Head:
        return self.head(in_features, self.num_labels(spec), dropout)

    def batch_transform(self, spec: Spec, tokenizer, seed: int) -> Optional[Callable[[dict], dict]]:
        """What turns a drawn training batch into the one the task trains on: the batch of the spec's objective
        (or the type's ``default_objective``), with its own seeded, checkpointable state; None: the batch as drawn."""
        objective = spec.objective or self.default_objective
        if objective is None:
            return None
        return ObjectiveBatcher(objective, tokenizer, seed=seed)

    def pretrained_head(self, model_name: str) -> Optional[dict[str, torch.Tensor]]:
        """Weights the encoder's checkpoint holds for this type's head (a masked-LM head), else None: fresh."""
        return None

    # --- predictions ------------------------------------------------------------------------------------------

    def outputs(self, predictions: torch.Tensor, labels: Sequence) -> list:
        """One batch's head predictions as one Python value per example; ``labels`` are the examples' own."""
        return [prediction.item() for prediction in predictions]

    def metric_inputs(self, spec: Spec, predictions: list, labels: Sequence) -> tuple[Sequence, Sequence]:
        """Predictions (as ``outputs`` gives them) and encoded labels in the form the metrics take."""
        return predictions, labels

    def score(self, spec: Spec, predictions: list, labels: Sequence) -> dict[str, float]:
        """The task's metrics and its main score."""
        predictions, references = self.metric_inputs(spec, predictions, labels)
        return compute_metrics(spec.metrics, spec.main_metric, predictions, references)

    def readable(self, spec: Spec, prediction: Any) -> Any:
        """One prediction as a user reads it (a label name, a number)."""
        raise NotImplementedError


def _is_text(value) -> bool:
    return not isinstance(value, (list, dict))


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, np.integer, np.floating))


def check_each(spec: Spec, field: str, values: Sequence, row_ids: Sequence[int], source: str, ok, expected: str):
    """The first row of ``values`` that is not ``ok`` is an error naming its row, field and what was expected."""
    for row_id, value in zip(row_ids, values):
        if not ok(value):
            raise AuxlearnError(f"task {spec.name!r}, {source}, row {row_id + 1}: field {field!r} holds "
                                f"{_shown(value)}; expected {expected}")


def _shown(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def as_text(value) -> str:
    return "" if value is None else str(value)


def label_id(spec: Spec, value, row_id: int, source: str) -> int:
    """A label name or id as its id in ``spec.label_names``."""
    names = spec.label_names or []
    if isinstance(value, str):
        if value in names:
            return names.index(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < len(names):
        return int(value)
    raise AuxlearnError(
        f"task {spec.name!r}, {source}, row {row_id + 1}: label {value!r} is not in the label set "
        f"({', '.join(names)}; integer labels must be ids 0..{len(names) - 1})"
    )
