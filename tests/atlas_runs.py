"""`auxlearn atlas` run in this process or as a process, and what its journal storage holds: for
tests/test_atlas.py."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from auxlearn.atlas.config import Cell
from auxlearn.cli import main


class Hung(Exception):
    pass


def cli(argv: list[str], deadline: float = 120) -> tuple[int, str]:
    """`auxlearn ARGV` in this process: its exit status and output; Hung after ``deadline`` seconds."""
    def stop(signum, frame):
        raise Hung(f"auxlearn {' '.join(argv)} still running after {deadline} s")

    out, previous = io.StringIO(), signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, deadline)
    try:
        with redirect_stdout(out), redirect_stderr(out):
            code = main(argv)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue()


def command(config: Path, out: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "auxlearn", "atlas", str(config), "--out", str(out), *more]


def env() -> dict[str, str]:
    """The environment of an atlas process: this session's (its private cache), one thread."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def trials(journal: Path) -> list[optuna.trial.FrozenTrial]:
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.load_study(study_name="atlas", storage=storage).get_trials(deepcopy=False)


def completed(journal: Path) -> Counter:
    """How many COMPLETE trials each cell has in the storage."""
    return Counter(t.user_attrs["cell"] for t in trials(journal) if t.state == TrialState.COMPLETE)


def read(folder: Path) -> dict:
    return json.loads((folder / "atlas.json").read_text())


def run_keys(doc: dict) -> set[str]:
    return {Cell(**run["cell"]).key for run in doc["runs"]}


def training_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "] atlas: " in line]
