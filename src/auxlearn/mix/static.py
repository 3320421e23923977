"""Zero-trial mixers: the ratios follow from a rule (uniform, proportional, temperature) or are given (fixed)."""

from __future__ import annotations

from typing import Mapping, Optional

from auxlearn.mix.base import Mixer, Mixture
from auxlearn.errors import AuxlearnError
from auxlearn.train.samplers import build_sampler
from auxlearn.train.samplers.static import check_ratios


class _RuleMixer(Mixer):
    """Mix with the sampler of the same name; the ratios reported are its probabilities at step 0."""

    def __init__(self, **sampler_options):
        self.options = sampler_options

    def mix(self, stage, tasks):
        sampler_config = {"name": self.name, **self.options}
        sampler = build_sampler(self.name, self.options, tasks,
                                {t: len(stage.prepared.data[t].train) for t in tasks},
                                total_steps=stage.exp.train.steps, seed=stage.exp.seed)
        return Mixture(self.name, sampler_config, sampler.probabilities(0))


class UniformMixer(_RuleMixer):
    name = "uniform"

    def __init__(self):
        super().__init__()


class ProportionalMixer(_RuleMixer):
    name = "proportional"

    def __init__(self):
        super().__init__()


class TemperatureMixer(_RuleMixer):
    name = "temperature"

    def __init__(self, temperature: float = 2.0, cap: Optional[int] = None):
        super().__init__(temperature=temperature, cap=cap)


class FixedMixer(_RuleMixer):
    """Given ratios: integers train in AutoSeM's round-robin order, others are sampled."""

    name = "fixed"

    def __init__(self, ratios: Mapping[str, float]):
        super().__init__(ratios=dict(ratios))

    def mix(self, stage, tasks):
        try:
            ratios = check_ratios(self.options["ratios"], tasks)
        except ValueError as error:
            raise AuxlearnError(f"mix.ratios: {error}") from None
        name = "round_robin" if all(float(r).is_integer() for r in ratios.values()) else "fixed"
        # A ratio of 0 drops the task (Mixture.tasks), so the sampler must not name it either.
        active = {t: (int(r) if name == "round_robin" else r) for t, r in ratios.items() if r > 0}
        return Mixture(self.name, {"name": name, "ratios": active}, {t: float(r) for t, r in ratios.items()})
