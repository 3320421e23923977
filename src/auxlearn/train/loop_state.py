"""The training loop's own state between steps (checkpointed with the model), and what a finished training
returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Optional

import torch


@dataclass
class TrainOutcome:
    best_step: int
    best_dev: dict[str, dict[str, float]]
    steps: int
    seconds: float
    eval_seconds: float
    stopped: str  # "budget", "patience" or "non_finite_loss"
    examples: int = 0
    tokens: int = 0
    precision: str = "fp32"
    threads: dict[str, Any] = field(default_factory=dict)
    task_steps: dict[str, int] = field(default_factory=dict)  # optimisation steps each task trained
    checkpoint_seconds: float = 0.0  # writing checkpoints
    resumed_from: int = 0  # the step of the checkpoint this run went on from (0: from the start)
    processes: int = 1


@dataclass
class Progress:
    """The loop's own state between steps, checkpointed with the model (``state_dict`` / ``load_state_dict``)."""

    step: int = 0  # steps done
    best_score: float = -math.inf
    best_step: int = 0
    best_dev: dict[str, dict[str, float]] = field(default_factory=dict)
    best_state: Optional[dict[str, torch.Tensor]] = None  # the best weights so far, on the CPU
    evaluations_without_gain: int = 0
    losses: dict[str, list[float]] = field(default_factory=dict)  # since the last evaluation
    task_steps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # training time before the last checkpoint
    eval_seconds: float = 0.0
    checkpoint_seconds: float = 0.0
    last_dev: float = math.nan
    metrics_bytes: int = 0  # metrics.jsonl's length at the checkpoint: later records are written again
    task_digest: str = ""  # chain_digest of the tasks trained so far

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
