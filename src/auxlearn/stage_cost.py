"""What a stage of `auxlearn run` will train, planned before anything trains: its trainings (models, their phases
and steps) and the work in them (padded tokens trained, tokens evaluated), which the run's plan (``run_plan.py``)
prices with this machine's timings (``step_timing.py``).

A selector or a mixer says what it will train (``Selector.cost``, ``Mixer.cost``) through a ``PlanContext``,
whose ``arm`` and ``search`` mirror ``Stage.train`` and ``Stage.train_with``: an arm is planned by
``arm_plan.plan_arm``, as the training itself plans it, so the plan's steps are the run's.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, Optional

import numpy as np
import torch

from auxlearn.arm_plan import phase_experiment, plan_arm
from auxlearn.config_schema import Experiment
from auxlearn.data.batching import epoch_batches
from auxlearn.data.encode import EncodedSplit
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import prepared_pad_length
from auxlearn.prepared import Prepared, with_shots
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.samplers import build_sampler
from auxlearn.train.weighting_base import StepContext, Weighting
from auxlearn.train.weightings import build_weighting
from auxlearn.train_length import resolved_length

SAMPLED_STEPS = 64  # steps at which a phase's sampler and weighting are asked what trains, to average them
EPOCH_BATCHES = 256  # batches of an epoch whose padding stands for a task's


@dataclass(frozen=True)
class Timing:
    """Seconds on this machine: to set up a training (build its model and trainer), per optimiser step, per padded
    token trained (forward and backward), per token evaluated (forward only)."""

    setup: float
    step: float
    train_token: float
    eval_token: float


# Orders plans by their work where no timing exists yet (the worst case of a selection is chosen before warm-up).
WORK = Timing(setup=0.0, step=0.0, train_token=1.0, eval_token=0.3)


@dataclass
class Training:
    """One model a stage trains (or one pass over data it makes): its phases, and the work the estimate prices.
    Steps are an upper bound: early stopping can end a phase sooner."""

    label: str
    phases: list[dict[str, Any]] = field(default_factory=list)  # label, tasks, steps, evaluations
    builds: int = 0
    train_tokens: float = 0.0
    eval_tokens: float = 0.0

    @property
    def steps(self) -> int:
        return sum(p["steps"] for p in self.phases)

    def seconds(self, timing: Timing) -> float:
        return (self.builds * timing.setup + self.steps * timing.step + self.train_tokens * timing.train_token
                + self.eval_tokens * timing.eval_token)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "steps": self.steps, "phases": self.phases}


@dataclass
class StageCost:
    """A stage's trainings; ``note`` says what they assume (a worst case, a stand-in for what the stage decides)."""

    trainings: list[Training] = field(default_factory=list)
    note: str = ""


class StageView:
    """What a selector or mixer reads of its stage, whether it trains (``Stage``) or is planned (``PlanContext``):
    the experiment, the prepared data, the primary and the candidates."""

    exp: Experiment
    prepared: Prepared

    @property
    def primary(self) -> str:
        return self.exp.primary

    @property
    def candidates(self) -> list[str]:
        return list(self.exp.auxiliary)

    def signed(self, score: float) -> float:
        """A score of the primary as 'higher is better'."""
        return self.prepared.data[self.primary].spec.signed(score)


class PlanContext(StageView):
    """A stage as its method sees it while the run is planned, and what the method may plan; ``train`` and
    ``train_with`` refuse, so a method whose plan would train fails loudly. ``pad_to``: the padding width of every
    batch, as the trainer pads them (None: the longest of each)."""

    def __init__(self, exp: Experiment, prepared: Prepared):
        self.exp, self.prepared = resolved_length(exp, prepared), prepared  # numbers, never auto
        self.pad_to = prepared_pad_length(self.exp, prepared)
        self._rows: dict[tuple[str, int], float] = {}

    def train(self, *args: Any, **kwargs: Any) -> Any:
        raise AuxlearnError("a method trained while the run was being planned: it must say what it trains in "
                            "its cost() (and, for a mixer, planned_mixture()) instead")

    train_with = train

    def arm(self, name: str, *, auxiliary: list[str], sampler: Optional[dict[str, Any]] = None,
            steps: Optional[int] = None, seed: Optional[int] = None, scored: bool = False, **train: Any) -> Training:
        """What ``Stage.train`` trains with these arguments (``scored``: an arm of the pipeline, which scores eval):
        the variant's phases as ``plan_arm`` plans them."""
        if steps is not None:
            train["steps"] = steps
        variant = self.exp.variant(auxiliary=auxiliary, sampler=sampler, seed=seed, **train)
        sizes = self.sizes(variant)
        training = Training(name)
        for phase in plan_arm(variant, sizes).phases:
            self._add_phase(training, phase.label, phase_experiment(variant, phase), sizes, evaluate=phase.evaluate,
                            score_start=phase.score_start)
        if scored:
            training.eval_tokens += sum(self._tokens(t, "eval") for t in (variant.primary, *variant.train.eval_tasks))
        return training

    def search(self, name: str, *, steps: int, sampler: Optional[dict[str, Any]] = None,
               dev_examples: Optional[int] = None, **train: Any) -> Training:
        """What ``Stage.train_with`` trains: the primary and every candidate for exactly ``steps``, no protocol.
        ``sampler``: a static stand-in for an adaptive one (a bandit's rounds are planned as its mean task's);
        ``dev_examples``: the primary's evaluations score this many dev examples."""
        variant = self.exp.variant(auxiliary=self.candidates, steps=steps, sampler=sampler, **train)
        training = Training(name)
        self._add_phase(training, "search", variant, self.sizes(variant), dev_examples=dev_examples)
        return training

    def finetune(self, name: str, variant: Experiment, *, train_examples: int, dev_examples: int) -> Training:
        """One training of ``variant`` as built (no protocol) on a subsample of its primary's train and dev."""
        training = Training(name)
        self._add_phase(training, "finetune", variant, {variant.primary: train_examples}, dev_examples=dev_examples)
        return training

    def forward(self, name: str, examples: Mapping[str, int], backward: bool = False) -> Training:
        """A model loaded and one pass over ``examples`` of each task's train split (at most the split): an
        embedding, or with ``backward`` a gradient too."""
        tokens = sum(min(n, len(self._split(t, "train"))) * self._mean_length(t) for t, n in examples.items())
        return Training(name, builds=1, train_tokens=tokens if backward else 0.0,
                        eval_tokens=0.0 if backward else tokens)

    def sizes(self, variant: Experiment) -> dict[str, int]:
        """Train examples per task of ``variant``, as its training sees them (k-shot cut, a generated objective's
        text)."""
        data = with_shots(variant, self.prepared).data
        return {t: len(data[t].train) if t in data else len(self._split(t, "train")) for t in variant.tasks}

    def _add_phase(self, training: Training, label: str, variant: Experiment, sizes: Mapping[str, int], *,
                   evaluate: bool = True, score_start: bool = False, dev_examples: Optional[int] = None) -> None:
        config, tasks = variant.train, variant.tasks
        steps = config.steps
        evaluations = (math.ceil(steps / config.eval_every) + int(score_start)) if evaluate else 0
        rows = self._rows_per_step(variant, sizes)
        training.phases.append({"label": label, "tasks": tasks, "steps": steps, "evaluations": evaluations})
        training.builds += 1
        training.train_tokens += steps * sum(r * self._row_tokens(t, config.batch_size) for t, r in rows.items())
        dev = sum(self._tokens(t, "dev", dev_examples if t == variant.primary else None)
                  for t in (variant.primary, *config.eval_tasks))
        training.eval_tokens += evaluations * dev

    def _rows_per_step(self, variant: Experiment, sizes: Mapping[str, int]) -> dict[str, float]:
        """Rows each task trains on per step, on average: the sampler's mean probabilities, then whatever the
        weighting trains at a step that drew a task (every task, or objectives beside the primary, on a few rows)."""
        config, tasks = variant.train, variant.tasks
        sampler = build_sampler(config.sampler.name, config.sampler.options, tasks, sizes, total_steps=config.steps,
                                seed=variant.seed)
        probabilities = np.zeros(len(tasks))
        for step in np.linspace(0, config.steps - 1, min(SAMPLED_STEPS, config.steps)).astype(int):
            p = sampler.probabilities(int(step))
            probabilities += [p[t] for t in tasks]
        weighting = build_weighting(config.weighting.name, config.weighting.options, tasks, variant.seed)
        # The base attach only: the plan has no model or dev batches to lend, and asks only which tasks train.
        Weighting.attach(weighting, StepContext(None, tasks[0], config.batch_size, config.grad_accum, None,
                                                torch.device("cpu"), nullcontext))
        rows = dict.fromkeys(tasks, 0.0)
        draws = np.random.default_rng(0).choice(len(tasks), SAMPLED_STEPS, p=probabilities / probabilities.sum())
        for drawn in draws:
            for task in weighting.tasks_of_step(tasks[drawn]):
                rows[task] += (weighting.rows(task) or config.batch_size) * config.grad_accum / SAMPLED_STEPS
        return rows

    def _split(self, task: str, split: str) -> EncodedSplit:
        """A task's split; a generated objective not encoded yet reads its input task's text (or the primary's)."""
        if task in self.prepared.data:
            return self.prepared.data[task].split(split)
        objective = get_task(task, _known(tuple(self.exp.task_files))).objective
        source = objective.input if objective is not None and objective.input in self.prepared.data else self.primary
        return self.prepared.data[source].split(split)

    def _tokens(self, task: str, split: str, examples: Optional[int] = None) -> float:
        if split == "eval" and task in self.prepared.data and self.prepared.data[task].eval is None:
            return 0.0
        lengths = self._split(task, split).lengths
        return float(lengths.sum()) if examples is None else min(examples, len(lengths)) * float(lengths.mean())

    def _mean_length(self, task: str) -> float:
        return float(self._split(task, "train").lengths.mean())

    def _row_tokens(self, task: str, batch_size: int) -> float:
        """Padded tokens per row of ``task``'s training batches: one epoch drawn as the trainer draws them."""
        key = (task, batch_size)
        if key not in self._rows:
            self._rows[key] = padded_row_tokens(self._split(task, "train"), batch_size, self.pad_to,
                                                self.exp.data.group_by_length)
        return self._rows[key]


def padded_row_tokens(split: EncodedSplit, batch_size: int, pad_to: Optional[int], group_by_length: bool) -> float:
    """Mean padded tokens per row over one epoch of ``split``'s batches (both texts of a siamese pair)."""
    batches = epoch_batches(split.lengths, batch_size, np.random.default_rng(0), group_by_length)[:EPOCH_BATCHES]
    return sum(padded_tokens(split, b, pad_to) for b in batches) / max(1, sum(len(b) for b in batches))


def padded_tokens(split: EncodedSplit, indices: np.ndarray, pad_to: Optional[int]) -> int:
    """The tokens of one batch of ``split``, padded as ``collate`` pads them."""
    texts = [split.input_ids] + ([split.pair_input_ids] if split.pair_input_ids is not None else [])
    return sum(len(indices) * (pad_to or max(len(rows[i]) for i in indices)) for rows in texts)


@lru_cache(maxsize=8)
def _known(task_files: tuple[str, ...]):
    return available_tasks(list(task_files))
