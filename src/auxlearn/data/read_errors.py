"""Why a data file could not be read, with its line: `datasets` wraps the parser's error in "An error occurred
while generating the dataset", and pyarrow's JSON reader counts bytes, not lines. Text that is not valid UTF-8 is
found first, by line, and refused, or replaced when the user asks (``invalid_utf8: replace``), never in silence."""

from __future__ import annotations

import codecs
import csv
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from auxlearn.errors import AuxlearnError
from auxlearn.tasks.spec import InvalidUtf8


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


def check_utf8(path: Path, invalid_utf8: InvalidUtf8, where: str, option: str) -> None:
    """A text file with lines that are not valid UTF-8: an AuxlearnError naming it and the first such line, or, with
    ``invalid_utf8="replace"``, a line on stderr counting the lines whose bad bytes are read as U+FFFD. ``where`` starts
    the message; ``option`` is how the user asks for replacing."""
    if _starts_utf16(path):  # Excel's "Unicode text": every other byte NUL, which replacing would not mend
        raise AuxlearnError(f"{where}{path}: UTF-16 text (it starts with a UTF-16 byte-order mark), not UTF-8; "
                            "save the file as UTF-8")
    bad = _invalid_utf8_lines(path)
    if not bad:
        return
    number, column, byte = bad[0]
    lines = ", ".join(str(line) for line, _, _ in bad[:5]) + (", ..." if len(bad) > 5 else "")
    if invalid_utf8 == "replace":  # printed, not logged: the user asked for it and must see what it did
        print(f"auxlearn: {where}{path}: {len(bad)} line(s) are not valid UTF-8 (line {lines}); their bad bytes are "
              "read as U+FFFD", file=sys.stderr)
        return
    raise AuxlearnError(f"{where}{path}, line {number}: not valid UTF-8 text (byte 0x{byte:02x} at position {column} "
                        f"of the line; {len(bad)} line(s) in all: {lines}); save the file as UTF-8, or {option}")


def _starts_utf16(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    except OSError:
        return False


def _invalid_utf8_lines(path: Path) -> list[tuple[int, int, int]]:
    """(line, column, byte) of the first bad byte of each line that is not valid UTF-8; none for a binary file
    (NUL bytes), which ``read_problem`` names as such."""
    bad = []
    try:
        with open(path, "rb") as handle:
            if b"\x00" in handle.read(65536):
                return []
            handle.seek(0)
            for number, line in enumerate(handle, 1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as error:
                    bad.append((number, error.start + 1, line[error.start]))
    except OSError:
        return []  # the reader names an unreadable file
    return bad
