"""The file-system fault behind a library's error, so that every failed write reaches the user as one line with the
path and the cause.

Libraries that write files report a full disk or a file-size limit in their own words: safetensors as "I/O error:
No space left on device (os error 28)", SQLite as "database or disk is full", torch's zip writer as "unexpected pos
576 vs 534", which names neither the space nor the file. Each is turned back into the OSError it stands for.
"""

from __future__ import annotations

import errno
import os
import re
import resource
from pathlib import Path
from typing import Iterator, Optional

_NUMBERED = re.compile(r"\(os error (\d+)\)|\[Errno (\d+)\]")
_WORDS = {"database or disk is full": errno.ENOSPC, "No space left on device": errno.ENOSPC,
          "Not enough disk space": errno.ENOSPC,  # datasets' own check before it writes its cache
          "File too large": errno.EFBIG, "attempt to write a readonly database": errno.EROFS,
          "Read-only file system": errno.EROFS, "disk I/O error": errno.EIO}
# torch.save to a path: its C++ stream fails without saying why (the errno is lost on the way).
_TORCH_WRITER = ("unexpected pos", "PytorchStreamWriter failed", "iostream error")
NEARLY_FULL = 1 << 20  # bytes: less than this free after a failed write means the disk filled


def os_error_of(error: BaseException, path: Optional[Path] = None) -> Optional[OSError]:
    """The OSError ``error`` is or stands for (itself, one in its chain, or one its message names), else None;
    ``path`` (what was being written) tells a full disk from a file-size limit when the message says neither."""
    chain = list(_chain(error))
    for link in chain:
        if isinstance(link, OSError) and link.errno is not None:
            return link
    for link in chain:
        text = str(link)
        numbered = _NUMBERED.search(text)
        if numbered:
            code = int(numbered.group(1) or numbered.group(2))
            return OSError(code, os.strerror(code))
        for words, code in _WORDS.items():
            if words in text:
                return OSError(code, os.strerror(code))
        if any(words in text for words in _TORCH_WRITER):
            return probable_write_fault(path)
    return next((link for link in chain if isinstance(link, OSError)), None)  # one that says no more


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: Optional[BaseException] = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def probable_write_fault(path: Optional[Path]) -> OSError:
    """Why a write under ``path`` failed when the writer did not say: a (nearly) full disk, else this process's
    file-size limit, else an unknown I/O error."""
    folder = Path(path).absolute() if path is not None else Path.cwd()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        stats = os.statvfs(folder)
        free = (stats.f_bfree if os.geteuid() == 0 else stats.f_bavail) * stats.f_frsize
    except OSError:
        free = NEARLY_FULL
    if free < NEARLY_FULL:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY:
        return OSError(errno.EFBIG, f"{os.strerror(errno.EFBIG)} (the file-size limit, ulimit -f, is {limit} bytes)")
    return OSError(errno.EIO, "the write failed (input/output error)")
