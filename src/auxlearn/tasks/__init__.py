"""Tasks: specs, their types, the built-in table, user task files, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from auxlearn.errors import AuxlearnError
from auxlearn.tasks.builtin import builtin_tasks
from auxlearn.tasks.spec import DataSource, TaskSpec
from auxlearn.tasks.types import TASK_TYPES
from auxlearn.tasks.user import load_task_file

__all__ = ["TASK_TYPES", "DataSource", "TaskSpec", "available_tasks", "get_task", "builtin_tasks"]


def available_tasks(task_files: Iterable[str | Path] = ()) -> dict[str, TaskSpec]:
    """Built-in tasks plus the tasks of the given files (a user task may replace a built-in one)."""
    tasks = builtin_tasks()
    for path in task_files:
        tasks.update(load_task_file(path))
    return tasks


def get_task(name: str, tasks: dict[str, TaskSpec]) -> TaskSpec:
    if name not in tasks:
        raise AuxlearnError(f"unknown task {name!r}; known tasks: {', '.join(sorted(tasks))}")
    return tasks[name]
