"""Interrupt training and run it again: `auxlearn run` as a process SIGKILLed at a chosen moment (the kill test,
bench/kill_resume.py), or a training step that raises in-process (the checkpoint tests)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

# Keys that measure time (or where a run went on from), which a resumed run cannot share with an uninterrupted one;
# "plan" is the estimate of the run's time, from a warm-up timed on the machine as it was when the run (re)started.
TIMING = ("seconds", "train_seconds", "dev_eval_seconds", "checkpoint_seconds", "resumed_from_step", "threads",
          "total", "reused_seconds", "seconds_per_meta_step", "seconds_per_plain_step", "extra_seconds", "plan")


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def run_command(config: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auxlearn", "run", str(config), "--out", str(out)]


def run_to_end(config: Path, out: Path, env: dict) -> dict:
    """Run (or resume) to the end; the run's results.json."""
    done = subprocess.run(run_command(config, out), env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise AssertionError(f"auxlearn run exited {done.returncode}: {done.stderr[-3000:]}")
    return json.loads((out / "results.json").read_text())


def kill_when(config: Path, out: Path, env: dict, marker: Callable[[], Optional[object]],
              command: Optional[list[str]] = None) -> Optional[object]:
    """Start the run (or ``command``) and SIGKILL it as soon as ``marker()`` returns something, which is returned;
    None if the run ended first."""
    process = subprocess.Popen(command or run_command(config, out), env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            found = marker()
            if found is not None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                return found
            time.sleep(0.005)
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def finished_trainings(run: Path) -> dict[Path, int]:
    """Every arm and phase results.json in the run folder (finished trainings), with its modification time."""
    return {p: p.stat().st_mtime_ns for p in run.glob("*/**/results.json")}


class Killed(BaseException):
    """Stands for SIGKILL inside the process: nothing below the training loop catches it."""


def kill_at_step(monkeypatch, step: int) -> None:
    """Raise Killed in the ``step``-th step this process trains (before its evaluation or checkpoint)."""
    import auxlearn.train.trainer as trainer_module

    real, calls = trainer_module.chain_digest, []

    def counting(digest, task):
        calls.append(task)
        if len(calls) == step:
            raise Killed
        return real(digest, task)

    monkeypatch.setattr(trainer_module, "chain_digest", counting)


def killed_at_step(monkeypatch, step: int, train: Callable[[], object]) -> None:
    """Run ``train()``, killed in the ``step``-th step it trains (a run that ends before it fails the test)."""
    import pytest

    with monkeypatch.context() as patch:
        kill_at_step(patch, step)
        with pytest.raises(Killed):
            train()
