"""glibc's allocator told to give freed memory back to the system, so that a long run's resident memory stays
near what it uses.

Training allocates and frees activations of a different size at every step (batches are grouped by length), and
glibc keeps freed blocks in per-thread arenas and below its trim threshold: `auxlearn train
examples/rte_single.yaml` peaked at 2.90 GB resident with the defaults and 2.35 GB with two arenas, a 128 KiB
trim threshold and a 1 MiB mmap threshold, with identical scores (bench/memory.py). The price is speed: every
tensor over 1 MiB is mapped and faulted in afresh at every step. Measured side by side (2-core Xeon with AMX, same
eval score): these settings 2.58 GB in 180 s; 8 MiB thresholds 3.26 GB in 138 s; 8 MiB and a ``malloc_trim``
after each dev evaluation 2.96 GB, but `make demo`'s job then peaked at 3.1 GB, over its 3 GB budget. So the
memory settings stay. The same settings as the ``MALLOC_*`` environment variables would have to be set before
Python starts; ``mallopt`` sets them from inside. No maintained library offers this; other C libraries (musl,
macOS) are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
SETTINGS = {M_ARENA_MAX: 2, M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_THRESHOLD: 1024 * 1024}


def return_freed_memory() -> bool:
    """Apply ``SETTINGS`` through glibc's ``mallopt``; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    return all(mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1 for param, value in SETTINGS.items())

