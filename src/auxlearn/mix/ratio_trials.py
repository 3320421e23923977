"""The ratio search of AutoSeM stage 2: an Optuna study over integer mixing ratios, by Gaussian-process Bayesian
optimisation (or at random).

Each trial proposes one ratio per task (primary first) and calls ``objective`` - in the pipeline, training a fresh
model with those ratios and returning the primary's best dev score. The search runs on an Optuna study, so a
study in a persistent storage survives an interruption: rerunning ``search_ratios`` with the same storage and
study name keeps every scored trial, reruns the interrupted one with its own ratios, then proposes what the
uninterrupted search would have. Several workers (processes, machines) can share one study.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import optuna
import torch
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from auxlearn.mix.trial_storage import claim, failed_or_requeued, heartbeat, opened_storage, quiet_optuna, retry_interrupted

METHODS = ("gp-bo", "random")
POLL_SECONDS = 2  # how often a worker whose study is full checks the other workers' running trials


@dataclass(frozen=True)
class RatioSearchResult:
    """The best ratios (first best on ties), their score, and every trial of the study, in order.

    Each trial is ``{number, ratios, score, state, seconds, rerun_of}``; ``state`` is Optuna's (COMPLETE, FAIL,
    RUNNING, WAITING), INFEASIBLE for a proposal without an active auxiliary, which was never trained, or SURPLUS
    for a trial a worker asked for once the study was full, which proposed nothing; ``score`` and ``seconds``
    are None unless the trial was trained to the end; ``rerun_of``: the interrupted trial it reran, or None.
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
    it. ``n_trials`` counts scored trials over the study's whole life, whichever worker scored them: a resumed
    search runs only the missing ones, and a worker whose study is full waits for the other workers' running
    trials. A trial whose worker died (trial_storage.py) or was interrupted (KeyboardInterrupt) is marked FAIL
    and rerun with its ratios before anything new; an exception in ``objective`` marks its trial FAIL and
    propagates. For a fixed seed, one worker's proposals are reproducible, interrupted or not.
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
    propose = functools.partial(_sampler, method, seed, n_startup_trials)
    with quiet_optuna(), opened_storage(storage) as store:
        study = optuna.create_study(storage=store, study_name=study_name, direction="maximize", load_if_exists=True)
        _check_or_record_space(study, tasks, max_ratio, method)
        while True:
            retry_interrupted(study, store)
            trials = study.get_trials(deepcopy=False)
            scored, states = sum(map(_scored, trials)), Counter(t.state for t in trials)
            if scored >= n_trials:
                break
            if states[TrialState.WAITING] or scored + states[TrialState.RUNNING] < n_trials:
                _run_trial(study, store, objective, tasks, lows, max_ratio, n_trials, propose)
            else:  # the other workers' trials fill the study: wait for their scores, or for their heartbeats to stop
                time.sleep(POLL_SECONDS)
        trials = [_record(t, tasks) for t in study.trials]
    best = max((t for t in trials if t["score"] is not None), key=lambda t: (t["score"], -t["number"]))
    return RatioSearchResult(best["ratios"], best["score"], trials, method)


def _run_trial(study: optuna.Study, store: BaseStorage, objective: Callable[[dict[str, int]], float],
               tasks: list[str], lows: list[int], max_ratio: int, n_trials: int,
               propose: Callable[[int], optuna.samplers.BaseSampler]) -> None:
    # ask() pops a queued rerun first, else creates a trial; the sampler only runs at the first suggest, so the
    # worker is on record (and beating) before the (possibly slow) GP proposal.
    trial = study.ask()
    with heartbeat(store, trial):
        claim(trial)
        trials = study.get_trials(deepcopy=False)
        original = trials[trial.number].system_attrs.get("failed_trial")  # set on a rerun by Optuna's callback
        if original is None and _surplus(trials, trial.number, n_trials):
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            return
        study.sampler = propose(_proposal_index(trials, trial.number if original is None else original))
        with failed_or_requeued(study, store, trial):  # an interrupted trial is rerun with its ratios
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
        # Finished already if another worker took this trial for dead (a lost heartbeat) and queued its rerun:
        # the rerun's score is the one kept, so no ratios are scored twice.
        study.tell(trial, score, skip_if_finished=True)


def _proposal_index(trials: list[FrozenTrial], number: int) -> int:
    """How many proposals precede trial ``number``: the trials before it that are not reruns.

    The sampler of each proposal is seeded with (seed, this index) and sees the stored history, so it holds no
    state a killed process could lose: a resumed study proposes what the uninterrupted one would have. A rerun
    takes its original's parameters, or, when its original died before proposing any, its original's index.
    Reruns are created after the trials they follow, so the index of a trial never changes once it exists.
    """
    return number - sum("failed_trial" in t.system_attrs for t in trials[:number])


def _surplus(trials: list[FrozenTrial], number: int, n_trials: int) -> bool:
    """Whether the trials before this one already fill the study: two workers that checked at the same moment
    may both have asked for the last trial, and the later one must not run it."""
    taken = sum(_scored(t) or t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials[:number])
    return taken >= n_trials


def _sampler(method: str, seed: int, n_startup_trials: int, index: int) -> optuna.samplers.BaseSampler:
    sampler_seed = int(np.random.SeedSequence([seed, index]).generate_state(1)[0])
    if method == "gp-bo":
        return optuna.samplers.GPSampler(seed=sampler_seed, n_startup_trials=n_startup_trials)
    return optuna.samplers.RandomSampler(seed=sampler_seed)


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


def _record(trial: FrozenTrial, tasks: list[str]) -> dict[str, Any]:
    scored = _scored(trial)
    return {
        "number": trial.number,
        "ratios": {task: trial.params[task] for task in tasks if task in trial.params},
        "score": trial.value if scored else None,
        "state": next((flag.upper() for flag in ("infeasible", "surplus") if trial.user_attrs.get(flag)),
                      trial.state.name),
        "seconds": trial.user_attrs.get("seconds") if scored else None,
        "rerun_of": trial.system_attrs.get("failed_trial"),
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
