"""``train.steps: auto`` and ``train.eval_every: auto``: a recipe's length from the primary's training split.

A fixed default of steps suits one size of task only: 1,000 steps of 32 are 107 epochs of RTE's 300 pairs and 3 of
a 10,000-example task. ``auto`` trains ``train.epochs`` passes over the primary's training examples (10 by
default), at least :data:`MIN_STEPS` and at most :data:`MAX_STEPS` steps, with :data:`EVALUATIONS` dev evaluations.

Why 10 epochs: in the built-in atlas (all-MiniLM-L6-v2, batches of 16, seed 0), primaries of 1,000 examples trained
for 3.2 epochs had their best dev evaluation at their last step on NER, STS-B, SST-2 and citation intent; trained
twice as long, most peaked between 3.7 and 6 epochs and NER was still rising at 6.4. Fine-tuning on small data
needs more passes than BERT's 3 (Mosbach et al., ICLR 2021, "On the Stability of Fine-tuning BERT"). A recipe
still rising after its epochs is extended by `run`'s baseline check (``config_baseline.py``).

Everything that trains resolves the recipe here once its data is loaded, before anything reads the steps; the
resolved numbers are what identities, plans and results hold.
"""

from __future__ import annotations

import math

from auxlearn.config_schema import Experiment
from auxlearn.prepared import Prepared

MIN_STEPS = 50  # a few-shot primary of 32 examples still gets 50 steps (25 epochs)
MAX_STEPS = 2000  # a 20,000-example primary gets 1.6 epochs, not 10: past that a CPU run is hours a seed
EVALUATIONS = 10  # dev evaluations over a recipe: enough points for early stopping and the baseline check


def training_examples(exp: Experiment, prepared: Prepared) -> int:
    """The primary's training examples one epoch passes over: k per class under ``data.shots``."""
    data = prepared.data[exp.primary]
    if exp.data.shots is not None:
        return min(len(data.train), exp.data.shots * len(data.spec.label_names))
    return len(data.train)


def auto_steps(examples: int, epochs: float, batch: int) -> int:
    """``epochs`` passes over ``examples`` in batches of ``batch``, within [MIN_STEPS, MAX_STEPS]."""
    return min(MAX_STEPS, max(MIN_STEPS, math.ceil(epochs * examples / batch)))


def resolved_length(exp: Experiment, prepared: Prepared) -> Experiment:
    """``exp`` with its ``auto`` steps and evaluation interval made numbers (as it is when both are numbers)."""
    train = exp.train
    if train.steps != "auto" and train.eval_every != "auto":
        return exp
    steps = train.steps if train.steps != "auto" else auto_steps(
        training_examples(exp, prepared), train.epochs, train.batch_size * train.grad_accum)
    eval_every = train.eval_every if train.eval_every != "auto" else max(1, round(steps / EVALUATIONS))
    return exp.variant(steps=steps, eval_every=eval_every)
