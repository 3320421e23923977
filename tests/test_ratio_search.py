"""AutoSeM stage 2: the mixing-ratio search (GP-BO and random) on cheap synthetic objectives."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import optuna
import pytest

from auxlearn.mix import ratio_trials, trial_storage
from auxlearn.mix.ratio_trials import search_ratios

TASKS = ["rte", "mnli", "qqp"]
TARGET = np.array([0.5, 0.3, 0.2])  # best mixture: ratios proportional to (5, 3, 2)


def mixture_score(ratios):
    """Smooth in the normalised ratio vector, maximal (0) at TARGET."""
    share = np.array([ratios[t] for t in TASKS], dtype=float)
    return -float(np.linalg.norm(share / share.sum() - TARGET))


class Recorder:
    """An objective that remembers its calls and can raise on a given call, like an interrupted run."""

    def __init__(self, score=mixture_score, fail_on=None):
        self.calls, self.score, self.fail_on = [], score, fail_on

    def __call__(self, ratios):
        self.calls.append(dict(ratios))
        if len(self.calls) == self.fail_on:
            raise KeyboardInterrupt
        return self.score(ratios)


def feasible(ratios, max_ratio):
    values = [ratios[t] for t in TASKS]
    return (all(isinstance(v, int) and 0 <= v <= max_ratio for v in values) and values[0] >= 1
            and any(values[1:]))


def test_gp_bo_beats_random_search_within_15_trials():
    best = {method: [search_ratios(mixture_score, TASKS, method=method, n_trials=15, n_startup_trials=5,
                                   seed=seed).best_score for seed in range(5)]
            for method in ("gp-bo", "random")}
    assert np.mean(best["gp-bo"]) > np.mean(best["random"]) + 0.02
    assert np.mean(best["gp-bo"]) > -0.04  # close to the optimum 0, not only better than random


@pytest.mark.parametrize("method", ["gp-bo", "random"])
def test_every_evaluated_ratio_vector_is_feasible(method):
    # max_ratio = 2 makes "no active auxiliary" (p, 0, 0) a sizeable part of the box: 2 of 18 points
    objective = Recorder()
    result = search_ratios(objective, TASKS, method=method, n_trials=15, n_startup_trials=4, max_ratio=2, seed=1)
    assert len(objective.calls) == 15
    assert all(feasible(ratios, 2) for ratios in objective.calls)
    scored = [t for t in result.trials if t["score"] is not None]
    assert [t["ratios"] for t in scored] == objective.calls
    infeasible = [t for t in result.trials if t["state"] == "INFEASIBLE"]
    assert all(not any(list(t["ratios"].values())[1:]) for t in infeasible)
    assert {t["state"] for t in result.trials} <= {"COMPLETE", "INFEASIBLE", "FAIL"}


def test_random_search_proposes_infeasible_points_without_training_them():
    objective = Recorder()
    result = search_ratios(objective, TASKS, method="random", n_trials=30, max_ratio=1, seed=0)
    # with max_ratio = 1 a quarter of the proposals, (1, 0, 0), is infeasible
    assert sum(t["state"] == "INFEASIBLE" for t in result.trials) > 0
    assert len(objective.calls) == 30 and all(feasible(r, 1) for r in objective.calls)


def test_a_single_auxiliary_is_never_switched_off():
    objective = Recorder(score=lambda ratios: 0.0)
    result = search_ratios(objective, TASKS[:2], method="random", n_trials=20, max_ratio=1, seed=0)
    assert all(r["mnli"] == 1 and r["rte"] == 1 for r in objective.calls)
    assert all(t["state"] == "COMPLETE" for t in result.trials)


@pytest.mark.parametrize("method", ["gp-bo", "random"])
def test_the_search_is_reproducible_for_a_seed(method):
    def run(seed):
        result = search_ratios(mixture_score, TASKS, method=method, n_trials=8, n_startup_trials=4, seed=seed)
        return [(t["ratios"], t["score"], t["state"]) for t in result.trials], result.best_ratios

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_best_is_the_first_of_equal_scores():
    result = search_ratios(lambda ratios: 1.0, TASKS, method="random", n_trials=6, max_ratio=1, seed=0)
    first = next(t for t in result.trials if t["score"] is not None)
    assert (result.best_ratios, result.best_score) == (first["ratios"], 1.0)


def test_trials_record_their_seconds():
    result = search_ratios(lambda ratios: time.sleep(0.02) or 0.0, TASKS, method="random", n_trials=2)
    assert all(t["seconds"] >= 0.02 for t in result.trials if t["state"] == "COMPLETE")


def scored_ratios(result):
    return [t["ratios"] for t in result.trials if t["score"] is not None]


@pytest.mark.parametrize("method", ["gp-bo", "random"])
@pytest.mark.parametrize("backend", ["sqlite", "journal"])
def test_an_interrupted_study_resumes_as_the_uninterrupted_one(tmp_path, method, backend):
    storage = f"sqlite:///{tmp_path}/mix.db" if backend == "sqlite" else f"journal://{tmp_path}/mix.log"
    options = dict(method=method, n_trials=8, n_startup_trials=3, seed=0)
    uninterrupted = Recorder()
    reference = search_ratios(uninterrupted, TASKS, **options)
    first = Recorder(fail_on=5)  # interrupted in the fifth trial, the GP's second proposal
    with pytest.raises(KeyboardInterrupt):
        search_ratios(first, TASKS, storage=storage, **options)
    second = Recorder()
    result = search_ratios(second, TASKS, storage=storage, **options)
    # the interrupted trial is rerun first with its own ratios, then the proposals are the uninterrupted ones
    assert first.calls + second.calls[1:] == uninterrupted.calls
    assert second.calls[0] == first.calls[4]
    assert scored_ratios(result) == scored_ratios(reference)
    assert result.trials[4]["state"] == "FAIL" and result.trials[5]["rerun_of"] == 4
    assert result.best_ratios == reference.best_ratios
    # a finished study runs nothing more
    third = Recorder()
    assert search_ratios(third, TASKS, storage=storage, **options).trials == result.trials and third.calls == []


KILLED_RUN = """
import pathlib, sys, time
from auxlearn.mix import ratio_trials, trial_storage
from auxlearn.mix.ratio_trials import search_ratios

calls = 0

def objective(ratios):
    global calls
    calls += 1
    if calls == 3:  # hang in the third trial until killed
        pathlib.Path(sys.argv[2]).touch()
        time.sleep(600)
    return sum(ratios.values())

search_ratios(objective, ["rte", "mnli", "qqp"], method="random", n_trials=6, storage=sys.argv[1])
"""


def test_a_trial_of_a_killed_process_is_rerun_with_its_ratios(tmp_path):
    storage, marker = f"sqlite:///{tmp_path}/mix.db", tmp_path / "busy"
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_RUN), storage, str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None and time.monotonic() < deadline, "the search process did not start"
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    total = lambda ratios: sum(ratios.values())  # noqa: E731 - the killed run's objective
    reference = search_ratios(total, TASKS, method="random", n_trials=6)
    objective = Recorder(score=total)
    result = search_ratios(objective, TASKS, method="random", n_trials=6, storage=storage)
    assert [t["state"] for t in result.trials[:4]] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert result.trials[3]["rerun_of"] == 2 and objective.calls[0] == result.trials[2]["ratios"]
    assert len(objective.calls) == 4 and scored_ratios(result) == scored_ratios(reference)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_whose_heartbeat_stopped_is_rerun_by_another_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(trial_storage, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(trial_storage, "GRACE_SECONDS", 1)
    storage = f"sqlite:///{tmp_path}/mix.db"
    search_ratios(mixture_score, TASKS, method="random", n_trials=1, storage=storage)
    # a worker on another machine proposes ratios, beats once, and is lost
    store = trial_storage.open_storage(storage)
    study = optuna.load_study(study_name="mix", storage=store)
    with pytest.warns(UserWarning, match="Heartbeat"):
        lost = study.ask()
    lost.set_user_attr("worker", ["elsewhere", 1, lost.number])
    ratios = {task: lost.suggest_int(task, low, 10) for task, low in zip(TASKS, (1, 0, 0))}
    store.record_heartbeat(lost._trial_id)
    time.sleep(2.5)
    objective = Recorder()
    result = search_ratios(objective, TASKS, method="random", n_trials=3, storage=storage)
    assert objective.calls[0] == ratios and len(objective.calls) == 2
    assert result.trials[1]["state"] == "FAIL" and result.trials[2]["rerun_of"] == 1
    assert result.trials[2]["ratios"] == ratios and result.trials[2]["state"] == "COMPLETE"


def test_a_full_study_waits_for_the_running_trials_of_other_workers(tmp_path, monkeypatch):
    monkeypatch.setattr(ratio_trials, "POLL_SECONDS", 0.1)
    storage = f"sqlite:///{tmp_path}/mix.db"
    search_ratios(mixture_score, TASKS, method="random", n_trials=1, storage=storage)
    study = optuna.load_study(study_name="mix", storage=storage)
    live = study.ask()  # a live worker of this machine: its trial is neither failed nor rerun
    live.set_user_attr("worker", [socket.gethostname(), os.getpid(), live.number])
    threading.Timer(1.0, study.tell, (live, -0.5)).start()
    objective = Recorder()
    result = search_ratios(objective, TASKS, method="random", n_trials=3, storage=storage)
    assert len(objective.calls) == 1  # the third scored trial is the live worker's
    assert [t["state"] for t in result.trials] == ["COMPLETE"] * 3 and result.trials[1]["score"] == -0.5


def test_a_trial_asked_for_as_another_worker_took_the_last_one_is_surplus(tmp_path, monkeypatch):
    monkeypatch.setattr(ratio_trials, "POLL_SECONDS", 0.1)
    ask = optuna.Study.ask

    def racing_ask(study):
        """Another worker of this machine asks for the last trial between our check and our ask."""
        monkeypatch.setattr(optuna.Study, "ask", ask)
        other = ask(study)
        other.set_user_attr("worker", [socket.gethostname(), os.getpid(), other.number])
        threading.Timer(0.5, study.tell, (other, 1.0)).start()
        return ask(study)

    monkeypatch.setattr(optuna.Study, "ask", racing_ask)
    objective = Recorder()
    result = search_ratios(objective, TASKS, method="random", n_trials=1, storage=f"sqlite:///{tmp_path}/mix.db")
    assert objective.calls == []  # the surplus trial proposed and trained nothing
    assert [t["state"] for t in result.trials] == ["COMPLETE", "SURPLUS"] and result.best_score == 1.0


def test_a_stored_study_of_another_search_space_is_refused(tmp_path):
    storage = f"sqlite:///{tmp_path}/mix.db"
    search_ratios(mixture_score, TASKS, method="random", n_trials=1, storage=storage)
    with pytest.raises(ValueError, match="use another study_name"):
        search_ratios(mixture_score, TASKS[:2], method="random", n_trials=1, storage=storage)
    with pytest.raises(ValueError, match="use another study_name"):
        search_ratios(mixture_score, TASKS, method="random", n_trials=1, max_ratio=5, storage=storage)


def test_optuna_stays_quiet_and_its_verbosity_is_restored(capfd):
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        search_ratios(mixture_score, TASKS, method="random", n_trials=3)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    assert "Trial" not in capfd.readouterr().err


@pytest.mark.parametrize("tasks, options, message", [
    (TASKS, {"method": "tpe"}, "method must be one of 'gp-bo', 'random'"),
    (["rte"], {}, "at least one auxiliary"),
    (["rte", "mnli", "rte"], {}, "distinct"),
    (TASKS, {"n_trials": 0}, "n_trials"),
    (TASKS, {"max_ratio": 0}, "max_ratio"),
])
def test_invalid_arguments_are_named(tasks, options, message):
    with pytest.raises(ValueError, match=message):
        search_ratios(mixture_score, tasks, **options)


def test_a_non_finite_score_fails_its_trial_and_stops(tmp_path):
    storage = f"sqlite:///{tmp_path}/mix.db"
    with pytest.raises(ValueError, match="must be finite"):
        search_ratios(lambda ratios: float("nan"), TASKS, method="random", n_trials=2, storage=storage)
    trials = optuna.load_study(study_name="mix", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL]


def test_a_journal_file_that_is_not_an_optuna_journal_is_named(tmp_path):
    notes = tmp_path / "notes.log"
    notes.write_text("these are my notes\n", encoding="utf-8")
    problem = trial_storage.storage_problem(f"journal://{notes}")
    assert problem.startswith(f"journal file {notes} is not an Optuna journal")
    other = tmp_path / "other.log"
    other.write_text('{"some": "json"}\n', encoding="utf-8")
    assert "has no op_code" in trial_storage.storage_problem(f"journal://{other}")
    journal = tmp_path / "study.log"
    ratio_trials.search_ratios(lambda ratios: 0.5, ["rte", "mrpc"], method="random", n_trials=1,
                               n_startup_trials=1, max_ratio=2, storage=f"journal://{journal}")
    assert journal.stat().st_size and trial_storage.storage_problem(f"journal://{journal}") is None
    assert trial_storage.storage_problem(f"journal://{tmp_path / 'new.log'}") is None  # a new file is a new journal
