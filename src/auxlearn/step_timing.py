"""This machine's timings, which the run's plan multiplies by its planned work: a warm-up of a few training steps
of the experiment's own model, batch size, max length and precision on its own encoded data (each task in turn, so
that short and long texts are timed), and one dev evaluation of the primary.

Seconds per step are fitted as ``step + train_token * padded tokens`` through each task's median step (a short
task's step costs more per token: the optimiser's update does not shrink with it). The timings are kept in the
cache (``<cache>/timing/<key>.json``), keyed by what sets them (model, adapter, batch, length, padding, precision,
device, threads, CPU, torch), so a second plan on this machine does not warm up again; delete the folder to
measure anew. The warm-up changes nothing a run computes: the random states it draws from are put back as they
were, it writes nothing to the run folder, and no tracker sees it.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from statistics import median
from typing import Any, Iterator

import numpy as np
import torch

from auxlearn.config_schema import Experiment
from auxlearn.data.encode import cache_key, cache_path
from auxlearn.experiment import Prepared, build_model, build_trainer
from auxlearn.identity import model_identity
from auxlearn.io import read_json, write_json_atomic
from auxlearn.stage_cost import Timing, padded_tokens
from auxlearn.train.device import config_precision, cpu_name
from auxlearn.train.samplers import TaskSampler
from auxlearn.train.threads import thread_share, usable_cores, user_threads

CACHE_VERSION = 1
ROUNDS = (2, 4)  # rounds over the tasks at least and at most; the first one (cold heads, first allocations) untimed
BUDGET_SECONDS = 4.0  # after the least rounds, the warm-up stops once it has trained this long
DEV_EXAMPLES = 128  # of the primary's dev split, evaluated to time an evaluation


def machine_timing(exp: Experiment, prepared: Prepared) -> tuple[Timing, dict[str, Any]]:
    """The timings for ``exp`` on this machine, from the cache or a warm-up, and how they were obtained."""
    material = _key_material(exp)
    path = cache_path("timing", f"{cache_key(json.dumps(material, sort_keys=True))}.json")
    if path.is_file():
        try:
            cached = read_json(path)
            # Timed on one task alone, it cannot tell a step's fixed part from its tokens': timed again on several.
            if len(cached["measured"]["tasks"]) >= min(2, len(exp.tasks)):
                return Timing(**cached["timing"]), {**cached["measured"], "cached": str(path)}
        except (OSError, ValueError, KeyError, TypeError):  # a damaged entry is measured again and replaced
            pass
    with kept_random_state():
        timing, measured = _warm_up(exp, prepared)
    try:
        write_json_atomic(path, {"key": material, "timing": asdict(timing), "measured": measured})
    except OSError:  # a read-only or full cache: the timings still hold, only not kept
        pass
    return timing, {**measured, "cached": None}


def _key_material(exp: Experiment) -> dict[str, Any]:
    """What sets a step's seconds on this machine, whatever the tasks (their lengths are priced apart)."""
    train, adapter = exp.train, exp.adapter.model_dump(mode="json")
    return {"version": CACHE_VERSION, "model": model_identity(exp.model), "adapter": adapter,
            "pooling": exp.pooling, "pair_encoding": exp.pair_encoding, "batch_size": train.batch_size,
            "grad_accum": train.grad_accum, "eval_batch_size": train.eval_batch_size,
            "eval_batch_tokens": train.eval_batch_tokens, "optimizer": train.optimizer,
            "max_length": exp.data.max_length, "padding": exp.data.padding,
            "precision": config_precision(train.precision, train.device), "device": train.device,
            "threads": train.threads or user_threads(), "cores": usable_cores(), "cpu": cpu_name(),
            "torch": torch.__version__}


@contextmanager
def kept_random_state() -> Iterator[None]:
    """Python's, NumPy's and torch's random states put back as they were: what runs inside draws nothing a run
    draws (building a model seeds them all)."""
    python, numpy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng():
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(numpy)


class _Enough(Exception):
    """The warm-up has timed enough steps."""


class _Clock(TaskSampler):
    """Each task in turn; notes when every step starts and the padded tokens the step before trained, and ends the
    warm-up once it has timed its rounds."""

    name = "warm-up"

    def __init__(self, tasks: list[str]):
        super().__init__(tasks, dict.fromkeys(tasks, 1), total_steps=len(tasks) * ROUNDS[1] + 1)
        self.samples: dict[str, list[tuple[int, float]]] = {task: [] for task in tasks}
        self.trainer = None
        self.first = self.last = 0.0

    def probabilities(self, step: int) -> dict[str, float]:
        return {task: float(task == self.tasks[step % len(self.tasks)]) for task in self.tasks}

    def next_task(self, step: int) -> str:
        now, count = time.perf_counter(), len(self.tasks)
        if step == 0:
            self.first = now
        elif step > count:  # the step before was timed: the first round is cold
            task = self.tasks[(step - 1) % count]
            self.samples[task].append((self._tokens(task), now - self.last))
        self.last = now
        rounds = step / count
        if rounds >= ROUNDS[1] or (rounds >= ROUNDS[0] and not step % count and now - self.first > BUDGET_SECONDS):
            raise _Enough
        return self.tasks[step % count]

    def _tokens(self, task: str) -> int:
        """The padded tokens of ``task``'s last step: its iterator's last ``grad_accum`` batches."""
        batches = self.trainer.iterators[task]
        accum = self.trainer.config.grad_accum
        return sum(padded_tokens(batches.split, batches.batches[i], batches.pad_to)
                   for i in range(max(0, batches.position - accum), batches.position))


def _warm_up(exp: Experiment, prepared: Prepared) -> tuple[Timing, dict[str, Any]]:
    """A few steps of every task the run may train from the start, in turn, and the primary's dev evaluated."""
    started = time.perf_counter()
    tasks = [t for t in exp.tasks if t in prepared.data]
    clock = _Clock(tasks)
    variant = exp.variant(auxiliary=tasks[1:], steps=clock.total_steps, eval_every=clock.total_steps, patience=None,
                          eval_tasks=[], progress=False, log_with=[], weighting={"name": "single"})
    primary = prepared.data[exp.primary]
    dev = primary.dev.select(range(min(DEV_EXAMPLES, len(primary.dev))))
    data = {t: replace(primary, dev=dev) if t == exp.primary else prepared.data[t] for t in tasks}
    model = build_model(variant, prepared, tasks)
    trainer = clock.trainer = build_trainer(variant, prepared, model, data=data, sampler=clock)
    try:
        trainer.train()
    except _Enough:
        pass
    setup = clock.first - started
    with thread_share(variant.train.threads) as share:
        share.poll()
        trainer.dev_scores()  # collates the dev batches, as a run's first evaluation does
        evaluated = time.perf_counter()
        trainer.dev_scores()
        evaluation = time.perf_counter() - evaluated
    step, per_token = _fit([(median(x for x, _ in s), median(y for _, y in s)) for s in clock.samples.values() if s])
    timing = Timing(setup=setup, step=step, train_token=per_token,
                    eval_token=evaluation / max(1, float(dev.lengths.sum())))
    measured = {"seconds": round(time.perf_counter() - started, 3), "steps": sum(map(len, clock.samples.values())),
                "tasks": tasks, "dev_examples": len(dev), "cpu": cpu_name(), "threads": share.describe(),
                "precision": trainer.precision, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    return timing, measured


def _fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """``(step, per_token)`` with seconds = step + per_token * tokens, both >= 0, through the tasks' median steps;
    through the origin when their token counts are too alike to tell the two apart."""
    xs, ys = np.array([x for x, _ in points], dtype=float), np.array([y for _, y in points], dtype=float)
    if len(xs) >= 2 and xs.max() > 1.3 * xs.min():
        per_token, step = np.polyfit(xs, ys, 1)
        if step >= 0 and per_token > 0:
            return float(step), float(per_token)
    return 0.0, float((xs * ys).sum() / max((xs * xs).sum(), 1.0))
