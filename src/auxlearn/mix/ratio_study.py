"""The ratio search of AutoSeM stage 2: an Optuna study over integer mixing ratios, by Gaussian-process Bayesian
optimisation (or at random).

Each trial proposes one ratio per task (primary first) and calls ``objective`` - in the pipeline, training a fresh
model with those ratios and returning the primary's best dev score. The search runs on an Optuna study, so a
study in a persistent storage survives an interruption: rerunning ``search_ratios`` with the same storage and
study name keeps every scored trial and only runs the ones still missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import optuna
import torch
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

METHODS = ("gp-bo", "random")
HOST = socket.gethostname()


@dataclass(frozen=True)
class RatioSearchResult:
    """The best ratios (first best on ties), their score, and every trial of the study, in order.

    Each trial is ``{number, ratios, score, state, seconds}``; ``state`` is Optuna's (COMPLETE, FAIL, RUNNING)
    or INFEASIBLE for a proposal without an active auxiliary, which was never trained; ``score`` and
    ``seconds`` are None unless the trial was trained to the end.
    """

    best_ratios: dict[str, int]
    best_score: float
    trials: list[dict[str, Any]]
    method: str


def search_ratios(objective: Callable[[dict[str, int]], float], tasks: list[str], *, method: str = "gp-bo",
                  n_trials: int = 15, n_startup_trials: int = 5, max_ratio: int = 10, seed: int = 0,
                  storage: str | None = None, study_name: str = "mix") -> RatioSearchResult:
    """Maximise ``objective(ratios)`` over integer ratios in [0, max_ratio], primary >= 1, some auxiliary >= 1.

    ``method``: "gp-bo" (Optuna's GPSampler: Matern-5/2 GP, log-EI, the first ``n_startup_trials`` at random)
    or "random" (the AutoSeM reproduction's random search). ``storage``: None keeps the study in memory; an
    RDB URL (``sqlite:///run/mix.db``; an SQLite file must not be shared by several processes) or
    ``journal://`` + a file path (Optuna's journal file, safe for several processes on one machine) persists
    it. ``n_trials`` counts scored trials over the study's whole life: a resumed search runs only the
    missing ones (workers sharing a study may each add one past it). A trial whose process died on this
    machine is marked FAIL and a new one takes its place; an exception in ``objective`` marks its trial FAIL
    and propagates. Proposals are reproducible for a fixed seed (and, on resume, a fixed stored history).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}")
    if len(tasks) < 2 or len(set(tasks)) != len(tasks):
        raise ValueError(f"tasks must be the primary then at least one auxiliary, all distinct; got {tasks}")
    for option, value in (("n_trials", n_trials), ("n_startup_trials", n_startup_trials), ("max_ratio", max_ratio)):
        if value < 1:
            raise ValueError(f"{option} must be >= 1, got {value}")
    # The primary's bound encodes primary >= 1 exactly. With one auxiliary, so does its bound; with several,
    # "some auxiliary >= 1" excludes the line (p, 0, ..., 0), which no box can, and such proposals are told to
    # the study without training (see _tell_infeasible).
    lows = [1, 1 if len(tasks) == 2 else 0, *[0] * (len(tasks) - 2)]
    with _quiet_optuna():
        study = optuna.create_study(storage=_storage(storage), study_name=study_name, direction="maximize",
                                    load_if_exists=True)
        _check_or_record_space(study, tasks, max_ratio, method)
        _fail_orphans(study)
        # The sampler is set once the study is loaded because its seed includes the number of trials already
        # stored: a resumed search does not replay the first run's random proposals, and it stays reproducible.
        sampler_seed = int(np.random.SeedSequence([seed, len(study.trials)]).generate_state(1)[0])
        study.sampler = (optuna.samplers.GPSampler(seed=sampler_seed, n_startup_trials=n_startup_trials)
                         if method == "gp-bo" else optuna.samplers.RandomSampler(seed=sampler_seed))
        while sum(map(_scored, study.get_trials(deepcopy=False))) < n_trials:
            _run_trial(study, objective, tasks, lows, max_ratio)
    trials = [_record(t, tasks) for t in study.trials]
    best = max((t for t in trials if t["score"] is not None), key=lambda t: (t["score"], -t["number"]))
    return RatioSearchResult(best["ratios"], best["score"], trials, method)


def _run_trial(study: optuna.Study, objective: Callable[[dict[str, int]], float], tasks: list[str],
               lows: list[int], max_ratio: int) -> None:
    # ask() creates the trial and the sampler only runs at the first suggest, so the owner is on record before
    # the (possibly slow) GP proposal: a process killed at any point leaves a trial _fail_orphans recognises.
    trial = study.ask()
    trial.set_user_attr("host", HOST)
    trial.set_user_attr("pid", os.getpid())
    try:
        with _one_torch_thread():
            ratios = {task: trial.suggest_int(task, low, max_ratio) for task, low in zip(tasks, lows)}
        if not any(ratios[task] for task in tasks[1:]):
            _tell_infeasible(study, trial)
            return
        start = time.perf_counter()
        score = float(objective(ratios))
        if not np.isfinite(score):
            raise ValueError(f"the ratio objective returned {score} for ratios {ratios}; it must be finite")
        trial.set_user_attr("seconds", time.perf_counter() - start)
    except BaseException:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    study.tell(trial, score)


def _tell_infeasible(study: optuna.Study, trial: optuna.Trial) -> None:
    """Record a proposal without an active auxiliary at no training cost.

    Failing it would hide it from the GP, which would then propose the same point again. Optuna's black-box
    constraints (``Trial.set_constraint``) still need an objective value and fit an extra GP to a constraint
    that is known exactly. So it completes with the worst score seen so far: the GP learns the point is
    unpromising and moves on, and it never counts toward ``n_trials`` nor wins. Before any score exists the
    proposal comes from the random startup sampler, which ignores history, so failing it is plain rejection
    sampling.
    """
    trial.set_user_attr("infeasible", True)
    scores = [t.value for t in study.get_trials(deepcopy=False) if _scored(t)]
    if scores:
        study.tell(trial, min(scores))
    else:
        study.tell(trial, state=TrialState.FAIL)


def _scored(trial: FrozenTrial) -> bool:
    return trial.state == TrialState.COMPLETE and not trial.user_attrs.get("infeasible", False)


def _fail_orphans(study: optuna.Study) -> None:
    """Mark FAIL the running trials of processes on this machine that no longer exist (killed mid-trial).

    Live workers sharing the study keep their trials; trials of other machines are left to their owners.
    """
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") == HOST and pid is not None and not _alive(pid):
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def _check_or_record_space(study: optuna.Study, tasks: list[str], max_ratio: int, method: str) -> None:
    """A resumed study must search the same space with the same method, or its trials would mean something else."""
    space = {"tasks": list(tasks), "max_ratio": max_ratio, "method": method}
    recorded = {key: study.user_attrs[key] for key in space if key in study.user_attrs}
    if not recorded:
        for key, value in space.items():
            study.set_user_attr(key, value)
    elif recorded != space:
        raise ValueError(f"study {study.study_name!r} in this storage was created with {recorded}, not {space}; "
                         "use another study_name or storage")


def _storage(url: str | None) -> str | JournalStorage | None:
    if url is not None and url.startswith("journal://"):
        return JournalStorage(JournalFileBackend(url.removeprefix("journal://")))
    return url


def _record(trial: FrozenTrial, tasks: list[str]) -> dict[str, Any]:
    scored = _scored(trial)
    return {
        "number": trial.number,
        "ratios": {task: trial.params[task] for task in tasks if task in trial.params},
        "score": trial.value if scored else None,
        "state": "INFEASIBLE" if trial.user_attrs.get("infeasible") else trial.state.name,
        "seconds": trial.user_attrs.get("seconds") if scored else None,
    }


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run the GP proposal on one thread, then give the objective its threads back.

    The GP works on tiny tensors, where OpenMP threads only contend: Optuna limits threads while fitting the GP
    but not in its search over integer parameters, which ran about 10x slower on 2 cores without this.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO; the pipeline reports trials itself, so only warnings get through."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)
