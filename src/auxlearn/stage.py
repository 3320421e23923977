"""What a pipeline stage (a selector, a mixer) gets: the experiment, the prepared data, its folder, and one
way to train a variant of the experiment. Methods that only need scores train through ``Stage.train``; a method
that needs the trained model itself (GradTS importance) builds it with ``build_model`` and ``build_trainer``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from auxlearn.config_schema import Experiment
from auxlearn.experiment import (Prepared, data_fingerprint, finished_results, tracked_arm, train_experiment,
                                 train_phase, training_identity, with_shots)
from auxlearn.stage_cost import StageView
from auxlearn.train.samplers import TaskSampler
from auxlearn.train_length import resolved_length


@dataclass
class Stage(StageView):
    exp: Experiment
    prepared: Prepared
    folder: Path

    def __post_init__(self) -> None:
        self.exp = resolved_length(self.exp, self.prepared)  # a method reads train.steps: numbers, never auto

    def train(self, name: str, *, auxiliary: list[str], sampler: Optional[dict[str, Any]] = None,
              steps: Optional[int] = None, seed: Optional[int] = None, **train: Any) -> dict[str, Any]:
        """A trial that stands for the final model: the primary + ``auxiliary`` trained into ``folder/name`` under
        the experiment's protocol and budget (``steps``: the primary-alone recipe's length); no model is saved."""
        if steps is not None:
            train["steps"] = steps
        variant = self.exp.variant(auxiliary=auxiliary, sampler=sampler, seed=seed, **train)
        return train_experiment(variant, self.folder / name, self.prepared, save_model=False, score_eval=False)

    def train_with(self, name: str, sampler: TaskSampler, *, steps: int, **train: Any) -> dict[str, Any]:
        """One joint run of the primary and every candidate for exactly ``steps`` steps, driven by ``sampler``
        (the AutoSeM bandit): a search that is not an arm, so no protocol or budget applies. A re-run into the
        folder resumes it, or reads it back finished with the sampler's learned state."""
        variant = self.exp.variant(auxiliary=self.candidates, steps=steps, **train)
        folder = self.folder / name
        prepared = with_shots(variant, self.prepared)
        identity = training_identity(variant, data_fingerprint(variant, prepared, with_eval=False), 0,
                                     sampler.describe())
        done = finished_results(folder, identity)
        if done is not None and "sampler_state" in done:
            sampler.load_state_dict(done["sampler_state"])
            return done
        with tracked_arm(variant, folder) as run:
            return train_phase(variant, folder, prepared, sampler=sampler, save_model=False, score_eval=False,
                               identity=identity, phase="search", tracked=run).results
