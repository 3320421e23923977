"""SIGKILL a tiny `auxlearn run` at several points (preparing the data, a baseline seed, a selection trial, a
mixing trial, a final seed), re-run it into its folder each time: it ends with the results.json of an
uninterrupted run, no finished arm or phase is trained again, and each killed arm goes on from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import experiment_dict, write_yaml

pytestmark = pytest.mark.data

TIMING = ("seconds", "train_seconds", "dev_eval_seconds", "checkpoint_seconds", "resumed_from_step", "threads",
          "total", "reused_seconds")


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auxlearn", "run", str(config), "--out", str(out)]


def _run_to_end(config: Path, out: Path, env: dict) -> dict:
    done = subprocess.run(_command(config, out), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def _kill_when(config: Path, out: Path, env: dict, marker) -> Path:
    """Start the run, SIGKILL it as soon as ``marker()`` returns a path, and return that path."""
    process = subprocess.Popen(_command(config, out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while process.poll() is None:
            found = marker()
            if found is not None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return found
            time.sleep(0.005)
        pytest.fail(f"the run ended (status {process.returncode}) before the kill point: "
                    f"{process.stderr.read().decode()[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()


def _first(pattern: str, folder: Path):
    return lambda: next(iter(sorted(folder.glob(pattern))), None)


def _finished(run: Path) -> dict[Path, int]:
    """Every arm and phase results.json the run folder holds (finished trainings), with its modification time."""
    return {p: p.stat().st_mtime_ns for p in run.glob("*/**/results.json")}


def test_a_run_killed_at_every_stage_resumes_to_the_uninterrupted_results(tmp_path, tiny_model_dir):
    config = write_yaml(tmp_path / "run.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], seeds=[0, 1], data={"max_train_examples": 48},
        train={"steps": 16, "eval_every": 4, "checkpoint_every": 4},
        select={"method": "exhaustive", "min_gain": -1.0},  # keeps MRPC whatever its gain: the mix and final train
        mix={"method": "gp-bo", "n_trials": 3, "n_startup_trials": 2, "max_ratio": 3}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole = _run_to_end(config, tmp_path / "whole", env)

    run = tmp_path / "killed"
    cache = tmp_path / "cache"  # a fresh encoding cache: the first kill lands while the data is being prepared
    finished: dict[Path, int] = {}
    killed_arms = []
    points = {
        "preparing the data": (_first("*", cache), {**env, "AUXLEARN_CACHE": str(cache)}),
        "a baseline seed": (_first("baseline/seed_1/checkpoint/checkpoint.json", run), env),
        "a selection trial": (_first("select/*/checkpoint/checkpoint.json", run), env),
        "a mixing trial": (_first("mix/trial_*/checkpoint/checkpoint.json", run), env),
        "a final seed": (_first("final/seed_1/checkpoint/checkpoint.json", run), env),
    }
    for name, (marker, point_env) in points.items():
        found = _kill_when(config, run, point_env, marker)
        if name == "preparing the data":
            assert not (run / "config.yaml").exists(), "killed too late: the data was prepared"
        else:
            killed_arms.append(found.parent.parent)
        assert not (run / "results.json").exists()
        finished.update({p: m for p, m in _finished(run).items() if p not in finished})
    resumed = _run_to_end(config, run, env)

    assert _without_timing(resumed) == _without_timing(whole)
    untouched = {p: m for p, m in finished.items() if p.exists() and p.stat().st_mtime_ns == m}
    assert untouched == finished, "a finished arm or phase was trained again"
    assert len(finished) >= 4  # the baseline seed, a selection trial, mixing trials, a final seed
    for arm in killed_arms:
        assert json.loads((arm / "results.json").read_text())["resumed_from_step"] > 0, arm
    assert not list(run.rglob("checkpoint")), "finished arms keep no checkpoint"
