"""Atomic writes: a killed run never leaves a half-written file or folder behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from auxlearn.errors import AuxlearnError, DamagedFileError


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n")


def append_jsonl(path: str | os.PathLike, record: dict) -> int:
    """Append one line and return the file's length after it; a line is written with a single ``write`` call,
    so readers never see half a record."""
    path = Path(path)
    with _naming(path):
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
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        try:
            yield tmp
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def check_writable(folder: str | os.PathLike) -> None:
    """That ``folder`` can be created and written to, found before any work rather than after training; it
    leaves the file system as it was."""
    folder = Path(folder)
    with _naming(folder):
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


@contextmanager
def _naming(path: Path) -> Iterator[None]:
    """File-system faults (full disk, file-size limit, no permission, a file in the way) as an AuxlearnError
    naming ``path`` and the cause."""
    try:
        yield
    except OSError as error:
        raise AuxlearnError(f"cannot write {describe_os_error(error, path)}") from None


def _jsonable(value: Any) -> Any:
    """numpy scalars and paths in results: write them as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
