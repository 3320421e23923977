"""What a launcher (torch's, MPI's) tells each process, read from the environment as Accelerate reads it but without
importing torch or Accelerate: the command line takes its output folder's lock before those heavy imports, and
only the main process of a training takes it."""

from __future__ import annotations

import os

WORLD_SIZE = ["WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"]
RANK = ["RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"]


def _env_int(names: list[str], default: int) -> int:
    """The first of ``names`` set to a non-negative integer (Accelerate's ``get_int_from_env``)."""
    for name in names:
        value = int(os.environ.get(name, -1))
        if value >= 0:
            return value
    return default


def is_main_process() -> bool:
    """Whether this process writes the run's files (always, without ``accelerate launch``)."""
    return _env_int(RANK, 0) == 0


def process_count() -> int:
    return _env_int(WORLD_SIZE, 1)
