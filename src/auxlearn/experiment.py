"""Train one experiment end to end: data, model, sampler, trainer, best checkpoint, eval scores, results.json.

``prepare`` loads and encodes the tasks once; later stages (selection trials, mixing trials, seeds)
pass the prepared data back in, so nothing is tokenized twice in a process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import transformers

from auxlearn import __version__
from auxlearn.config import Experiment
from auxlearn.data.loading import default_data_dir
from auxlearn.data.task_data import TaskData, build_task_data
from auxlearn.errors import AuxlearnError, NonFiniteLossError
from auxlearn.io import write_json_atomic
from auxlearn.models.encoder import clamp_max_length, load_encoder, load_tokenizer, resolve_model_name
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.evaluation import evaluate
from auxlearn.train.samplers import TaskSampler, build_sampler
from auxlearn.train.trainer import Trainer


@dataclass
class Prepared:
    """Tokenizer and encoded data of every task an experiment may train on."""

    tokenizer: Any
    data: dict[str, TaskData]


def prepare(exp: Experiment, tasks: Optional[list[str]] = None) -> Prepared:
    """Load and encode ``tasks`` (default: the primary and the auxiliaries)."""
    known = available_tasks(exp.task_files)
    names = tasks or exp.tasks
    specs = {name: get_task(name, known) for name in names}
    tokenizer = load_tokenizer(exp.model)
    config = transformers.AutoConfig.from_pretrained(resolve_model_name(exp.model))
    data_dir = exp.data.dir or default_data_dir()
    cache_dir = Path(exp.data.cache_dir) if exp.data.cache_dir else None
    data = {}
    for name, spec in specs.items():
        max_length = clamp_max_length(exp.data.max_length or spec.max_length, config, name)
        data[name] = build_task_data(
            spec, tokenizer, data_dir=data_dir, max_length=max_length, dev_size=exp.data.dev_size,
            max_train_examples=exp.data.train_limit(name), split_seed=exp.data.split_seed, cache_dir=cache_dir,
            need_eval=name == exp.primary or name in exp.train.eval_tasks, pair_encoding=exp.pair_encoding,
        )
    return Prepared(tokenizer, data)


def build_model(exp: Experiment, prepared: Prepared, tasks: list[str]) -> MultiTaskModel:
    """A fresh model: pretrained encoder, heads initialised from the experiment's seed."""
    transformers.set_seed(exp.seed)
    return MultiTaskModel(load_encoder(exp.model), {t: prepared.data[t].spec for t in tasks},
                          pooling=exp.pooling, pair_encoding=exp.pair_encoding, head_dropout=exp.head_dropout)


def train_experiment(exp: Experiment, out_dir: Optional[str | Path], prepared: Optional[Prepared] = None,
                     sampler: Optional[TaskSampler] = None, save_model: bool = True,
                     score_eval: bool = True) -> dict[str, Any]:
    """Train, keep the best dev checkpoint, score it on eval, and write ``results.json`` in ``out_dir``.

    Selection and mixing trials pass ``score_eval=False``: what chooses never looks at eval."""
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    prepared = prepared or prepare(exp)
    tasks = exp.tasks
    model = build_model(exp, prepared, tasks)
    data = {t: prepared.data[t] for t in tasks}
    if sampler is None:
        sampler = build_sampler(exp.train.sampler.name, exp.train.sampler.options, tasks,
                                {t: len(d.train) for t, d in data.items()}, total_steps=exp.train.steps,
                                seed=exp.seed)
    if out is not None:  # only once the inputs are checked: bad input leaves no folder behind
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("metrics.jsonl", "results.json"):  # a previous run's, which this run replaces
            (out / stale).unlink(missing_ok=True)
    trainer = Trainer(model, data, exp.primary, exp.train, sampler=sampler, pad_id=prepared.tokenizer.pad_token_id,
                      seed=exp.seed, out_dir=out, eval_tasks=tuple(exp.train.eval_tasks),
                      pad_to=prepared_pad_length(exp, prepared), group_by_length=exp.data.group_by_length)
    metadata = {**model_metadata(exp, prepared), "precision": trainer.precision}  # evaluate and predict as trained
    try:
        outcome = trainer.train()
    except NonFiniteLossError:
        if out is not None and trainer.outcome.best_step and save_model:
            model.save(out / "model", prepared.tokenizer, metadata)
        raise
    if out is not None and save_model:
        model.save(out / "model", prepared.tokenizer, metadata)
    scores = {}
    for task in (exp.primary, *exp.train.eval_tasks) if score_eval else ():
        scores[task] = evaluate(model, task, prepared.data[task].split("eval"), trainer.inference)
    results = {
        "primary": exp.primary,
        "tasks": tasks,
        "eval": scores,
        "dev_best": outcome.best_dev,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "stopped": outcome.stopped,
        "seconds": round(time.perf_counter() - started, 3),
        "train_seconds": round(outcome.seconds - outcome.eval_seconds, 3),
        "dev_eval_seconds": round(outcome.eval_seconds, 3),
        "examples": outcome.examples,
        "tokens": outcome.tokens,
        "precision": outcome.precision,
        "threads": outcome.threads,
        "sampler": sampler.describe(),
        "train_sizes": {t: len(d.train) for t, d in data.items()},
        "config": exp.model_dump(mode="json"),
        "versions": versions(),
    }
    if out is not None:
        write_json_atomic(out / "results.json", results)
    return results


def model_metadata(exp: Experiment, prepared: Prepared) -> dict[str, Any]:
    """How the data was split and encoded, so `auxlearn evaluate --split dev` rebuilds the same dev split."""
    return {"data": {"dev_size": exp.data.dev_size, "split_seed": exp.data.split_seed,
                     "max_length": {t: d.max_length for t, d in prepared.data.items()}},
            "task_files": exp.task_files}


def prepared_pad_length(exp: Experiment, prepared: Prepared) -> Optional[int]:
    """``padding: max_length`` pads every batch to the longest max_length in use (for comparisons)."""
    if exp.data.padding == "longest":
        return None
    return exp.data.max_length or max(d.spec.max_length for d in prepared.data.values())


def versions() -> dict[str, str]:
    return {"auxlearn": __version__, "torch": torch.__version__, "transformers": transformers.__version__}
