"""Classification: one class per example, from one text or a pair; cross-entropy over the pooled vector."""

from __future__ import annotations

from torch.nn import functional as F

from auxlearn.tasks.types.base import TaskType, label_id
from auxlearn.tasks.types.heads import Head


class ClassificationHead(Head):
    def example_losses(self, logits, labels):
        return F.cross_entropy(logits, labels, reduction="none")


class Classification(TaskType):
    name = "classification"
    head = ClassificationHead
    default_metrics = ("accuracy", "macro_f1")
    metrics = frozenset({"accuracy", "f1", "macro_f1", "matthews"})
    degenerate_check = True  # one class for every example: the model learned the majority class only

    def validate(self, spec):
        super().validate(spec)
        if "f1" in spec.metrics and spec.label_names is not None and len(spec.label_names) != 2:
            raise ValueError(f"metric 'f1' scores a task with 2 labels; this one has {len(spec.label_names)} "
                             f"({', '.join(spec.label_names)}): use macro_f1")

    def encode_labels(self, spec, values, row_ids, source, encoded):
        return [label_id(spec, value, row_id, source) for row_id, value in zip(row_ids, values)]

    def readable(self, spec, prediction):
        return spec.label_names[prediction]
