"""The config's method sections: a method named by the config, plus its own options, validated against the
method's ``Options`` in its family's registry."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Optional

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator

from auxlearn.adapters import ADAPTERS
from auxlearn.plugins import Plugin, options_of
from auxlearn.train.samplers import SAMPLERS
from auxlearn.train.weightings import WEIGHTINGS


class MethodConfig(BaseModel):
    """A method (``method``; a sampler's ``name``) plus its own options, validated against the method's ``Options``
    in its family's ``registry``, each error at its key (``select.top_k: ...``).

    The selectors and mixers train experiments, so their registries stand above this schema: the loader
    (``auxlearn.config``) gives them as the validation context, keyed by ``section``. Without it (a variant of a
    loaded experiment, whose ``select`` and ``mix`` it copies) their options are taken as validated."""

    model_config = ConfigDict(extra="allow")
    registry: ClassVar[Optional[Mapping[str, type[Plugin]]]] = None
    section: ClassVar[str] = ""
    chosen_by: ClassVar[str] = "method"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _valid_options(self, info: ValidationInfo) -> "MethodConfig":
        registry = self.registry if self.registry is not None else (info.context or {}).get(self.section)
        if registry is not None:
            options_of(registry, getattr(self, self.chosen_by), self.options)
        return self


class SamplerConfig(MethodConfig):
    registry, chosen_by = SAMPLERS, "name"
    name: str = "proportional"


class WeightingConfig(MethodConfig):
    """How a step's losses make its update: ``single`` (the sampler's task alone, the default), ``static`` (every
    task, fixed weights), a TorchJD aggregator (``upgrad``, ``pcgrad``, ...), or AANG's ``aang`` / ``aang_static``
    (sampled objectives, weights learned from the dev gradient or fixed)."""

    registry, chosen_by = WEIGHTINGS, "name"
    name: str = "single"

    @property
    def every_task(self) -> bool:
        return self._method.every_task

    @property
    def protocol(self) -> str:
        """The protocol ``transfer.protocol: auto`` picks under an every-task weighting."""
        return self._method.protocol

    @property
    def _method(self) -> Any:
        return WEIGHTINGS[self.name]


class SelectConfig(MethodConfig):
    """Default ``auto``: ``atlas`` (gains predicted from the encoder's built-in transfer atlas) where one ships,
    else ``exhaustive`` (each candidate trained with the primary against the primary alone, on dev); the experiment
    resolves it when it loads (``config_schema``). Either may keep nothing, which the measured runs needed."""

    section = "select"
    method: str = "auto"


class MixConfig(MethodConfig):
    """Default ``uniform``: the primary and each kept task alike. ``proportional`` to sizes would give a 1,000
    example primary 5 % of the batches and, under ``equal_primary``, a final model 20 times the baseline's steps."""

    section = "mix"
    method: str = "uniform"


class AdapterConfig(MethodConfig):
    """How the encoder trains: ``full`` fine-tuning (the default), one shared ``lora``, a ``lora_per_task``, or
    ``poly`` skills routed per task (Polytropon; MHR with ``n_splits`` above 1), all on PEFT."""

    registry = ADAPTERS
    method: str = "full"
