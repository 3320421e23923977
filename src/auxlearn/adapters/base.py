"""What an adapter is: how the encoder trains (whole, or frozen under PEFT's adapters) and how a batch's task reaches
them. The model (``MultiTaskModel``) asks its adapter for the encoder, for the extra inputs of every encoder call
(a routed adapter's task ids), and for the parameters that learn at the routing rate; the trainer names none.

A model trained with a PEFT adapter is saved in PEFT's format (``adapter_config.json``,
``adapter_model.safetensors``: ``PeftModel.from_pretrained(encoder, folder)`` loads it on the encoder), next to the
heads; ``auxlearn.json`` names the adapter, its options and its tasks, in the order of their routing rows.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Iterator, Optional, Sequence

import torch
from peft import PeftConfig, PeftModel, get_peft_model
from peft.tuners.tuners_utils import check_target_module_exists
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.io import read_json_mapping
from auxlearn.models.encoder import base_of, load_config, load_encoder
from auxlearn.plugins import Plugin

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"


@dataclass
class SavedAdapter:
    """The PEFT adapter of a saved model folder: its config, its tasks (routing rows) and, read when needed, its
    weights (keyed as PEFT saves them: ``<module path>.poly_lora_A``, ``<module path>.poly_router.module_logits``)."""

    folder: Path
    config: dict[str, Any]
    tasks: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.config.get("peft_type", "")).lower()

    @cached_property
    def weights(self) -> dict[str, torch.Tensor]:
        try:
            return load_file(str(self.folder / ADAPTER_WEIGHTS))
        except (SafetensorError, OSError) as error:
            raise DamagedFileError(f"{self.folder / ADAPTER_WEIGHTS}: cannot read the adapter ({error})") from None

    def tensor(self, key: str) -> torch.Tensor:
        if key not in self.weights:
            raise DamagedFileError(f"{self.folder / ADAPTER_WEIGHTS}: the saved adapter has no {key}")
        return self.weights[key]


def saved_adapter(model: str | Path) -> Optional[SavedAdapter]:
    """The adapter a saved folder holds (None for an encoder name or folder)."""
    folder = Path(model)
    if not (folder / ADAPTER_CONFIG).is_file():
        return None
    config = read_json_mapping(folder / ADAPTER_CONFIG)
    meta = read_json_mapping(folder / "auxlearn.json") if (folder / "auxlearn.json").is_file() else {}
    return SavedAdapter(folder, config, list((meta.get("adapter") or {}).get("tasks", [])))


class Adapter(Plugin):
    """How the encoder trains. ``tasks``: the model's tasks, in the order that numbers their routing rows.

    A subclass gives PEFT's config (``peft_config``) and, to start from a saved adapter, ``start_from``; a routed
    one its task inputs (``inputs``) and routing parameters (``is_routing``, learning at ``routing_lr``)."""

    peft: ClassVar[bool] = True
    starts_from: ClassVar[tuple[str, ...]] = ()  # the saved adapter kinds it can start from ("poly", "lora")

    def __init__(self, tasks: Sequence[str], options=None):
        super().__init__(options)
        self.tasks = list(tasks)

    @property
    def routing_lr(self) -> Optional[float]:
        return None

    def peft_config(self) -> PeftConfig:
        raise NotImplementedError

    def build(self, model: str) -> nn.Module:
        """The encoder to train, from ``model``: a Hugging Face name or folder (fresh adapters on it), or a saved
        folder with an adapter this one starts from (on that adapter's encoder)."""
        start = self.check(model)
        with _quiet():
            encoder = get_peft_model(load_encoder(base_of(model)), self.peft_config())
        if start is not None:
            self.start_from(encoder, start)
        self.set_trainable(encoder)
        return encoder

    def trains(self, name: str) -> bool:
        """Whether encoder parameter ``name`` trains: the adapters PEFT added, the encoder's own weights frozen."""
        return is_adapter_parameter(name)

    def set_trainable(self, encoder: nn.Module) -> None:
        """Mark what trains (``trains``) on an encoder it built, or loaded to train on (an earlier phase's)."""
        for name, param in encoder.named_parameters():
            param.requires_grad_(self.trains(name))

    def check(self, model: str) -> Optional[SavedAdapter]:
        """The saved adapter to start from, checked against this one before any data work; errors name the key."""
        start = saved_adapter(model)
        if start is not None and start.kind not in self.starts_from:
            raise AuxlearnError(f"model {model} holds a {start.kind or 'foreign'} adapter, which adapter.method "
                                f"{self.name!r} cannot start from; it starts from "
                                f"{' or '.join(self.starts_from) or 'an encoder (a name or a model folder)'}")
        self.check_targets(model)
        return start

    def check_targets(self, model: str) -> None:
        """Every target module pattern must match linear layers of the encoder (built on the meta device: no
        weights are read), whose sizes the adapter can split."""
        config = load_config(base_of(model))
        with torch.device("meta"):
            from transformers import AutoModel

            encoder = AutoModel.from_config(config)
        peft_config = self.peft_config()
        linears = {name: module for name, module in encoder.named_modules()
                   if isinstance(module, nn.Linear) and check_target_module_exists(peft_config, name)}
        if not linears:
            raise AuxlearnError(f"adapter.target_modules {list(peft_config.target_modules)} match no linear layer "
                                f"of {model} (e.g. {', '.join(_linear_names(encoder)[:6])})")
        self.check_layers(linears)

    def check_layers(self, linears: dict[str, nn.Linear]) -> None:
        """The adapted layers' sizes; an adapter that splits them checks they divide."""

    def start_from(self, encoder: nn.Module, start: SavedAdapter) -> None:
        """Load what this adapter takes from a saved one."""

    def inputs(self, task: str, size: int, device: torch.device) -> dict[str, torch.Tensor]:
        """Extra inputs of an encoder call on ``size`` examples of ``task`` (a routed adapter's task ids)."""
        return {}

    def is_routing(self, name: str) -> bool:
        """Whether parameter ``name`` (of the encoder) is routing, learning at ``routing_lr`` without decay."""
        return False

    def load(self, folder: Path) -> nn.Module:
        """The encoder of a saved model folder, adapters in place (as ``PeftModel.from_pretrained`` loads them)."""
        start = saved_adapter(folder)
        if start is None:
            raise DamagedFileError(f"{folder / ADAPTER_CONFIG} is missing: auxlearn.json names adapter {self.name!r}")
        try:
            with _quiet():
                return PeftModel.from_pretrained(load_encoder(base_of(folder)), str(folder))
        except (ValueError, RuntimeError, KeyError, OSError, SafetensorError) as error:
            raise DamagedFileError(f"{folder}: cannot load its adapter ({str(error).splitlines()[0]})") from None

    def describe(self) -> dict[str, Any]:
        """What auxlearn.json keeps of it, to rebuild it for ``load``."""
        return {"method": self.name, "options": self.options.model_dump(mode="json"), "tasks": self.tasks}


@contextmanager
def _quiet() -> Iterator[None]:
    """PEFT asks transformers whether gradient checkpointing is on through a name transformers now deprecates: a
    warning on every model built, about nothing the user did."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def is_adapter_parameter(name: str) -> bool:
    """A parameter PEFT added (``lora_A``, ``poly_lora_B``, ``poly_router``, ...), not one of the encoder's own."""
    return any(part.startswith(("lora_", "poly_")) for part in name.split("."))


def _linear_names(encoder: nn.Module) -> list[str]:
    """The linear layers' names by their last two parts (``self.query``, ``intermediate.dense``): what to target."""
    return sorted({".".join(name.split(".")[-2:]) for name, module in encoder.named_modules()
                   if isinstance(module, nn.Linear)})
