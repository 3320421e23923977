"""What a bench figure was measured on, recorded beside it: one helper for the benches that record a machine."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from auxlearn.train.device import bf16_units


def machine() -> dict:
    """The CPU's model name (``platform.processor()`` says only "x86_64"), its usable cores, the bfloat16 units
    auxlearn would use, and the versions."""
    model = next((line.partition(":")[2].strip() for line in _cpuinfo().splitlines()
                  if line.startswith("model name")), platform.machine())
    return {"cpu": model, "cores": os.cpu_count(), "bf16_units": bf16_units(torch.device("cpu")),
            "torch": torch.__version__, "python": platform.python_version()}


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
