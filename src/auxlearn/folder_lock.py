"""One writer per output folder: a command that writes a folder (run, train, select, mix, adapt, atlas) holds an
``flock`` on ``FOLDER/.auxlearn.lock`` while it runs.

Two processes in one folder would append every metrics record twice and pull checkpoints from under each other.
The kernel releases the lock when its process ends, however it ends, so a ``kill -9`` leaves no stale lock; a second
process into a held folder stops at once, naming the folder and the process holding it (its id is in the file).
Workers that share a study (mix, atlas) share it through the study's storage, each in a folder of its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

from auxlearn.errors import AuxlearnError
from auxlearn.io import check_writable, remove_temporaries, writing

try:
    import fcntl
except ImportError:  # Windows: no flock; one writer per folder is then the user's care
    fcntl = None

LOCK = ".auxlearn.lock"
ATTEMPTS = 5  # a lock file another process removed between our open and our lock is opened again


def hold_folder(stack: ExitStack, folder: Path, command: str, main: bool = True) -> Path:
    """``folder``, checked writable before any work (a read-only or impossible folder fails now) and held by this
    process until ``stack`` closes; of several training processes, only the ``main`` one holds it, for all."""
    check_writable(folder)
    if main:
        stack.enter_context(folder_lock(folder, command))
    return folder


@contextmanager
def folder_lock(folder: str | os.PathLike, command: str = "auxlearn") -> Iterator[Path]:
    """Hold ``folder`` (created if needed) for this process, which runs ``command`` (said to a second process); on
    taking it, remove the temporaries killed writers left there. On release the lock file, and the folders taking it
    created if they stayed empty, are removed: a command that failed on its input leaves nothing behind."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    with writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield folder
        return
    handle = _acquire(folder, command)
    try:
        remove_temporaries(folder)
        yield folder
    finally:
        with contextlib.suppress(OSError):  # a folder turned read-only or removed meanwhile: the lock goes anyway
            (folder / LOCK).unlink(missing_ok=True)  # before the lock goes: a waiting opener then sees another file
        os.close(handle)
        for path in created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break  # not empty: the command wrote there


def _acquire(folder: Path, command: str) -> int:
    """The open, locked lock file with this process's id in it; an AuxlearnError when another process holds it."""
    path = folder / LOCK
    for _ in range(ATTEMPTS):
        with writing(path):  # read-only: a descriptor open for writing would keep the disk from turning read-only
            handle = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise AuxlearnError(f"{folder} is in use by another auxlearn process ({holder}); one process writes a "
                                "folder at a time: wait for it to end, or give another --out (workers sharing a "
                                "study each take a folder of their own)") from None
        if _same_file(handle, path):
            with writing(path), open(path, "w", encoding="utf-8") as owner:
                owner.write(_owner(command))
            return handle
        os.close(handle)  # its holder removed it on release between our open and our lock: open the new one
    raise AuxlearnError(f"{folder}: cannot take {LOCK}; other processes keep replacing it")


def _same_file(handle: int, path: Path) -> bool:
    try:
        return os.fstat(handle).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _owner(command: str) -> str:
    return f"PID {os.getpid()} on {socket.gethostname()}, {command}, since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"


def _holder(handle: int) -> str:
    """Who holds the lock, as its file says ("PID 1234 on host, auxlearn run, since ...")."""
    try:
        text = os.pread(handle, 512, 0).decode("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "a process that has not yet written its id"
