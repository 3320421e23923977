"""Checkpoints inside a training run: what a killed run needs to go on exactly where it was.

Accelerate's ``save_state`` writes the model, the optimisers and every global random generator (Python,
NumPy, torch, CUDA; one file per process); the objects the trainer registers for checkpointing add the task
sampler (its generator, a bandit's posteriors), each task's place in its data order and the loop's progress
(step, best weights so far, evaluations without gain). ``checkpoint.json``, written last, names the training it
belongs to. A checkpoint is written into ``.checkpoint.tmp`` and renamed over the previous one, so a kill at
any moment leaves a complete checkpoint to resume from (or none, before the first). A write that fails (a full disk,
a file-size limit) removes its ``.checkpoint.tmp`` and stops the run with the path and the cause; the previous
checkpoint stays.
"""

from __future__ import annotations

import json
import logging
import pickle
import shutil
from pathlib import Path
from typing import Optional

from accelerate import Accelerator
from safetensors import SafetensorError

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.io import read_json, replace_folder, writing

FOLDER = "checkpoint"
STATE = "checkpoint.json"

log = logging.getLogger(__name__)


def _candidates(out_dir: Path) -> list[Path]:
    """The checkpoint, and the folders a kill during its replacement may leave (each complete if it has STATE)."""
    return [out_dir / FOLDER, out_dir / f".{FOLDER}.tmp", out_dir / f".{FOLDER}.old"]


def save_checkpoint(accelerator: Accelerator, out_dir: Path, step: int, identity: str) -> None:
    """Write the state after ``step`` steps; every process takes part (each saves its random generators)."""
    folder, tmp, _ = _candidates(out_dir)
    kept = "; the previous checkpoint is kept, and a re-run resumes from it" if folder.is_dir() else ""
    try:
        with writing(folder, kept):  # safetensors, torch and Accelerate report a full disk in their own words
            _save(accelerator, out_dir, step, identity)
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save(accelerator: Accelerator, out_dir: Path, step: int, identity: str) -> None:
    folder, tmp, _ = _candidates(out_dir)
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        state = {"step": step, "processes": accelerator.num_processes, "identity": identity}
        (tmp / STATE).write_text(json.dumps(state), encoding="utf-8")  # tmp is renamed whole: no file of its own
        replace_folder(tmp, folder)
    accelerator.wait_for_everyone()


def latest_checkpoint(out_dir: Path, identity: str) -> Optional[tuple[Path, int, int]]:
    """The newest complete checkpoint of this very training (folder, step, processes), if ``out_dir`` holds one.

    One of another training (the config or data changed since) is not resumed: the run starts over."""
    found = []
    for folder in _candidates(out_dir):
        if folder.is_dir() and not (folder / STATE).is_file():  # cut short by a kill or a full disk: its space back
            shutil.rmtree(folder, ignore_errors=True)
            continue
        try:
            state = read_json(folder / STATE)
        except (OSError, ValueError, DamagedFileError):
            continue
        if not isinstance(state, dict) or state.get("identity") != identity:
            log.warning("auxlearn: %s is a checkpoint of another training (config or data changed); starting over",
                        folder)
            continue
        found.append((folder, int(state["step"]), int(state["processes"])))
    return max(found, key=lambda f: f[1]) if found else None


def load_checkpoint(accelerator: Accelerator, folder: Path, processes: int) -> None:
    """Restore everything ``save_checkpoint`` wrote; a damaged checkpoint is an error naming it."""
    if processes != accelerator.num_processes:
        raise AuxlearnError(f"{folder} was written by {processes} training process(es); resume it with as many "
                            f"(this run has {accelerator.num_processes}), or delete it to start over")
    try:
        accelerator.load_state(str(folder))
    except (OSError, RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError, SafetensorError) as error:
        cause = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        raise DamagedFileError(f"{folder}: cannot resume from this checkpoint ({cause}); delete it to start "
                               "over") from None


def remove_checkpoints(out_dir: Path) -> None:
    """A finished training needs no checkpoint: its results.json is what a re-run reads back."""
    for folder in _candidates(out_dir):
        shutil.rmtree(folder, ignore_errors=True)
