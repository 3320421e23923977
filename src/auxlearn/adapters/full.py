"""Full fine-tuning: every encoder weight trains (auxlearn's default, and the few-shot upper bound on cost)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from torch import nn

from auxlearn.adapters.base import Adapter, SavedAdapter, saved_adapter
from auxlearn.errors import AuxlearnError
from auxlearn.models.encoder import load_encoder


class FullFineTuning(Adapter):
    name = "full"
    peft = False

    def check(self, model: str) -> Optional[SavedAdapter]:
        if saved_adapter(model) is not None:
            raise AuxlearnError(f"model {model} holds adapters over a frozen encoder; adapter.method 'full' "
                                "fine-tunes an encoder: give the encoder (its base_model_name_or_path) as model")
        return None

    def trains(self, name: str) -> bool:
        return True

    def build(self, model: str) -> nn.Module:
        self.check(model)
        return load_encoder(model)

    def load(self, folder: Path) -> nn.Module:
        return load_encoder(str(folder))
