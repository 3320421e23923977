"""What the contract suite (test_contracts.py) builds its checks with: an eval split that fails when read, a tiny
atlas, and what a method's planned cost says it trains against the trainers it then builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from auxlearn.stage_cost import StageCost
from auxlearn.train.trainer import Trainer


class Unreadable:
    """Stands in for every task's eval split: whatever touches it fails the test."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AssertionError(f"the eval split was read (.{name})")

    def __len__(self):
        raise AssertionError("the eval split was read (len)")

    def __iter__(self):
        raise AssertionError("the eval split was read (iterated)")


def write_tiny_atlas(folder: Path, model_dir: str) -> str:
    """An atlas of the tiny model for the ``atlas`` selector: rows of tasks besides the experiment's, with their
    embeddings (the tiny BERT's hidden size), and a row of the primary's own, which the selector must leave out."""
    rng = np.random.default_rng(0)
    gains = {"cola": {"mrpc": 0.02, "stsb": -0.01, "sst2": 0.0}, "sst2": {"mrpc": -0.03, "stsb": 0.01},
             "rte": {"mrpc": -0.5, "stsb": 0.5}}
    rows = {p: {"pairs": {c: {"gain": {"mean": g, "low": g - 0.01, "high": g + 0.01, "n": 3}} for c, g in row.items()}}
            for p, row in gains.items()}
    path = folder / "atlas.json"
    path.write_text(json.dumps({"format": "auxlearn-atlas", "encoder": model_dir, "rows": rows,
                                "embedding_settings": {"examples": 8, "pooling": "mean"},
                                "embeddings": {t: rng.normal(size=32).tolist() for t in ("cola", "sst2")}}))
    return str(path)


def planned_steps(cost: StageCost) -> list[int]:
    """The steps of every training run (phase) a method's cost plans, sorted."""
    return sorted(phase["steps"] for training in cost.trainings for phase in training.phases)


def record_trainers(monkeypatch) -> list[int]:
    """The steps of every trainer built from now on (each phase of each training builds one), in order."""
    steps, init = [], Trainer.__init__

    def recording(self, model, data, primary, config, **kwargs):
        steps.append(config.steps)
        init(self, model, data, primary, config, **kwargs)

    monkeypatch.setattr(Trainer, "__init__", recording)
    return steps
