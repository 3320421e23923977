"""Full fine-tuning: every encoder weight trains (auxlearn's default, and the few-shot upper bound on cost).

``freeze_word_embeddings`` keeps the token embedding matrix as pretrained. On all-MiniLM-L6-v2 it is half of the
encoder's weights (30,522 x 384), and training it costs a dense vocabulary-sized gradient, its clipping and its
AdamW update at every step although a batch touches a few hundred of its rows (bench/throughput.py measures the
speed, bench/precision_parity.py the accuracy). A tied LM head then trains its bias and transform only."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field
from torch import nn

from auxlearn.adapters.base import Adapter, SavedAdapter, saved_adapter
from auxlearn.errors import AuxlearnError
from auxlearn.models.encoder import load_encoder
from auxlearn.plugins import MethodOptions


class FullOptions(MethodOptions):
    freeze_word_embeddings: bool = Field(
        False, description="the token embedding matrix stays as pretrained (every other encoder weight trains)")


class FullFineTuning(Adapter):
    name = "full"
    Options = FullOptions
    peft = False
    frozen: frozenset[str] = frozenset()  # the encoder's parameter names that stay as loaded (set_trainable)

    def check(self, model: str) -> Optional[SavedAdapter]:
        if saved_adapter(model) is not None:
            raise AuxlearnError(f"model {model} holds adapters over a frozen encoder; adapter.method 'full' "
                                "fine-tunes an encoder: give the encoder (its base_model_name_or_path) as model")
        return None

    def trains(self, name: str) -> bool:
        return name not in self.frozen

    def set_trainable(self, encoder: nn.Module) -> None:
        embeddings = encoder.get_input_embeddings().weight if self.options.freeze_word_embeddings else None
        self.frozen = frozenset(name for name, param in encoder.named_parameters() if param is embeddings)
        super().set_trainable(encoder)

    def build(self, model: str) -> nn.Module:
        self.check(model)
        encoder = load_encoder(model)
        self.set_trainable(encoder)
        return encoder

    def load(self, folder: Path) -> nn.Module:
        return load_encoder(str(folder))
