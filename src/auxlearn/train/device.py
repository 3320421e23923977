"""Where the model computes, and in what number format.

``precision: bf16`` runs the forward pass (training, evaluation, prediction) under ``torch.autocast`` in
bfloat16; master weights, gradients and optimiser state stay fp32. A CPU computes bfloat16 fast only with
matrix units for it (AVX-512 BF16 or AMX; ``bench/throughput.py`` measured 2.2x the fp32 matmul rate on one
such CPU); without them bfloat16 is emulated and slower than fp32, so ``auto`` picks fp32 there.
"""

from __future__ import annotations

import logging
import platform
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import ContextManager, Literal

import torch

from auxlearn.config_types import Precision
from auxlearn.errors import AuxlearnError

Resolved = Literal["fp32", "bf16"]

# /proc/cpuinfo flags of x86 units that multiply bfloat16 matrices natively.
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    """``train.device`` as a device; asking for a GPU this machine lacks is an error (checked when the config
    loads and when data is prepared, not when training starts)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise AuxlearnError("train.device: cuda, but this machine has no GPU that PyTorch can use "
                            "(torch.cuda.is_available() is false); use auto or cpu")
    return torch.device(name)


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _cpuinfo_field(name: str) -> str | None:
    return next((line.partition(":")[2].strip() for line in _cpuinfo().splitlines() if line.startswith(name)), None)


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags Linux reports (empty elsewhere: no flag, no claim of bfloat16 units)."""
    return frozenset((_cpuinfo_field("flags") or "").split())


def cpu_name() -> str:
    """The CPU's model name, recorded beside every timing (``platform.processor()`` says only "x86_64"); the CPU
    changes between machines of one kind, and with it every figure."""
    return _cpuinfo_field("model name") or platform.machine()


def bf16_units(device: torch.device) -> str | None:
    """What computes bfloat16 natively on ``device`` (a flag or GPU name), or None."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device) if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        return next((flag for flag in CPU_BF16_FLAGS if flag in cpu_flags()), None)
    return None


_fallback_said: set[str] = set()


def resolve_precision(requested: Precision, device: torch.device) -> Resolved:
    """``auto`` and ``bf16`` give bfloat16 where ``device`` has units for it, else fp32.

    The fallback is said once per process and device type, on one line."""
    if requested == "fp32":
        return "fp32"
    if bf16_units(device) is not None:
        return "bf16"
    if device.type not in _fallback_said:
        _fallback_said.add(device.type)
        expected = " or ".join(CPU_BF16_FLAGS) if device.type == "cpu" else "bfloat16 support"
        log.warning("auxlearn: %s has no bfloat16 units (%s); computing in fp32", device.type, expected)
    return "fp32"


def config_precision(precision: Precision, device_name: str) -> Resolved:
    """What a config's ``train.precision`` and ``train.device`` compute in on this machine."""
    return resolve_precision(precision, pick_device(device_name))


def autocast(device: torch.device, precision: Resolved) -> ContextManager:
    """The forward pass's number format: bfloat16 autocast, or nothing (fp32)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()
