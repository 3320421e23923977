"""glibc's allocator told to keep a training step's tensors in its heap, and to give freed memory back to the system
after each dev evaluation, so that a run is fast and its resident memory stays near what it uses.

Training allocates and frees activations of a different size at every step (batches are grouped by length). Blocks
larger than glibc's mmap threshold are mapped afresh and faulted in page by page at every step; blocks below it stay
in per-thread arenas and below the trim threshold. Measured side by side on `auxlearn train
examples/rte_single.yaml` (bench/memory.py, 2-core Xeon with AMX, the same eval score in every case): a 1 MiB mmap
and 128 KiB trim threshold peaked at 2.58 GB but trained in 180 s; two arenas alone, 3.24 GB in 151 s; 8 MiB
thresholds, 3.26 GB in 138 s; 8 MiB thresholds and ``malloc_trim`` after every dev evaluation (the settings here),
2.96 GB in 144 s. ``mallopt`` sets them from inside (the ``MALLOC_*`` environment variables would have to be set
before Python starts). No maintained library offers this; other C libraries (musl, macOS) are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

# mallopt's parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
SETTINGS = {M_ARENA_MAX: 2, M_TRIM_THRESHOLD: 8 << 20, M_MMAP_THRESHOLD: 8 << 20}


@lru_cache(maxsize=1)
def _glibc():
    """glibc, or None where the C library is another (no ``mallopt``)."""
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
        return library if library is not None and hasattr(library, "mallopt") else None
    except OSError:
        return None


def return_freed_memory() -> bool:
    """Apply ``SETTINGS`` through glibc's ``mallopt``; False where the C library is not glibc."""
    glibc = _glibc()
    if glibc is None:
        return False
    return all(glibc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1 for param, value in SETTINGS.items())


def release_free_pages() -> None:
    """Give the system the pages freed since the last call (``malloc_trim``): once per dev evaluation, where a
    step's faulting them back in costs nothing that counts."""
    glibc = _glibc()
    if glibc is not None and hasattr(glibc, "malloc_trim"):
        glibc.malloc_trim(ctypes.c_size_t(0))
