"""Atomic writes: a killed run never leaves a half-written file or folder behind, and a failed one says which path
and why, in one line.

Every write of the product goes through :func:`writing` (here, or around a library's own writer): an OSError, or a
library's error that stands for one (``os_faults``), becomes an AuxlearnError "cannot write PATH: cause". A write
goes to a temporary beside its target, named with the writer's process id, and is renamed over the target when
complete; the temporary is removed on failure, and one a killed process left is removed by the next write of the
same target (or by :func:`remove_temporaries` when a command takes its folder).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.os_faults import os_error_of

# .NAME.PID.RANDOM.tmp: a temporary of this module's writers; one without PID is an earlier version's.
TEMPORARY = re.compile(r"^\.(?P<target>.+?)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_siblings(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    return write_text_atomic(path, json_text(data))


def json_text(data: Any) -> str:
    """``data`` as auxlearn writes JSON files (indented; numpy scalars and paths as plain values); a file inside a
    folder written by ``atomic_directory`` is written with it directly."""
    return json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n"


def append_jsonl(path: str | os.PathLike, record: dict) -> int:
    """Append one line and return the file's length after it; a line is written with a single ``write`` call,
    so readers never see half a record."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as handle:
            handle.write((json.dumps(record, default=_jsonable) + "\n").encode("utf-8"))
            return handle.tell()


def read_json(path: str | os.PathLike) -> Any:
    """The JSON document of ``path``; one that does not parse is a DamagedFileError naming the file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise DamagedFileError(f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                               "damaged, cut short, or not a file auxlearn wrote") from None
    except UnicodeDecodeError as error:
        raise DamagedFileError(f"{path}: not valid JSON (not UTF-8 text: {error.reason}); damaged, or not a file "
                               "auxlearn wrote") from None


def read_json_mapping(path: str | os.PathLike, *keys: str) -> dict[str, Any]:
    """A JSON object with at least ``keys``; anything else is a DamagedFileError naming the file."""
    document = read_json(path)
    if not isinstance(document, dict):
        raise DamagedFileError(f"{path}: expected a JSON mapping, found a {type(document).__name__}; damaged, "
                               "or not a file auxlearn wrote")
    missing = [key for key in keys if key not in document]
    if missing:
        raise DamagedFileError(f"{path}: key(s) {', '.join(map(repr, missing))} missing; damaged, or not a file "
                               "auxlearn wrote")
    return document


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_siblings(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp"))
        try:
            yield tmp
            replace_folder(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def replace_folder(tmp: Path, path: Path) -> None:
    """Rename the complete folder ``tmp`` over ``path``; a kill between the two renames leaves the replaced folder,
    complete, beside it as ``.NAME.old`` (``_old``; ``atomic_directory`` settles it, a checkpoint resumes from it)."""
    old = _old(path)
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def check_writable(folder: str | os.PathLike) -> None:
    """That ``folder`` can be created and written to, found before any work rather than after training; it
    leaves the file system as it was."""
    folder = Path(folder)
    with writing(folder):
        existing = folder.absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(existing))
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".auxlearn-probe-")
        os.close(fd)
        os.unlink(probe)


def describe_os_error(error: OSError, path: Optional[Path] = None) -> str:
    """An OSError as "PATH: cause", the cause in words a user acts on (a file where a folder must be, a full disk,
    no permission)."""
    path = Path(error.filename) if path is None and error.filename else path
    cause = error.strerror or str(error) or type(error).__name__
    blocker = next((p for p in ([path] if path else []) + list(path.parents if path else []) if p.is_file()), None)
    if isinstance(error, (NotADirectoryError, FileExistsError)) and blocker is not None:
        cause = f"{blocker} is a file, not a folder"
    elif isinstance(error, IsADirectoryError) or (path is not None and path.is_dir() and error.errno == 21):
        cause = f"{path} is a folder"
    return f"{path}: {cause}" if path else cause


def describe_fault(error: BaseException) -> Optional[str]:
    """"PATH: cause" of the file-system fault behind ``error`` (an OSError, or a library's error standing for one),
    else None."""
    fault = os_error_of(error)
    return None if fault is None else describe_os_error(fault)


@contextmanager
def writing(path: str | os.PathLike, note: str = "") -> Iterator[None]:
    """File-system faults (full disk, file-size limit, no permission, a file in the way), raised as such or inside a
    library's own error, as an AuxlearnError naming ``path`` and the cause, then ``note`` (what was kept)."""
    try:
        yield
    except AuxlearnError:
        raise
    except Exception as error:
        fault = os_error_of(error, Path(path))
        if fault is None:
            raise
        raise AuxlearnError(f"cannot write {describe_os_error(fault, Path(path))}{note}") from None


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _old(path: Path) -> Path:
    """Where a replaced folder waits between the two renames that replace it."""
    return path.with_name(f".{path.name}.old")


def _settle_old(old: Path, path: Path) -> None:
    """A replaced folder a kill left between the two renames: put back if ``path`` is missing (it is the last
    complete one), else removed."""
    if not old.is_dir():
        return
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(old, path)


def _remove_dead_siblings(path: Path) -> None:
    """The temporaries of earlier writes of ``path`` whose process is gone, and its replaced folder (``_settle_old``);
    in a shared folder (a cache) another live writer's temporary stays."""
    _settle_old(_old(path), path)
    for found in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = TEMPORARY.match(found.name)
        if match and match["target"] == path.name and match["pid"] and not process_alive(int(match["pid"])):
            _remove(found)


def remove_temporaries(folder: str | os.PathLike) -> int:
    """Every temporary under ``folder`` that no running process is writing, and an earlier version's model folder
    (its temporaries carry no process id; other files of that form may be another program's): called by a command
    that holds the folder, so no other writer is inside. Returns how many were removed."""
    removed = 0
    for found in sorted(Path(folder).rglob(".*.tmp")):
        match = TEMPORARY.match(found.name)
        dead = match and (not process_alive(int(match["pid"])) if match["pid"] else match["target"] == "model")
        if dead and found.exists():
            _remove(found)
            removed += 1
    for old in sorted(Path(folder).rglob(".model.old")):  # a model folder a kill left between its two renames
        _settle_old(old, old.with_name("model"))
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (one of another user counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths in results: write them as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
