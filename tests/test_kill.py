"""SIGKILL a tiny `auxlearn run` at several points (preparing the data, a baseline seed, a selection trial, a
mixing trial, a final seed), re-run it into its folder each time: it ends with the results.json of an
uninterrupted run, no finished arm or phase is trained again, and each killed arm goes on from its checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import experiment_dict, write_yaml
from kill_runs import finished_trainings, kill_when, run_to_end, without_timing

pytestmark = [pytest.mark.data, pytest.mark.slow]


def _first(pattern: str, folder: Path):
    return lambda: next(iter(sorted(folder.glob(pattern))), None)


def test_a_run_killed_at_every_stage_resumes_to_the_uninterrupted_results(tmp_path, tiny_model_dir):
    config = write_yaml(tmp_path / "run.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], seeds=[0, 1], data={"max_train_examples": 48},
        train={"steps": 16, "eval_every": 4, "checkpoint_every": 4},
        # keeps MRPC whatever its gain: the mix and final train
        select={"method": "exhaustive", "seeds": 1, "min_gain": -1.0},
        mix={"method": "gp-bo", "n_trials": 3, "n_startup_trials": 2, "max_ratio": 3}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = run_to_end(config, tmp_path / "whole", env)

    run = tmp_path / "killed"
    cache = tmp_path / "cache"  # a fresh encoding cache: the first kill lands while the data is being prepared
    finished: dict[Path, int] = {}
    killed_arms = []
    points = {
        "preparing the data": (_first("*", cache), {**env, "AUXLEARN_CACHE": str(cache)}),
        "a baseline seed": (_first("baseline/seed_1/checkpoint/checkpoint.json", run), env),
        "a selection trial": (_first("select/*/*/checkpoint/checkpoint.json", run), env),
        "a mixing trial": (_first("mix/trial_*/checkpoint/checkpoint.json", run), env),
        "a final seed": (_first("final/seed_1/checkpoint/checkpoint.json", run), env),
    }
    for name, (marker, point_env) in points.items():
        found = kill_when(config, run, point_env, marker)
        assert found is not None, f"the run ended before the kill point: {name}"
        if name == "preparing the data":
            assert not (run / "config.yaml").exists(), "killed too late: the data was prepared"
        else:
            killed_arms.append(found.parent.parent)
        assert not (run / "results.json").exists()
        finished.update({p: m for p, m in finished_trainings(run).items() if p not in finished})
    resumed = run_to_end(config, run, env)

    assert without_timing(resumed) == without_timing(whole)
    untouched = {p: m for p, m in finished.items() if p.exists() and p.stat().st_mtime_ns == m}
    assert untouched == finished, "a finished arm or phase was trained again"
    assert len(finished) >= 4  # the baseline seed, a selection trial, mixing trials, a final seed
    for arm in killed_arms:
        assert json.loads((arm / "results.json").read_text())["resumed_from_step"] > 0, arm
    assert not list(run.rglob("checkpoint")), "finished arms keep no checkpoint"
