"""The one interface every task sampler implements.

A sampler answers one question per optimisation step: which task trains next. Static samplers
(uniform, proportional, ...) only define ``probabilities``; adaptive ones (the AutoSeM bandit) also
learn from the primary task's dev score through ``update``. Everything random draws from the
sampler's own seeded generator, and ``state_dict`` captures it, so a run repeats exactly and a
checkpoint restores the sampler where it was.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from auxlearn.plugins import MethodOptions, Plugin


class TaskSampler(Plugin):
    """Base class: subclasses set ``name`` and implement ``probabilities``; options that need no runtime value
    (a temperature, ratios) are their ``Options``, the tasks, sizes, steps and seed are constructor arguments."""

    def __init__(self, tasks: Sequence[str], sizes: Mapping[str, int], *, total_steps: int, seed: int = 0,
                 options: Optional[MethodOptions] = None):
        super().__init__(options)
        if not tasks:
            raise ValueError("a sampler needs at least one task")
        self.tasks = list(tasks)
        self.sizes = {task: int(sizes[task]) for task in self.tasks}
        self.total_steps = int(total_steps)
        self.rng = np.random.default_rng(seed)

    def probabilities(self, step: int) -> dict[str, float]:
        """Probability of each task at optimisation step ``step`` (0-based)."""
        raise NotImplementedError

    def next_task(self, step: int) -> str:
        probs = self.probabilities(step)
        weights = np.array([probs[task] for task in self.tasks], dtype=float)
        return self.tasks[int(self.rng.choice(len(self.tasks), p=weights / weights.sum()))]

    def scalars(self, step: int) -> dict[str, float]:
        """What a tracker plots of the sampler at ``step``: each task's probability (``p/<task>``); an adaptive
        sampler adds what it learns."""
        return {f"p/{task}": p for task, p in self.probabilities(step).items()}

    def update(self, step: int, score: float) -> None:
        """Called after each dev evaluation with the primary task's main metric (higher is better)."""

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]

    def describe(self) -> dict[str, Any]:
        """What the sampler learned or used, written to results.json (adaptive samplers add their history)."""
        return {"name": self.name, **self.options.model_dump()}
