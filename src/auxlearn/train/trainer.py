"""The multi-task step loop.

One step: the sampler picks a task, that task's endless iterator gives ``grad_accum`` batches, forward,
loss, backward, clip, optimiser and scheduler step. Every ``eval_every`` steps the primary task (and any
``eval_tasks``) is scored on dev; the sampler's ``update`` hook sees the primary's score; the best model
by the primary's main metric (respecting its direction) is kept; ``patience`` evaluations without
improvement stop training. Method-specific behaviour lives in samplers, never here.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from tqdm.auto import tqdm

from auxlearn.config import TrainConfig
from auxlearn.data.batching import EndlessBatches
from auxlearn.data.task_data import TaskData
from auxlearn.errors import NonFiniteLossError
from auxlearn.io import append_jsonl
from auxlearn.train.anchor import Anchor
from auxlearn.train.device import autocast, pick_device, resolve_precision
from auxlearn.train.evaluation import Batches, Inference, evaluate
from auxlearn.train.optim import build_optimizers, linear_warmup_decay
from auxlearn.train.samplers import TaskSampler
from auxlearn.train.threads import ThreadShare, thread_share


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


class Trainer:
    def __init__(self, model, data: Mapping[str, TaskData], primary: str, config: TrainConfig, *,
                 sampler: TaskSampler, pad_id: int, seed: int, out_dir: Optional[Path] = None,
                 eval_tasks: tuple[str, ...] = (), pad_to: Optional[int] = None, group_by_length: bool = True,
                 anchor: Optional[Anchor] = None, evaluate: bool = True):
        """``anchor``: a pull toward earlier weights added to every step's gradient (successive regularisation).
        ``evaluate=False``: no dev evaluation, the last weights are kept (an intermediate phase that has no
        head of the primary to score yet)."""
        self.model, self.data, self.primary, self.config = model, dict(data), primary, config
        self.anchor, self.evaluate = anchor, evaluate
        self.sampler, self.pad_id, self.out_dir = sampler, pad_id, out_dir
        self.eval_tasks = (primary, *[t for t in eval_tasks if t != primary])
        self.device = pick_device(config.device)
        self.precision = resolve_precision(config.precision, self.device)
        self.model.to(self.device)
        self.step = 0
        self.iterators = {
            task: EndlessBatches(d.train, config.batch_size, pad_id, seed=seed + index,
                                 group_by_length=group_by_length, pad_to=pad_to)
            for index, (task, d) in enumerate(self.data.items())
        }
        schedule = linear_warmup_decay(config.steps, config.warmup_steps())
        self.optimizers = build_optimizers(model, list(self.data), per_task=config.optimizer == "per_task",
                                           lr=config.lr, head_lr=config.head_lr, weight_decay=config.weight_decay,
                                           schedule=schedule, global_step=lambda: self.step)
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

    def _train(self, threads: ThreadShare) -> TrainOutcome:
        config, model = self.config, self.model
        started = time.perf_counter()
        model.train()
        best_score, best_state, best_step, best_dev = -math.inf, None, 0, {}
        evaluations_without_gain, stopped = 0, "budget"
        losses: dict[str, list[float]] = {}
        drawn_before = self._drawn()
        eval_seconds = 0.0
        task_steps = {task: 0 for task in self.data}
        bar = tqdm(total=config.steps, disable=not config.progress, desc="train", dynamic_ncols=True)
        last_dev = float("nan")
        try:
            for self.step in range(config.steps):
                threads.poll()
                task = self.sampler.next_task(self.step)
                optimizer, scheduler = self.optimizers[task]
                for _ in range(config.grad_accum):
                    batch = {k: v.to(self.device, non_blocking=True) for k, v in next(self.iterators[task]).items()}
                    with autocast(self.device, self.precision):
                        loss = model.loss(task, batch)
                    value = loss.item()
                    if not math.isfinite(value):
                        raise NonFiniteLossError(task, self.step + 1, value)  # 1-based, as in metrics.jsonl
                    (loss / config.grad_accum).backward()
                    losses.setdefault(task, []).append(value)
                task_steps[task] += 1
                if self.anchor is not None:
                    self.anchor.add_gradient()
                torch.nn.utils.clip_grad_norm_(
                    [p for group in optimizer.param_groups for p in group["params"]], config.max_grad_norm)
                scheduler.step()  # the rate of this global step, then the update
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                bar.update(1)
                bar.set_postfix(task=task, loss=f"{value:.4f}", dev=f"{last_dev:.4f}", refresh=False)
                if (self.step + 1) % config.eval_every and self.step + 1 != config.steps:
                    continue
                eval_started = time.perf_counter()
                dev = self.dev_scores() if self.evaluate else {}
                eval_seconds += time.perf_counter() - eval_started
                record = {
                    "step": self.step + 1,
                    "seconds": round(time.perf_counter() - started, 3),
                    "lr": scheduler.get_last_lr()[0],
                    "train_loss": {t: sum(v) / len(v) for t, v in losses.items()},
                    "batches": {t: len(v) for t, v in losses.items()},
                    "dev": dev,
                }
                if self.anchor is not None:
                    record["regularization"] = self.anchor.penalty()
                if self.out_dir is not None:
                    append_jsonl(self.out_dir / "metrics.jsonl", record)
                losses = {}
                if not self.evaluate:  # the training losses are recorded; the last weights are kept
                    continue
                score = self._signed(dev[self.primary]["main"])
                last_dev = dev[self.primary]["main"]
                self.sampler.update(self.step, score)
                if score > best_score:
                    best_score, best_step, best_dev = score, self.step + 1, dev
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
                    evaluations_without_gain = 0
                else:
                    evaluations_without_gain += 1
                    if config.patience is not None and evaluations_without_gain >= config.patience:
                        stopped = "patience"
                        break
        except NonFiniteLossError:
            stopped = "non_finite_loss"
            raise
        finally:
            bar.close()
            if best_state is not None:
                model.load_state_dict(best_state)
            if not self.evaluate:
                best_step = self.step + 1
            examples, tokens = (now - before for now, before in zip(self._drawn(), drawn_before))
            self.outcome = TrainOutcome(best_step, best_dev, self.step + 1, time.perf_counter() - started,
                                        eval_seconds, stopped, examples, tokens, self.precision,
                                        threads.describe(), task_steps)
        return self.outcome
