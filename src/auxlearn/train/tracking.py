"""Experiment tracking (``train.log_with``) through Accelerate's trackers: TensorBoard, MLflow, Trackio, W&B.

Every trained arm is one run, named by its folder below the command's output folder (``baseline/seed_0``,
``final/seed_1``, ``select/bandit``) and grouped under the experiment's name: TensorBoard's
``tracking/<name>/<run>`` folders, MLflow's experiment, Trackio's and W&B's project. The run holds the config as
hyper-parameters, each step's losses and the sampler's, weighting's and bandit's state (``Trainer``), each dev
evaluation, and the arm's eval scores. An arm's phases log into its one run, each phase's steps after the
previous one's. The logs go to ``<out>/tracking`` (``tracking_root``: the command's folder; an arm trained
alone is its own root); MLflow to a file store there unless ``MLFLOW_TRACKING_URI`` says otherwise.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional

import torch
from accelerate.tracking import GeneralTracker, MLflowTracker, TensorBoardTracker, TrackioTracker, WandBTracker
from accelerate.utils import is_mlflow_available, is_tensorboard_available, is_trackio_available, is_wandb_available

from auxlearn.train.processes import is_main_process, make_accelerator

# Each tracker's package is present (what Accelerate itself asks before it uses it).
INSTALLED: dict[str, Callable[[], bool]] = {"tensorboard": is_tensorboard_available, "mlflow": is_mlflow_available,
                                            "trackio": is_trackio_available, "wandb": is_wandb_available}

# The command's output folder, and the folder its arms' logs go to, while it trains (``tracking_root``).
_ROOT: ContextVar[Optional[tuple[Path, Path]]] = ContextVar("auxlearn_tracking_root", default=None)


def missing_trackers(names: list[str]) -> list[str]:
    """The trackers of ``names`` whose package is not installed (its auxlearn extra installs it)."""
    return [name for name in names if not INSTALLED[name]()]


def tracking_folder(out: Path) -> Path:
    return Path(out) / "tracking"


@contextmanager
def tracking_root(out: Path, folder: Optional[Path] = None) -> Iterator[None]:
    """Arms trained meanwhile are runs named by their folder below ``out``, logged into ``folder`` (default
    ``out/tracking``). An enclosing command's root wins (``run`` over the ``select`` it runs)."""
    if _ROOT.get() is not None:
        yield
        return
    token = _ROOT.set((Path(out).resolve(), Path(folder or tracking_folder(out)).resolve()))
    try:
        yield
    finally:
        _ROOT.reset(token)


def announce(names: list[str], out: Path) -> None:
    """Print where each tracker of ``names`` logs the arms trained into ``out`` and how to look at them (what the
    commands say before they train; the main process of several)."""
    if not names or not is_main_process():
        return
    folder = tracking_folder(out)
    mlflow = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow = (f"mlflow ui --backend-store-uri {mlflow}" if mlflow else
              f"MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {(folder / 'mlruns').resolve().as_uri()}")
    sites = {"tensorboard": f"tensorboard --logdir {folder}", "mlflow": mlflow,
             "trackio": "trackio show (its own local database)", "wandb": f"{folder / 'wandb'} (WANDB_MODE)"}
    print(f"tracking in {folder}: " + "; ".join(sites[name] for name in names), flush=True)


def hyperparameters(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The config as flat ``train.lr``-style keys with scalar values (lists and empty sections as JSON text), the
    form every tracker takes hyper-parameters in."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            flat.update(hyperparameters(value, f"{prefix}{key}."))
        else:
            scalar = value is None or isinstance(value, (bool, int, float, str))
            flat[f"{prefix}{key}"] = value if scalar else json.dumps(value)
    return flat


def scores_as_scalars(prefix: str, scores: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """``{task: {metric: value}}`` as ``prefix/task/metric`` scalars."""
    return {f"{prefix}/{task}/{metric}": value for task, metrics in scores.items() for metric, value in metrics.items()}


def _mlflow_store(folder: Path) -> None:
    """MLflow logs into ``folder/mlruns`` unless ``MLFLOW_TRACKING_URI`` names a store: a file store, where a
    step's metrics cost a file append, not a database transaction (MLflow 3 asks for an opt-in to it)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return
    import mlflow

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((folder / "mlruns").as_uri())


def _trackers(names: list[str], folder: Path, project: str, run: str) -> list[GeneralTracker]:
    """Accelerate's trackers for one run named ``run`` of the group ``project``."""
    made = {"tensorboard": lambda: TensorBoardTracker(f"{project}/{run}", folder),
            "mlflow": lambda: MLflowTracker(project, run_name=run),
            "trackio": lambda: TrackioTracker(project, name=run),
            "wandb": lambda: WandBTracker(project, name=run, dir=str(folder))}
    return [made[name]() for name in names]


class TrackedRun:
    """One arm's run in every tracker of ``names``: opened once, fed by each phase's trainer, closed at the end."""

    def __init__(self, names: list[str], folder: Path, project: str, run: str, config: Mapping[str, Any],
                 device: torch.device):
        if "mlflow" in names:
            _mlflow_store(folder)
        self.run = run
        self.accelerator = make_accelerator(device, log_with=_trackers(names, folder, project, run),
                                            project_dir=folder)
        self.accelerator.init_trackers(project, config=hyperparameters(config))
        self.offset = 0  # the steps of the arm's earlier phases

    def log(self, values: Mapping[str, float], step: int) -> None:
        """``values`` at the phase's ``step`` (1-based), placed after the earlier phases' steps."""
        self.accelerator.log(dict(values), step=self.offset + step)

    def next_phase(self, steps: int) -> None:
        self.offset += steps

    def finish(self) -> None:
        """Close every tracker's run. Not ``end_training``, which also ends the process group (under
        ``accelerate launch``) that later arms still train in."""
        for tracker in self.accelerator.trackers:
            tracker.finish()


@contextmanager
def tracked_run(names: list[str], out: Optional[Path], project: str, config: Mapping[str, Any],
                device: torch.device) -> Iterator[Optional[TrackedRun]]:
    """The run of the arm trained into ``out`` while this holds; None without trackers or an output folder."""
    if not names or out is None:
        yield None
        return
    out = Path(out).resolve()
    root, folder = _ROOT.get() or (out, tracking_folder(out))
    name = out.relative_to(root).as_posix() if out.is_relative_to(root) and out != root else out.name
    run = TrackedRun(list(names), folder, project, name, config, device)
    try:
        yield run
    finally:
        run.finish()
