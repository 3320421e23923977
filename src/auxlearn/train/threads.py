"""CPU threads that fit the machine: the cores this process may use, shared among the auxlearn workers on it.

PyTorch gives every process one thread per core. Two processes on 2 cores then each ran 5-7x slower than one
alone (their threads take turns on the cores and wait at every parallel region's barrier), while one thread each
ran about as fast as a lone process. So a computing auxlearn process (training, evaluating, predicting) holds an
``flock`` on a file in a shared folder; every worker counts the locked files and takes its share of the cores,
counting again every few seconds, so a worker that starts or ends rebalances the others within seconds. A dead
worker's lock is released by the kernel, and its file is removed by the next count.

The count is used as ``torch.set_num_threads``: an explicit ``train.threads`` or the user's ``OMP_NUM_THREADS``
wins over the share.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import torch

try:
    import fcntl
except ImportError:  # Windows: no flock; each process counts only itself
    fcntl = None

RECOUNT_SECONDS = 2.0


def workers_dir() -> Path:
    """The folder of the workers' lock files (``AUXLEARN_WORKERS_DIR``, default one per user in the temp dir)."""
    configured = os.environ.get("AUXLEARN_WORKERS_DIR")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"auxlearn-workers-{uid}"


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def user_threads() -> Optional[int]:
    """``OMP_NUM_THREADS`` when the user set it to a positive number."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def count_workers(folder: Path) -> int:
    """Live workers: files whose lock is held. Files of dead workers are removed."""
    if fcntl is None or not folder.is_dir():
        return 1
    alive = 0
    for path in folder.glob("*.lock"):
        try:
            handle = open(path, "rb")
        except OSError:
            continue  # removed meanwhile
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                alive += 1
                continue
            path.unlink(missing_ok=True)
    return max(1, alive)


class _Registration:
    """This process's lock file, held while any of its threads computes (re-entrant)."""

    def __init__(self):
        self.depth, self.handle, self.mutex = 0, None, threading.Lock()

    def enter(self, folder: Path) -> None:
        with self.mutex:
            self.depth += 1
            if self.depth > 1 or fcntl is None:
                return
            folder.mkdir(parents=True, exist_ok=True)
            # Locked before it gets its visible name, so a counter never takes a new worker's file for a dead one's.
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f"{os.getpid()}-", suffix=".tmp")
            self.handle = os.fdopen(fd, "wb")
            fcntl.flock(self.handle, fcntl.LOCK_EX)
            self.path = Path(tmp).with_suffix(".lock")
            os.replace(tmp, self.path)

    def exit(self) -> None:
        with self.mutex:
            self.depth -= 1
            if self.depth or self.handle is None:
                return
            self.path.unlink(missing_ok=True)
            self.handle.close()
            self.handle = None


_registration = _Registration()


class ThreadShare:
    """The threads of this process while it computes; ``poll()`` re-counts the workers every few seconds."""

    def __init__(self, setting: Optional[int] = None):
        self.source = setting if setting is not None else ("OMP_NUM_THREADS" if user_threads() else "auto")
        self.fixed = setting or user_threads()
        self.folder = workers_dir()
        self.used: list[int] = []
        self._next_count = 0.0

    def threads_now(self) -> int:
        if self.fixed is not None:
            return self.fixed
        return max(1, usable_cores() // count_workers(self.folder))

    def poll(self) -> int:
        now = time.monotonic()
        if now >= self._next_count:
            self._next_count = now + RECOUNT_SECONDS
            threads = self.threads_now()
            if threads != torch.get_num_threads():
                torch.set_num_threads(threads)
            if threads not in self.used:
                self.used.append(threads)
        return torch.get_num_threads()

    def describe(self) -> dict:
        """For results.json: the setting (``auto``, ``OMP_NUM_THREADS`` or a number) and the counts used."""
        return {"setting": self.source, "used": list(self.used)}


@contextmanager
def thread_share(setting: Optional[int] = None) -> Iterator[ThreadShare]:
    """Register this process as a worker, take its share of the cores, and give the previous count back after."""
    before = torch.get_num_threads()
    share = ThreadShare(setting)
    _registration.enter(share.folder)
    try:
        share.poll()
        yield share
    finally:
        _registration.exit()
        torch.set_num_threads(before)
