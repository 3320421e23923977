"""Training in several processes (``accelerate launch``): one Accelerator per training run, one writer.

Every process builds the same sampler from the same seed and hears the same dev score (the main process's,
broadcast), so all train the same task at each step: DistributedDataParallel then all-reduces the gradients
of one task's forward pass on every process (processes that trained different tasks in one step would wait
on each other forever). Each process takes its share of every global batch (``train.batch_size`` is the
global batch, whatever the number of processes), and only the main process writes files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Optional

import torch
from accelerate import Accelerator
from accelerate.tracking import GeneralTracker
from accelerate.utils import DistributedDataParallelKwargs, broadcast_object_list, gather_object

from auxlearn.errors import AuxlearnError
from auxlearn.train import launch

# What the launcher told this process, read from the environment rather than from Accelerate's process-wide state,
# which must first be set up with the training's device (launch.py, light enough for the command line's first step).
is_main_process, process_count = launch.is_main_process, launch.process_count


def make_accelerator(device: torch.device, log_with: Optional[list[GeneralTracker]] = None,
                     project_dir: Optional[Path] = None) -> Accelerator:
    """An Accelerator on ``device``'s kind: the CPU, or the GPU that ``accelerate launch`` gives this process;
    ``log_with``: the trackers it logs to (``tracking.py``), which keep their files in ``project_dir``.

    ``find_unused_parameters``: a step trains one task, so the other tasks' heads get no gradient."""
    try:
        return Accelerator(cpu=device.type == "cpu", log_with=log_with, project_dir=project_dir,
                           kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    except ValueError as error:  # Accelerate's process-wide state was set up for another device
        raise AuxlearnError(f"train.device {device.type}: this process already trains on another device "
                            f"({error})") from None




def shared_from_main(accelerator: Accelerator, value: Any) -> Any:
    """The main process's ``value`` on every process (what all must agree on, e.g. a dev score)."""
    if accelerator.num_processes == 1:
        return value
    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def mean_over_processes(accelerator: Accelerator, values: dict[str, float]) -> dict[str, float]:
    """Per key, the mean over processes (each process's mean loss over its share of the same batches)."""
    if accelerator.num_processes == 1 or not values:
        return values
    keys = sorted(values)
    means = accelerator.reduce(torch.tensor([values[k] for k in keys], dtype=torch.float64,
                                            device=accelerator.device), reduction="mean")
    return {k: float(v) for k, v in zip(keys, means.tolist())}


def chain_digest(digest: str, task: str) -> str:
    """A running hash of the tasks trained so far, one link per step: equal on every process, or they diverged."""
    return hashlib.sha256(f"{digest}\n{task}".encode()).hexdigest()


def check_same_tasks(accelerator: Accelerator, digest: str, steps: int) -> None:
    if accelerator.num_processes == 1:
        return
    digests = gather_object([digest])
    if len(set(digests)) != 1:
        raise AuxlearnError(f"the {accelerator.num_processes} training processes trained different tasks within "
                            f"the first {steps} steps; each process must build the same sampler from the same seed")
