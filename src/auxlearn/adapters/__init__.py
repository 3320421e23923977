"""Adapters: how the encoder trains, one small class per method behind ``Adapter`` (see base.py)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from auxlearn.adapters.base import Adapter
from auxlearn.adapters.full import FullFineTuning
from auxlearn.adapters.lora import Lora
from auxlearn.adapters.lora_per_task import LoraPerTask
from auxlearn.adapters.poly import Poly
from auxlearn.plugins import build

ADAPTERS: dict[str, type[Adapter]] = {cls.name: cls for cls in (FullFineTuning, Lora, LoraPerTask, Poly)}


def build_adapter(name: str, options: Mapping[str, Any], tasks: Sequence[str]) -> Adapter:
    """Adapter ``name`` for a model of ``tasks`` (their order numbers the routing rows)."""
    return build(ADAPTERS, name, options, "adapter", tasks)


__all__ = ["ADAPTERS", "Adapter", "build_adapter"]
