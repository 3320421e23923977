"""AutoSeM stage 2 as mixers: search integer mixing ratios; each trial trains a fresh model under the round-robin
schedule (the search itself, an Optuna study, is ratio_trials.py).

``gp-bo`` is Gaussian-process Bayesian optimisation (Optuna's GPSampler), as the paper describes;
``random`` is the PyTorch reproduction's random search, kept for parity. The study lives in an Optuna
storage (SQLite in the run folder by default), so an interrupted search resumes without repeating
finished trials; ``storage`` takes a PostgreSQL / MySQL URL to share a study between machines, or
``journal:///path/file.log`` for several processes on one machine (never share one SQLite file between
processes).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Optional

from pydantic import Field, StrictInt, field_validator

from auxlearn.errors import AuxlearnError
from auxlearn.mixer_base import Mixer, Mixture
from auxlearn.mix.ratio_search_report import RatioSearchReport
from auxlearn.mix.ratio_trials import search_ratios
from auxlearn.mix.trial_storage import check_sqlite_file, storage_problem
from auxlearn.plugins import MethodOptions, invalid
from auxlearn.stage_cost import StageCost


class RatioSearchOptions(MethodOptions):
    n_trials: StrictInt = Field(15, ge=1, description="scored trials over the study's whole life (a resumed "
                                                      "study runs only the missing ones)")
    n_startup_trials: StrictInt = Field(5, ge=1, description="gp-bo: trials proposed at random before the GP")
    max_ratio: StrictInt = Field(10, ge=1, description="the largest integer ratio of a task")
    steps: Optional[StrictInt] = Field(None, ge=1, description="each trial's primary-alone recipe, from which the "
                                                               "budget counts; null: train.steps")
    storage: Optional[str] = Field(None, description="an Optuna storage URL (postgresql://, mysql://, "
                                                     "journal:///file.log); null: SQLite in the run folder")
    study_name: Optional[str] = Field(None, description="the study's name in its storage; null: <name>-<method>")

    @field_validator("storage")
    @classmethod
    def _storage_url(cls, value: Optional[str]) -> Optional[str]:
        problem = value and storage_problem(value)
        if problem:
            raise invalid(problem)
        return value


class _SearchMixer(Mixer):
    Options = RatioSearchOptions
    report = RatioSearchReport()

    def _mix(self, stage, tasks):
        if len(tasks) < 2:
            raise AuxlearnError(f"mix ({self.name}): no auxiliary task was selected, nothing to mix")
        started = time.perf_counter()
        options = self.options
        if not options.storage:
            check_sqlite_file(stage.folder / "study.db")
        stage.folder.mkdir(parents=True, exist_ok=True)
        storage = options.storage or f"sqlite:///{(stage.folder / 'study.db').resolve()}"

        def objective(ratios: dict[str, int]) -> float:
            results = stage.train(**self._trial(stage, tasks, ratios, "round_robin"))
            return stage.signed(results["dev_best"][stage.primary]["main"])

        try:
            result = search_ratios(objective, tasks, method=self.name, n_trials=options.n_trials,
                                   n_startup_trials=options.n_startup_trials, max_ratio=options.max_ratio,
                                   seed=stage.exp.seed, storage=storage,
                                   study_name=options.study_name or f"{stage.exp.name}-{self.name}")
        except ValueError as error:
            raise AuxlearnError(f"mix ({self.name}): {error}") from None
        ratios = {t: int(result.best_ratios[t]) for t in tasks}
        return Mixture(self.name, {"name": "round_robin", "ratios": {t: r for t, r in ratios.items() if r > 0}},
                       {t: float(r) for t, r in ratios.items()},
                       details={"best_dev": stage.signed(result.best_score), "trials": result.trials,
                                "steps": self._steps(stage), "storage": storage, "max_ratio": options.max_ratio},
                       seconds=time.perf_counter() - started)

    def _steps(self, stage) -> int:
        """Each trial's primary-alone recipe, from which its budget counts."""
        return self.options.steps or stage.exp.train.steps

    def _trial(self, stage, tasks: list[str], ratios: dict[str, float], sampler: str) -> dict[str, Any]:
        """The arguments of one trial's ``train`` (``Stage.train``, or ``PlanContext.arm`` to plan it)."""
        active = {t: r for t, r in ratios.items() if r > 0}
        return {"name": "trial_" + "-".join(f"{ratios[t]:g}" for t in tasks),
                "auxiliary": [t for t in active if t != stage.primary], "sampler": {"name": sampler, "ratios": active},
                "steps": self._steps(stage), "eval_tasks": []}

    def _mean_ratios(self, tasks: list[str]) -> dict[str, float]:
        """The search box's mean: the primary's ratio is at least 1, and so is the auxiliary's when it is alone."""
        top = self.options.max_ratio
        return {t: (1 + top) / 2 if i == 0 or len(tasks) == 2 else top / 2 for i, t in enumerate(tasks)}

    def cost(self, context, tasks):
        """``n_trials`` trials (a resumed study runs only the missing ones), each planned at the box's mean ratios:
        the search chooses the real ones."""
        trial = context.arm(**self._trial(context, tasks, self._mean_ratios(tasks), "fixed"))
        return StageCost([replace(trial, label="trial") for _ in range(self.options.n_trials)],
                         "trials planned at the search box's mean ratios")

    def planned_mixture(self, context, tasks):
        """A stand-in for the ratios the search will find: the box's mean."""
        ratios = self._mean_ratios(tasks)
        return Mixture(self.name, {"name": "fixed", "ratios": ratios}, ratios,
                       details={"planned": "ratios: the search box's mean, a stand-in for those it finds"})


class GPBayesianMixer(_SearchMixer):
    name = "gp-bo"


class RandomSearchMixer(_SearchMixer):
    name = "random"
