"""Mixing methods: the sampling ratios (or loss weights) of the kept tasks. One module per family behind
``Mixer`` (``auxlearn/mixer_base.py``); AANG's mixers are in ``auxlearn/aang/``."""

from __future__ import annotations

from typing import Any, Mapping

from auxlearn.aang.mixer import AangMixer, AangStaticMixer
from auxlearn.mixer_base import Mixer, Mixture
from auxlearn.mix.ratio_search import GPBayesianMixer, RandomSearchMixer
from auxlearn.mix.ratio_rules import FixedMixer, ProportionalMixer, TemperatureMixer, UniformMixer
from auxlearn.plugins import build

MIXERS: dict[str, type[Mixer]] = {
    cls.name: cls for cls in (UniformMixer, ProportionalMixer, TemperatureMixer, FixedMixer, GPBayesianMixer,
                              RandomSearchMixer, AangMixer, AangStaticMixer)
}


def build_mixer(method: str, options: Mapping[str, Any]) -> Mixer:
    return build(MIXERS, method, options, "mix")


__all__ = ["MIXERS", "Mixer", "Mixture", "build_mixer"]
