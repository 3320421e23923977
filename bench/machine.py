"""What a bench figure was measured on, recorded beside it: one helper for the benches that record a machine."""

from __future__ import annotations

import os
import platform

import torch

from auxlearn.train.device import bf16_units, cpu_flags, cpu_name

# The vector and matrix units a CPU training step can use: what makes one machine's figures differ from another's.
UNITS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16",
         "amx_int8", "amx_fp16")


def machine() -> dict:
    """The CPU's model name and vector/matrix-unit flags, its usable cores, the bfloat16 units auxlearn would use,
    and the versions."""
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "bf16_units": bf16_units(torch.device("cpu")),
            "cpu_flags": [flag for flag in UNITS if flag in cpu_flags()],
            "torch": torch.__version__, "python": platform.python_version()}
