"""The experiment config: its schema (``config_schema``, its method sections in ``config_methods``, its leaf types
in ``config_types``), and ``experiment_from_dict``, which loads a mapping into a validated ``Experiment``.

Loading validates what the schema alone cannot: the options of ``select`` and ``mix`` against the selectors and
mixers, which train experiments and so stand above the schema, and the settings that only the tasks and this
machine can check (``config_checks``). Reading it from files (composition, ``--set``, relative paths) is
``config_files``.
"""

from __future__ import annotations

from typing import Any

from auxlearn.config_checks import check_experiment
from auxlearn.config_methods import (AdapterConfig, MethodConfig, MixConfig, SamplerConfig, SelectConfig,
                                     WeightingConfig)
from auxlearn.config_objectives import ObjectivesConfig
from auxlearn.config_schema import (DEFAULT_RUN_SEEDS, PRESETS, Budget, DataConfig, Experiment, FewShotConfig,
                                    TrainConfig, TransferConfig, validated_experiment)
from auxlearn.config_types import DEFAULT_MODEL, PairEncoding, Precision
from auxlearn.mix import MIXERS, build_mixer
from auxlearn.select import SELECTORS

__all__ = ["DEFAULT_MODEL", "DEFAULT_RUN_SEEDS", "PRESETS", "AdapterConfig", "Budget", "DataConfig", "Experiment",
           "FewShotConfig", "MethodConfig", "MixConfig", "ObjectivesConfig", "PairEncoding", "Precision",
           "SamplerConfig", "SelectConfig", "TrainConfig", "TransferConfig", "WeightingConfig", "experiment_from_dict"]

# The registries the schema validates ``select`` and ``mix`` against when a config loads (its validation context).
PIPELINE_METHODS = {"select": SELECTORS, "mix": MIXERS}


def experiment_from_dict(document: dict, where: str = "config", check: bool = True, note: Any = None) -> Experiment:
    """An experiment from a mapping (a parsed config file, or a Python API caller's dict). ``check``: also check it
    against its tasks and this machine (``config_checks``); a variant of a checked experiment need not be.
    ``note(location)``: appended to a validation error (where the key was set)."""
    exp = validated_experiment(document, where, note, methods=PIPELINE_METHODS)
    if check:
        check_experiment(exp, where=where, generated=build_mixer(exp.mix.method, exp.mix.options).predicts_tokens())
    return exp
