"""Reading the user's YAML files (experiments, task files): a duplicate key is an error, not a silent overwrite
(YAML keeps the last value), and every problem names the file and the line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from auxlearn.errors import AuxlearnError


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in first:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {first[key] + 1})", key_node.start_mark)
                first[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: SafeLoader reports it itself
                continue
        return super().construct_mapping(node, deep)


def load_yaml(path: Path, what: str) -> Any:
    """The document of ``path``; ``what`` ("config file", "task file") starts every message."""
    if not path.is_file():
        raise AuxlearnError(f"{what} {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AuxlearnError(f"{what} {path}: cannot read it ({getattr(error, 'strerror', None) or error})") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as error:
        place, problem = _located(error)
        kind = "" if problem.startswith("duplicate key") else "not valid YAML: "
        raise AuxlearnError(f"{what} {path}{', ' + place if place else ''}: {kind}{problem}") from None


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML error on one line: "line L, column C: problem" where the parser knows the place."""
    place, problem = _located(error)
    return f"{place}: {problem}" if place else problem


def _located(error: yaml.YAMLError) -> tuple[str, str]:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        problem = " ".join(filter(None, [error.context, error.problem]))
        return (f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""), problem
    return "", " ".join(str(error).split())
