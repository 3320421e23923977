"""Predictions and metrics of one task on one split, run as the model was trained (device, number format)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from auxlearn.data.batching import eval_batches
from auxlearn.data.encode import EncodedSplit
from auxlearn.tasks.spec import TaskSpec
from auxlearn.train.device import Resolved, autocast
from auxlearn.train.threads import thread_share

Batches = list[tuple[np.ndarray, dict[str, torch.Tensor]]]

# Padded tokens per evaluation batch when none is configured. On a 2-core CPU, bfloat16 evaluation of MiniLM
# scored RTE dev 1.45x faster 16 pairs to a batch than 128 (activations that stay in the caches), and the
# RTE + MRPC + SST-2 dev sets at the same rate for any cap from 768 to 1536 tokens; a GPU wants big batches,
# so there the count alone limits them.
CPU_EVAL_TOKENS = 1024


@dataclass(frozen=True)
class Inference:
    """How to run the model forward without gradients: where, in what number format, in what batches."""

    device: torch.device
    pad_id: int
    precision: Resolved = "fp32"
    batch_size: int = 128
    max_tokens: Optional[int] = None
    threads: Optional[int] = None  # the CPU thread setting (None: this process's share of the cores)

    @classmethod
    def for_device(cls, device: torch.device, pad_id: int, precision: Resolved, batch_size: int = 128,
                   max_tokens: Optional[int] = None, threads: Optional[int] = None) -> "Inference":
        """``max_tokens`` None: cache-sized batches on a CPU, the count alone elsewhere."""
        if max_tokens is None and device.type == "cpu":
            max_tokens = CPU_EVAL_TOKENS
        return cls(device, pad_id, precision, batch_size, max_tokens, threads)

    def batches(self, split: EncodedSplit) -> Batches:
        """The split's batches, built once; a trainer that evaluates the same dev split often keeps them."""
        return list(eval_batches(split, self.batch_size, self.pad_id, self.max_tokens))


@torch.inference_mode()
def predict(model, task: str, split: EncodedSplit, how: Inference, batches: Optional[Batches] = None) -> list[Any]:
    """Predictions in the split's order, one value per example as the task's type gives them (class ids, floats,
    per-word tag ids)."""
    task_type = model.specs[task].task_type
    head = model.head(task)
    was_training = model.training
    model.eval()
    out: list[Any] = [None] * len(split)
    # One autocast region for all batches: it casts each weight to bfloat16 once, not once per batch.
    with thread_share(how.threads) as threads, autocast(how.device, how.precision):
        for indices, batch in batches if batches is not None else how.batches(split):
            threads.poll()
            batch = {k: v.to(how.device) for k, v in batch.items()}
            predictions = head.predict(model(task, batch).float()).cpu()
            for i, output in zip(indices, task_type.outputs(predictions, [split.labels[i] for i in indices])):
                out[i] = output
    model.train(was_training)
    return out


def evaluate(model, task: str, split: EncodedSplit, how: Inference,
             batches: Optional[Batches] = None) -> dict[str, float]:
    return score_predictions(model.specs[task], predict(model, task, split, how, batches), split)


def score_predictions(spec: TaskSpec, predictions: list[Any], split: EncodedSplit) -> dict[str, float]:
    """The task's metrics for ``predictions`` (as ``predict`` returns them) against the split's labels."""
    return spec.task_type.score(spec, predictions, split.labels)
