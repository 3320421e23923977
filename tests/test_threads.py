"""Threads: the cores this process may use, shared among the auxlearn workers computing on the machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

import auxlearn.train.threads as threads_module
from auxlearn.config import experiment_from_dict
from auxlearn.experiment import train_experiment
from auxlearn.train.threads import ThreadShare, count_workers, thread_share
from conftest import experiment_dict

# A worker in another process: registers, says so, and computes (sleeps) until killed.
WORKER = """
import sys, time
from auxlearn.train.threads import thread_share
with thread_share():
    print("ready", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def workers(tmp_path, monkeypatch):
    """A private workers folder, four usable cores, no OMP_NUM_THREADS; yields a starter of other workers."""
    folder = tmp_path / "workers"
    monkeypatch.setenv("AUXLEARN_WORKERS_DIR", str(folder))
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads_module, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads_module, "RECOUNT_SECONDS", 0.0)
    started = []

    def start() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert process.stdout.readline().strip() == "ready"
        started.append(process)
        return process

    before = torch.get_num_threads()
    yield folder, start
    for process in started:
        process.kill()
        process.wait()
    torch.set_num_threads(before)


def test_workers_are_counted_while_alive_and_forgotten_after_kill_9(workers):
    folder, start = workers
    first, second = start(), start()
    assert count_workers(folder) == 2
    with thread_share():
        assert count_workers(folder) == 3  # this process too, while it computes
    assert count_workers(folder) == 2
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert count_workers(folder) == 1
    assert len(list(folder.glob("*.lock"))) == 1  # the dead worker's file is gone
    second.kill()
    second.wait()
    assert count_workers(folder) == 1 and not list(folder.glob("*.lock"))


def test_the_cores_are_divided_among_the_workers_and_rebalanced_when_one_starts_or_ends(workers):
    folder, start = workers
    with thread_share() as share:
        assert torch.get_num_threads() == 4  # alone: every usable core
        other = start()
        assert share.poll() == 2
        third = start()
        assert share.poll() == 1  # 4 // 3
        other.kill()
        other.wait()
        third.kill()
        third.wait()
        assert share.poll() == 4
    assert share.describe() == {"setting": "auto", "used": [4, 2, 1]}


def test_omp_num_threads_and_an_explicit_setting_win_over_the_share(workers, monkeypatch):
    folder, start = workers
    start()
    with thread_share(3) as share:
        assert share.poll() == 3
    assert share.describe() == {"setting": 3, "used": [3]}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with thread_share() as share:
        assert share.poll() == 1
    assert share.describe()["setting"] == "OMP_NUM_THREADS"


def test_the_previous_thread_count_comes_back_after_computing(workers):
    torch.set_num_threads(1)
    with thread_share():
        assert torch.get_num_threads() == 4
    assert torch.get_num_threads() == 1


@pytest.mark.data
def test_results_record_the_threads_and_training_takes_its_share(workers, make_experiment, tmp_path):
    folder, start = workers
    start()
    exp = make_experiment(train={"steps": 2, "eval_every": 2})
    results = train_experiment(exp, tmp_path / "run")
    assert results["threads"] == {"setting": "auto", "used": [2]}
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["threads"] == results["threads"]


def test_threads_must_be_positive():
    from auxlearn.errors import AuxlearnError

    with pytest.raises(AuxlearnError, match="train.threads"):
        experiment_from_dict(experiment_dict("m", train={"threads": 0}))
    assert ThreadShare(2).threads_now() == 2
