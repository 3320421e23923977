"""Regression: one number per example, from one text or a pair; squared error of one output."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from auxlearn.errors import AuxlearnError
from auxlearn.tasks.types.base import TaskType
from auxlearn.tasks.types.heads import Head


class RegressionHead(Head):
    def example_losses(self, logits, labels):
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype), reduction="none")

    def predict(self, logits):
        return logits.squeeze(-1)


class Regression(TaskType):
    name = "regression"
    head = RegressionHead
    default_metrics = ("pearson", "spearman")
    metrics = frozenset({"pearson", "spearman", "mse"})
    label_dtype = torch.float
    uses_label_names = False

    def num_labels(self, spec):
        return 1

    def encode_labels(self, spec, values, row_ids, source, encoded):
        out = []
        for row_id, value in zip(row_ids, values):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if not math.isfinite(number):
                raise AuxlearnError(f"task {spec.name!r}, {source}, row {row_id + 1}: regression label {value!r} "
                                    "is not a finite number")
            out.append(number)
        return out

    def readable(self, spec, prediction):
        return float(prediction)
