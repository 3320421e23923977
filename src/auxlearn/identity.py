"""Identities of trained things, derived from the experiment config with an explicit exclude list.

A baseline reused from another run, or a cached GradTS importance, must have been trained exactly as it
would be here. Listing the fields that count by hand silently misses a new one; listing the fields that do
not count makes every new field count by default.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from auxlearn.config_schema import Experiment
from auxlearn.errors import AuxlearnError
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.device import config_precision

# Where and how visibly a run trains, never what it trains.
NEVER = ("name", "data.dir", "data.cache_dir", "train.progress", "train.device", "train.threads",
         "train.checkpoint_every", "train.log_with", "baseline")


def config_identity(exp: Experiment, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The experiment's settings as JSON without ``exclude`` (dotted paths) and :data:`NEVER`; the precision
    is what ``auto`` resolves to on this machine, and a model folder is its weights (:func:`model_identity`). The
    ``objectives`` section counts only where it can change what trains (:func:`trains_objectives`)."""
    doc = exp.model_dump(mode="json")
    doc["model"] = model_identity(exp.model)
    doc["train"]["precision"] = config_precision(exp.train.precision, exp.train.device)
    if not trains_objectives(exp):
        doc.pop("objectives")
    if exp.train.steps != "auto":  # epochs only choose auto's steps: a recipe of given steps keeps its identity
        doc["train"].pop("epochs")
    for path in (*NEVER, *exclude):
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node.pop(leaf, None)
    return doc


def trains_objectives(exp: Experiment) -> bool:
    """Whether a task of ``exp`` is a generated objective or has a head that predicts tokens (a masked_lm task):
    only then do the ``objectives`` settings touch training, so configs written before them keep their identity."""
    files = tuple((str(f), Path(f).stat().st_mtime_ns if Path(f).is_file() else None) for f in exp.task_files)
    return _trains_objectives(tuple(exp.tasks), files)


@lru_cache(maxsize=64)
def _trains_objectives(tasks: tuple[str, ...], task_files: tuple[tuple[str, Optional[int]], ...]) -> bool:
    try:
        known = available_tasks([path for path, _ in task_files])
        specs = [get_task(task, known) for task in tasks]
    except AuxlearnError:  # a task file gone or broken: counted, which can only train again, never reuse wrongly
        return True
    return any(spec.objective is not None or spec.task_type.head.predicts_tokens for spec in specs)


WEIGHTS = (".safetensors", ".bin")


def model_identity(model: str) -> Union[str, dict[str, str]]:
    """A model name stands for itself; a local folder for the content of its weight files, so that a folder copied
    or cloned elsewhere is the same model and one trained again in place (new skills under the same path) is not.
    Only the weights: the configs saved beside them may hold the path they were written from."""
    folder = Path(model)
    if not folder.is_dir():
        return model
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.suffix in WEIGHTS)
    return {"weights": _digest(tuple((str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files))}


@lru_cache(maxsize=64)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    """The sha256 of the files' names and contents, read once per process while their sizes and times hold."""
    digest = hashlib.sha256()
    for path, _, _ in files:
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
