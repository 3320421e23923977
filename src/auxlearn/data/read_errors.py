"""Why a data file could not be read, with its line: `datasets` wraps the parser's error in "An error occurred
while generating the dataset", and pyarrow's JSON reader counts bytes, not lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterator


def read_problem(file: Path, error: BaseException) -> str:
    """The first bad line of a JSON-lines or csv / tsv file, else the innermost error's message."""
    suffix = file.suffix.lower()
    try:
        if suffix != ".parquet" and b"\x00" in file.read_bytes()[:65536]:
            found = "binary data (NUL bytes), not text"
        elif suffix in (".jsonl", ".json"):
            found = _bad_json_line(file)
        elif suffix in (".csv", ".tsv"):
            found = _bad_csv_row(file, "\t" if suffix == ".tsv" else ",")
        else:
            found = None
    except (OSError, UnicodeDecodeError) as problem:
        found = f"cannot read it as UTF-8 text ({problem})"
    return found or _innermost(error)


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of each non-blank line of a JSON-lines file; a line that is not a JSON object is a
    ValueError saying "line N: ..." (a bad byte is such a line)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as problem:
                raise ValueError(f"line {number}: not valid JSON ({problem.msg}, column {problem.colno})") from None
            if not isinstance(record, dict):
                raise ValueError(f"line {number}: expected a JSON object (one row), got {type(record).__name__}")
            yield number, record


def _bad_json_line(file: Path) -> str | None:
    try:
        for _ in json_objects(file):
            pass
    except ValueError as problem:
        return str(problem)
    return None


def _bad_csv_row(file: Path, delimiter: str) -> str | None:
    with open(file, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        for row in reader:
            if header is not None and row and len(row) != len(header):
                return (f"line {reader.line_num}: {len(row)} fields, but the header has {len(header)} "
                        f"({', '.join(header)})")
    return None


def _innermost(error: BaseException) -> str:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
    lines = str(error).strip().splitlines()
    return lines[0] + (" ..." if len(lines) > 1 else "") if lines else type(error).__name__
