"""What a bench figure was measured on, recorded beside it: one helper for the benches that record a machine."""

from __future__ import annotations

import os
import platform

import torch

from auxlearn.train.device import bf16_units, cpu_name


def machine() -> dict:
    """The CPU's model name, its usable cores, the bfloat16 units auxlearn would use, and the versions."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "bf16_units": bf16_units(torch.device("cpu")),
            "torch": torch.__version__, "python": platform.python_version()}
