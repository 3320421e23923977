"""AutoSeM stage 2: search integer mixing ratios; each trial trains a fresh model under the round-robin schedule.

``gp-bo`` is Gaussian-process Bayesian optimisation (Optuna's GPSampler), as the paper describes;
``random`` is the PyTorch reproduction's random search, kept for parity. The study lives in an Optuna
storage (SQLite in the run folder by default), so an interrupted search resumes without repeating
finished trials; ``storage`` takes a PostgreSQL / MySQL URL to share a study between machines, or
``journal:///path/file.log`` for several processes on one machine (never share one SQLite file between
processes).
"""

from __future__ import annotations

import time
from typing import Optional

from auxlearn.errors import AuxlearnError
from auxlearn.mix.base import Mixer, Mixture
from auxlearn.mix.search import search_ratios


class _SearchMixer(Mixer):
    def __init__(self, n_trials: int = 15, n_startup_trials: int = 5, max_ratio: int = 10,
                 steps: Optional[int] = None, storage: Optional[str] = None, study_name: Optional[str] = None):
        self.n_trials, self.n_startup_trials, self.max_ratio = n_trials, n_startup_trials, max_ratio
        self.steps, self.storage, self.study_name = steps, storage, study_name

    def mix(self, stage, tasks):
        if len(tasks) < 2:
            raise AuxlearnError(f"mix ({self.name}): no auxiliary task was selected, nothing to mix")
        started = time.perf_counter()
        steps = self.steps or stage.exp.train.steps
        stage.folder.mkdir(parents=True, exist_ok=True)
        storage = self.storage or f"sqlite:///{(stage.folder / 'study.db').resolve()}"
        def objective(ratios: dict[str, int]) -> float:
            active = {t: r for t, r in ratios.items() if r > 0}
            name = "trial_" + "-".join(str(ratios[t]) for t in tasks)
            results = stage.train(name, auxiliary=[t for t in active if t != stage.primary],
                                  sampler={"name": "round_robin", "ratios": active}, steps=steps, eval_tasks=[])
            return stage.signed(results["dev_best"][stage.primary]["main"])

        try:
            result = search_ratios(objective, tasks, method=self.name, n_trials=self.n_trials,
                                   n_startup_trials=self.n_startup_trials, max_ratio=self.max_ratio,
                                   seed=stage.exp.seed, storage=storage,
                                   study_name=self.study_name or f"{stage.exp.name}-{self.name}")
        except ValueError as error:
            raise AuxlearnError(f"mix ({self.name}): {error}") from None
        ratios = {t: int(result.best_ratios[t]) for t in tasks}
        return Mixture(self.name, {"name": "round_robin", "ratios": {t: r for t, r in ratios.items() if r > 0}},
                       {t: float(r) for t, r in ratios.items()},
                       details={"best_dev": stage.signed(result.best_score), "trials": result.trials,
                                "steps": steps, "storage": storage, "max_ratio": self.max_ratio},
                       seconds=time.perf_counter() - started)


class GPBayesianMixer(_SearchMixer):
    name = "gp-bo"


class RandomSearchMixer(_SearchMixer):
    name = "random"
