"""Zero-trial mixers: the ratios follow from a rule (uniform, proportional, temperature) or are given (fixed).

Each is the sampler of the same name, so it takes that sampler's options.
"""

from __future__ import annotations

from auxlearn.errors import AuxlearnError
from auxlearn.mixer_base import Mixer, Mixture
from auxlearn.train.samplers import build_sampler
from auxlearn.train.samplers.fixed_rule import FixedSampler, TemperatureSampler, check_ratios


class _RuleMixer(Mixer):
    """Mix with the sampler of the same name; the ratios reported are its probabilities at step 0."""

    def _mix(self, stage, tasks):
        options = self.options.model_dump()
        sampler = build_sampler(self.name, options, tasks, {t: len(stage.prepared.data[t].train) for t in tasks},
                                total_steps=stage.exp.train.steps, seed=stage.exp.seed)
        return Mixture(self.name, {"name": self.name, **options}, sampler.probabilities(0))


class UniformMixer(_RuleMixer):
    name = "uniform"


class ProportionalMixer(_RuleMixer):
    name = "proportional"


class TemperatureMixer(_RuleMixer):
    name = "temperature"
    Options = TemperatureSampler.Options


class FixedMixer(Mixer):
    """Given ratios: integers train in AutoSeM's round-robin order, others are sampled."""

    name = "fixed"
    Options = FixedSampler.Options

    def planned_mixture(self, context, tasks):
        """The tasks its ratios name, whatever the selection keeps (another selection fails at mixing)."""
        return super().planned_mixture(context, [tasks[0], *(t for t in self.options.ratios if t != tasks[0])])

    def _mix(self, stage, tasks):
        try:
            ratios = check_ratios(self.options.ratios, tasks)
        except ValueError as error:
            raise AuxlearnError(f"mix.ratios: {error}") from None
        name = "round_robin" if all(float(r).is_integer() for r in ratios.values()) else "fixed"
        # A ratio of 0 drops the task (Mixture.tasks), so the sampler must not name it either.
        active = {t: (int(r) if name == "round_robin" else r) for t, r in ratios.items() if r > 0}
        return Mixture(self.name, {"name": name, "ratios": active}, {t: float(r) for t, r in ratios.items()})
