"""Identities of trained things, derived from the experiment config with an explicit exclude list.

A baseline reused from another run, or a cached GradTS importance, must have been trained exactly as it
would be here. Listing the fields that count by hand silently misses a new one; listing the fields that do
not count makes every new field count by default.
"""

from __future__ import annotations

from typing import Any, Iterable

from auxlearn.config import Experiment
from auxlearn.train.device import config_precision

# Where and how visibly a run trains, never what it trains.
NEVER = ("name", "data.dir", "data.cache_dir", "train.progress", "train.device", "train.threads",
         "train.checkpoint_every")


def config_identity(exp: Experiment, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The experiment's settings as JSON without ``exclude`` (dotted paths) and :data:`NEVER`; the precision
    is what ``auto`` resolves to on this machine."""
    doc = exp.model_dump(mode="json")
    doc["train"]["precision"] = config_precision(exp.train.precision, exp.train.device)
    for path in (*NEVER, *exclude):
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node.pop(leaf)
    return doc
