"""Optuna storage URLs and study files, checked before a search so that a typo or a damaged file is an error
naming the URL or file, not a database driver's traceback after the selection stage has trained."""

from __future__ import annotations

from pathlib import Path

from auxlearn.errors import AuxlearnError

_FORMS = "postgresql://user:password@host/db, mysql://..., sqlite:///file.db or journal:///file.log"
SQLITE_HEADER = b"SQLite format 3\x00"


def storage_problem(url: str) -> str | None:
    """Why ``url`` is not a usable Optuna storage URL, or None."""
    if url.startswith("journal://"):
        path = url.removeprefix("journal://")
        if not path:
            return f"journal storage {url!r} names no file (expected journal:///path/file.log)"
        return f"journal file {path} is a folder" if Path(path).is_dir() else None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, ValueError) as error:
        return f"cannot parse storage URL {url!r} ({error}); expected {_FORMS}"
    except NoSuchModuleError:
        return f"storage URL {url!r}: unknown database kind {url.split(':', 1)[0]!r}; expected {_FORMS}"
    return None


def check_sqlite_file(path: Path) -> None:
    """A study file left in the run folder must be an SQLite database (an empty file is a new one)."""
    if path.is_dir() or (path.is_file() and path.stat().st_size and not _has_sqlite_header(path)):
        raise AuxlearnError(f"{path} is not an SQLite database (damaged, or another file in its place); "
                            "move it away to start the mixing study afresh")


def _has_sqlite_header(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError as error:
        raise AuxlearnError(f"cannot read {path}: {error.strerror}") from None
