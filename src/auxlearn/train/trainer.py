"""The multi-task step loop.

One step: the sampler picks a task and the weighting says which tasks train (that one, or several) and how many
rows of its batch each takes; each one's endless iterator gives ``grad_accum`` batches, forward, loss; the
weighting makes the update from the losses (``weightings/``; it may read dev through the ``StepContext`` it is
given); clip, optimiser and scheduler step. Every ``eval_every`` steps the primary task (and any
``eval_tasks``) is scored on dev; the sampler's ``update`` hook sees the primary's score; the best model
by the primary's main metric (respecting its direction) is kept; ``patience`` evaluations without
improvement stop training. Method-specific behaviour lives in samplers and weightings, never here.

With an output folder, a checkpoint every ``checkpoint_every`` steps lets a killed run go on from its last one
and end with the numbers an uninterrupted run would have had (``checkpoint.py``); under ``accelerate launch``
several processes train one model (``processes.py``).
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from statistics import fmean
from typing import Any, Mapping, Optional

import torch

from auxlearn.config_schema import TrainConfig
from auxlearn.data.batching import EndlessBatches
from auxlearn.data.task_data import TaskData
from auxlearn.errors import AuxlearnError, NonFiniteLossError
from auxlearn.io import append_jsonl
from auxlearn.train.anchor import Anchor
from auxlearn.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from auxlearn.train.device import autocast, pick_device, resolve_precision
from auxlearn.train.evaluation import Batches, Inference, evaluate
from auxlearn.train.loop_state import Progress, TrainOutcome
from auxlearn.train.optim import build_optimizers, linear_warmup_decay
from auxlearn.train.processes import (chain_digest, check_same_tasks, make_accelerator, mean_over_processes,
                                      shared_from_main)
from auxlearn.train.samplers import TaskSampler
from auxlearn.train.threads import ThreadShare, thread_share
from auxlearn.train.tracking import TrackedRun
from auxlearn.train.watch import Watch
from auxlearn.train.weightings import Weighting
from auxlearn.train.weighting_base import StepContext


class Trainer:
    def __init__(self, model, data: Mapping[str, TaskData], primary: str, config: TrainConfig, *,
                 sampler: TaskSampler, pad_id: int, seed: int, out_dir: Optional[Path] = None,
                 eval_tasks: tuple[str, ...] = (), pad_to: Optional[int] = None, group_by_length: bool = True,
                 anchor: Optional[Anchor] = None, evaluate: bool = True,
                 identity: Optional[str] = None, batch_transforms: Optional[Mapping[str, Any]] = None,
                 weighting: Weighting, score_start: bool = False, phase: str = "train",
                 tracked: Optional[TrackedRun] = None, head_lr_scales: Optional[Mapping[str, float]] = None):
        """``anchor``: a pull toward earlier weights added to every step's gradient (successive regularisation).
        ``evaluate=False``: no dev evaluation, the last weights are kept (an intermediate phase that has no
        head of the primary to score yet). ``identity``: what this training is (config, data), stored in its
        checkpoints; with ``out_dir`` and ``config.checkpoint_every`` it checkpoints and resumes only a checkpoint
        of an equal identity. ``batch_transforms``: per task, what turns a drawn batch into the one it trains on
        (its type's ``batch_transform``). ``score_start``: the model is scored on dev before the first step, so it
        is kept unless training improves dev on it (a fine-tuning phase). ``phase``: what the progress bar calls
        this training; ``tracked``: the run its curves go to (``tracking.py``). ``head_lr_scales``: per task, a
        factor on its head's learning rate (``optim.parameter_groups``)."""
        self.model, self.data, self.primary, self.config = model, dict(data), primary, config
        self.anchor, self.evaluate, self.score_start = anchor, evaluate, score_start
        self.phase, self.tracked = phase, tracked
        self.sampler, self.weighting, self.pad_id, self.out_dir = sampler, weighting, pad_id, out_dir
        self.batch_transforms = dict(batch_transforms or {})
        self.eval_tasks = (primary, *[t for t in eval_tasks if t != primary])
        self.accelerator = make_accelerator(pick_device(config.device))
        self.device = self.accelerator.device
        self.main = self.accelerator.is_main_process
        if weighting.every_task and self.accelerator.num_processes > 1:
            raise AuxlearnError(f"train.weighting {weighting.name!r} trains several tasks in one step, which "
                                "DistributedDataParallel cannot share between processes; train in one process")
        self.precision = resolve_precision(config.precision, self.device)
        self.model.to(self.device)
        self.step = 0
        shard = (self.accelerator.process_index, self.accelerator.num_processes)
        self.iterators = {
            task: EndlessBatches(d.train, config.batch_size, pad_id, seed=seed + index,
                                 group_by_length=group_by_length, pad_to=pad_to, shard=shard)
            for index, (task, d) in enumerate(self.data.items())
        }
        schedule = linear_warmup_decay(config.steps, config.warmup_steps())
        self.optimizers = build_optimizers(model, list(self.data), per_task=config.optimizer == "per_task",
                                           lr=config.lr, head_lr=config.head_lr, weight_decay=config.weight_decay,
                                           head_lr_scales=head_lr_scales, schedule=schedule,
                                           global_step=lambda: self.step)
        distinct = list({id(pair[0]): pair[0] for pair in self.optimizers.values()}.values())
        # The model as the processes share it (DistributedDataParallel under several, the model itself under one);
        # the optimisers are registered for checkpoints and stepped as built.
        self.forward = self.accelerator.prepare(model, *distinct)[0]
        self.identity = identity
        self.checkpoints = out_dir is not None and config.checkpoint_every is not None and identity is not None
        self.progress = Progress(task_steps={task: 0 for task in self.data})
        self.accelerator.register_for_checkpointing(self.sampler, self.weighting, *self.iterators.values(),
                                                    *self.batch_transforms.values(), self.progress)
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        weighting.attach(StepContext(
            model, primary, config.batch_size, config.grad_accum, device=self.device,
            dev_batches=lambda size, seed: EndlessBatches(self.data[primary].dev, size, pad_id, seed=seed),
            autocast=lambda: autocast(self.device, self.precision)))
        self.inference = Inference.for_device(self.device, pad_id, self.precision, config.eval_batch_size,
                                              config.eval_batch_tokens, config.threads)
        self._dev_batches: dict[str, Batches] = {}  # collated once: dev evaluation repeats on the same split

    def _signed(self, score: float) -> float:
        """Scores as 'higher is better', whatever the primary metric's direction."""
        return self.data[self.primary].spec.signed(score)

    def _drawn(self) -> tuple[int, int]:
        """Training examples and tokens handed out so far, over all tasks."""
        return (sum(it.examples for it in self.iterators.values()), sum(it.tokens for it in self.iterators.values()))

    def dev_scores(self) -> dict[str, dict[str, float]]:
        scores = {}
        for task in self.eval_tasks:
            dev = self.data[task].dev
            if task not in self._dev_batches:
                self._dev_batches[task] = self.inference.batches(dev)
            scores[task] = evaluate(self.model, task, dev, self.inference, self._dev_batches[task])
        return scores

    def train(self) -> TrainOutcome:
        with thread_share(self.config.threads) as threads:
            return self._train(threads)

    def _resume(self) -> int:
        """Go on from this training's last checkpoint in ``out_dir``, if any (the step it was written at, else 0);
        metrics.jsonl keeps the records up to it. Without one, a previous run's metrics.jsonl is removed."""
        metrics = self.out_dir / "metrics.jsonl" if self.out_dir is not None else None
        found = latest_checkpoint(self.out_dir, self.identity) if self.checkpoints else None
        if found is not None:
            load_checkpoint(self.accelerator, found[0], found[2])
        if self.main and metrics is not None and metrics.exists():
            if found is None:
                metrics.unlink()
            else:
                with open(metrics, "r+b") as handle:
                    handle.truncate(self.progress.metrics_bytes)
        return self.progress.step

    def _checkpoint(self, started: float) -> None:
        began = time.perf_counter()
        progress = self.progress
        progress.seconds = began - started
        save_checkpoint(self.accelerator, self.out_dir, progress.step, self.identity)
        progress.checkpoint_seconds += time.perf_counter() - began

    def _train(self, threads: ThreadShare) -> TrainOutcome:
        config, model, progress = self.config, self.model, self.progress
        drawn_before = self._drawn()
        resumed_from = self._resume()
        started = time.perf_counter() - progress.seconds
        model.train()
        stopped = "budget"
        self.watch = Watch(total=config.steps, initial=resumed_from, shown=config.progress and self.main,
                           phase=self.phase, primary=self.primary, tracked=self.tracked)
        try:
            if self.score_start and not resumed_from:
                self._evaluate(started, 0.0)
            for self.step in range(resumed_from, config.steps):
                threads.poll()
                tasks = self.weighting.tasks_of_step(self.sampler.next_task(self.step))
                optimizer, scheduler = self.optimizers[tasks[0]]  # several tasks in a step share one (config)
                for _ in range(config.grad_accum):
                    losses = {task: self._loss(task) / config.grad_accum for task in tasks}
                    self.weighting.backward(losses, self.trainable)
                for task in tasks:
                    progress.task_steps[task] += 1
                task = "+".join(tasks)
                progress.task_digest = chain_digest(progress.task_digest, task)
                if self.anchor is not None:
                    self.anchor.add_gradient()
                torch.nn.utils.clip_grad_norm_(
                    [p for group in optimizer.param_groups for p in group["params"]], config.max_grad_norm)
                scheduler.step()  # the rate of this global step, then the update
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                progress.step = self.step + 1
                lr = scheduler.get_last_lr()[0]
                if self.watch.watched:  # a bar shown or a run tracked: else nothing of the step is summed up
                    self.watch.step(progress.step, {t: fmean(progress.losses[t][-config.grad_accum:]) for t in tasks},
                                    progress.last_dev, self._scalars(lr))
                evaluates = not (progress.step % config.eval_every) or progress.step == config.steps
                if evaluates and self._evaluate(started, lr):
                    stopped = "patience"
                    break
                if self.checkpoints and not progress.step % config.checkpoint_every and progress.step < config.steps:
                    self._checkpoint(started)
            check_same_tasks(self.accelerator, progress.task_digest, progress.step)
        except NonFiniteLossError:
            stopped = "non_finite_loss"
            raise
        finally:
            self.watch.close()
            if progress.best_state is not None:
                model.load_state_dict(progress.best_state)
            best_step = progress.best_step if self.evaluate else progress.step
            examples, tokens = (now - before for now, before in zip(self._drawn(), drawn_before))
            self.outcome = TrainOutcome(best_step, progress.best_dev, progress.step, time.perf_counter() - started,
                                        progress.eval_seconds, stopped, examples, tokens, self.precision,
                                        threads.describe(), dict(progress.task_steps), progress.checkpoint_seconds,
                                        resumed_from, self.accelerator.num_processes)
        return self.outcome

    def _scalars(self, lr: float) -> dict[str, float]:
        """What the tracked run plots besides the losses: the rate, and the sampler's and the weighting's state
        (named by them); nothing when no run is tracked, so that an untracked step computes none of it."""
        if self.tracked is None:
            return {}
        return {"lr": lr, **{f"sampler/{k}": v for k, v in self.sampler.scalars(self.step).items()},
                **{f"weighting/{k}": v for k, v in self.weighting.scalars().items()}}

    def _loss(self, task: str) -> torch.Tensor:
        """``task``'s loss on its next batch (recorded; a NaN or infinite one stops training)."""
        batch = next(self.iterators[task])
        rows = self.weighting.rows(task)
        if rows is not None:
            batch = {k: v[:rows] for k, v in batch.items()}
        if task in self.batch_transforms:
            batch = self.batch_transforms[task](batch)
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        with autocast(self.device, self.precision):
            loss = self.model.loss(task, batch, self.forward(task, batch))
        value = loss.item()
        if not math.isfinite(value):
            raise NonFiniteLossError(task, self.step + 1, value)  # 1-based, as in metrics.jsonl
        self.progress.losses.setdefault(task, []).append(value)
        return loss

    def _evaluate(self, started: float, lr: float) -> bool:
        """Score dev, record the interval's losses, keep the best weights; whether patience has run out."""
        progress = self.progress
        eval_started = time.perf_counter()
        # The main process scores dev and the others take its scores: every sampler sees the same.
        dev = shared_from_main(self.accelerator, self.dev_scores() if self.main else None) if self.evaluate else {}
        progress.eval_seconds += time.perf_counter() - eval_started
        means = {t: sum(v) / len(v) for t, v in progress.losses.items()}
        record = {
            "step": progress.step,
            "seconds": round(time.perf_counter() - started, 3),
            "lr": lr,
            "train_loss": mean_over_processes(self.accelerator, means),
            "batches": {t: len(v) for t, v in progress.losses.items()},
            "dev": dev,
        }
        if self.anchor is not None:
            record["regularization"] = self.anchor.penalty()
        if self.out_dir is not None and self.main:
            progress.metrics_bytes = append_jsonl(self.out_dir / "metrics.jsonl", record)
        self.watch.evaluation(progress.step, dev)
        progress.losses = {}
        if not self.evaluate:  # the training losses are recorded; the last weights are kept
            return False
        score = self._signed(dev[self.primary]["main"])
        progress.last_dev = dev[self.primary]["main"]
        self.sampler.update(self.step, score)
        if score > progress.best_score:
            progress.best_score, progress.best_step, progress.best_dev = score, progress.step, dev
            progress.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
            progress.evaluations_without_gain = 0
            return False
        progress.evaluations_without_gain += 1
        return self.config.patience is not None and progress.evaluations_without_gain >= self.config.patience
