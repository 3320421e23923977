"""What a re-run into a run folder finds finished: the identity of what a phase trains (its settings, data and
place in the arm, the versions), the results a finished training left, and whether a whole arm is there."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Optional

import torch
import transformers
from pydantic import ValidationError

from auxlearn.config_schema import Experiment
from auxlearn.data.fingerprint import split_fingerprint
from auxlearn.identity import config_identity
from auxlearn.io import read_json
from auxlearn.models.multitask import is_model_folder
from auxlearn.prepared import Prepared
from auxlearn.version import __version__


def training_identity(exp: Experiment, data: Optional[dict], phase: int, sampler: Any = None) -> str:
    """A hash of what one phase trains (its settings, its data, its place in the arm, a sampler given from outside
    as its ``describe()``): a checkpoint or a finished phase is resumed only under an equal identity."""
    doc = {"config": config_identity(exp), "data": data, "phase": phase, "versions": versions(), "sampler": sampler}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def stored_results(folder: Path) -> Optional[dict[str, Any]]:
    """The results.json a finished training left in ``folder``; None when there is none, or a damaged one (that
    training is then run again and replaces it)."""
    try:
        results = read_json(folder / "results.json")
    except (OSError, ValueError):
        return None
    return results if isinstance(results, dict) else None


def finished_results(folder: Path, identity: str) -> Optional[dict[str, Any]]:
    """The results.json of a training with this identity that ``folder`` holds finished, else None."""
    results = stored_results(folder)
    return results if results is not None and results.get("identity") == identity else None


def data_fingerprint(exp: Experiment, prepared: Prepared, with_eval: bool) -> dict[str, dict[str, str]]:
    """Per task of the arm and split, a hash of its encoded examples (an edited task file changes it); eval only
    for an arm that scores it (a selection trial never reads eval)."""
    names = ("train", "dev", "eval") if with_eval else ("train", "dev")
    return {task: {name: split_fingerprint(split) for name in names
                   if (split := getattr(prepared.data[task], name)) is not None} for task in exp.tasks}


def finished_arm(exp: Experiment, out: Path, data: dict[str, dict[str, str]], save_model: bool,
                 score_eval: bool) -> Optional[dict]:
    """The results of this very arm if ``out`` holds them: same config, data and versions, eval scored and the
    model saved when asked. A run re-run into its folder after a kill thus skips every seed, trial and stage it had
    finished (each arm's ``results.json`` is written last, in one rename) and gives the same numbers."""
    results = stored_results(out)
    if (results is None or "protocol" not in results  # a phase's results, not the arm's
            or _stored_identity(results.get("config")) != config_identity(exp)
            or results.get("data_fingerprint") != data or results.get("versions") != versions()):
        return None
    if (score_eval and not results.get("eval")) or (save_model and not is_model_folder(out / "model")):
        return None
    return results


def _stored_identity(config: Any) -> Optional[dict[str, Any]]:
    """The identity of a config stored in results.json (None if it no longer validates)."""
    try:
        return config_identity(Experiment.model_validate(config))
    except ValidationError:
        return None


def versions() -> dict[str, str]:
    return {"auxlearn": __version__, "torch": torch.__version__, "transformers": transformers.__version__}
