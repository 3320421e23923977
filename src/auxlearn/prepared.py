"""An experiment's tasks loaded and encoded once (``prepare``), so that later stages (selection and mixing trials,
seeds, the arms of ``auxlearn adapt``) pass them back in and nothing is tokenized twice in a process; and the
k-shot cut of the primary (``with_shots``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from auxlearn.config_schema import Experiment
from auxlearn.data.loading import default_data_dir
from auxlearn.data.shots import draw_shots
from auxlearn.data.task_data import TaskData, build_task_data
from auxlearn.models.encoder import clamp_max_length, load_config, load_tokenizer
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.device import pick_device


@dataclass
class Prepared:
    """Tokenizer and encoded data of every task an experiment may train on."""

    tokenizer: Any
    data: dict[str, TaskData]


def prepare(exp: Experiment, tasks: Optional[list[str]] = None, into: Optional[Prepared] = None) -> Prepared:
    """Load and encode ``tasks`` (default: the primary and the auxiliaries); ``into``: add those it lacks to it
    (a final model may train objectives its mixer generated)."""
    pick_device(exp.train.device)  # a GPU that is not there fails before the data work, not after it
    known = available_tasks(exp.task_files)
    names = [n for n in tasks or exp.tasks if into is None or n not in into.data]
    specs = {name: get_task(name, known) for name in names}
    if into is not None and not specs:
        return into
    tokenizer = into.tokenizer if into is not None else load_tokenizer(exp.model)
    config = load_config(exp.model)
    data_dir = exp.data.dir or default_data_dir()
    cache_dir = Path(exp.data.cache_dir) if exp.data.cache_dir else None
    data = {}
    for name, spec in specs.items():
        max_length = clamp_max_length(exp.data.max_length or spec.max_length, config, name)
        text = spec.objective.input if spec.objective else name  # an objective reads its input task's examples
        data[name] = build_task_data(
            spec, tokenizer, data_dir=data_dir, max_length=max_length, dev_size=exp.data.dev_size,
            max_train_examples=exp.data.train_limit(text), split_seed=exp.data.split_seed, cache_dir=cache_dir,
            need_eval=name == exp.primary or name in exp.train.eval_tasks, pair_encoding=exp.pair_encoding,
        )
    if into is not None:
        into.data.update(data)
        return into
    return Prepared(tokenizer, data)


def with_shots(exp: Experiment, prepared: Prepared) -> Prepared:
    """``prepared`` with the primary's train and dev cut to ``data.shots`` examples per class, drawn for the
    experiment's seed (the same draw for every arm of that seed); as it is without ``data.shots``."""
    k = exp.data.shots
    if k is None:
        return prepared
    full = prepared.data[exp.primary]
    classes, seed = len(full.spec.label_names), (exp.data.split_seed, exp.seed)
    task = replace(full, train=draw_shots(full.train, classes, k, (*seed, 0), f"task {exp.primary!r}'s train split"),
                   dev=draw_shots(full.dev, classes, k, (*seed, 1), f"task {exp.primary!r}'s dev split"))
    return Prepared(prepared.tokenizer, {**prepared.data, exp.primary: task})
