"""A small disk made for real, for the tests of write faults: a tmpfs of a few MB mounted on a test's folder (as root),
that a test fills, frees, or makes read-only mid-run.

Where mounting is impossible (not root, no mount permission) the disk is an ordinary folder, and a full disk is
simulated by this process's file-size limit (``RLIMIT_FSIZE``, also a real fault: the writes fail with "File too
large" instead of "No space left on device"); ``Disk.cause`` is the words the error must then carry.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

CHUNK = 1 << 16


@dataclass
class Disk:
    folder: Path
    mounted: bool  # a real tmpfs; else faults are made by the file-size limit

    @property
    def cause(self) -> str:
        return "No space left on device" if self.mounted else "File too large"

    def fill(self, leave: int = 0) -> None:
        """Leave at most ``leave`` bytes free (with the file-size limit: no file may grow past ``leave``)."""
        if not self.mounted:
            resource.setrlimit(resource.RLIMIT_FSIZE, (max(leave, CHUNK), resource.RLIM_INFINITY))
            return
        stats = os.statvfs(self.folder)
        wanted = max(stats.f_bavail * stats.f_frsize - leave, 0)
        with open(self.folder / ".filler", "ab") as filler:
            while wanted > 0:
                try:
                    wanted -= filler.write(b"\0" * min(CHUNK, wanted))
                    filler.flush()
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break

    def free(self) -> None:
        (self.folder / ".filler").unlink(missing_ok=True)
        if not self.mounted:
            resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    def read_only(self, read_only: bool = True) -> bool:
        """Remount read-only (or back read-write); False where the disk is not a mount."""
        if not self.mounted:
            return False
        option = "remount,ro" if read_only else "remount,rw"
        return subprocess.run(["mount", "-o", option, str(self.folder)], capture_output=True).returncode == 0


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[Disk]:
    """A tmpfs of ``megabytes`` on ``folder`` for the block, unmounted after it."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)], capture_output=True).returncode == 0
    disk = Disk(folder, mounted)
    try:
        yield disk
    finally:
        disk.free()
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def leftovers(folder: Path) -> list[str]:
    """Temporaries of writes under ``folder``: what a failed or killed write must not leave once a run ended."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.endswith((".tmp", ".old")) or p.name.startswith(".auxlearn-probe"))
