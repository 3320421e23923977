"""Tasks: specs, their types, the built-in table, user task files, metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from auxlearn.errors import AuxlearnError
from auxlearn.tasks.builtin import builtin_tasks
from auxlearn.tasks.objective_tasks import objective_spec
from auxlearn.tasks.spec import DataSource, TaskSpec
from auxlearn.tasks.types import TASK_TYPES
from auxlearn.tasks.user import load_task_file

__all__ = ["TASK_TYPES", "DataSource", "TaskSpec", "available_tasks", "get_task", "builtin_tasks"]


def available_tasks(task_files: Iterable[str | Path] = ()) -> dict[str, TaskSpec]:
    """Built-in tasks plus the tasks of the given files. A user task takes a built-in task's name only with
    ``replaces: true`` (a name clash is more often a mistake than a wish), and no two files define one name."""
    builtin = builtin_tasks()
    tasks, origin = dict(builtin), {}
    for path in task_files:
        for name, spec in load_task_file(path).items():
            where = f"task file {path}: task {name!r}"
            if name in origin:
                raise AuxlearnError(f"{where} is also defined in task file {origin[name]}")
            if name in builtin and not spec.replaces:
                raise AuxlearnError(f"{where} takes the name of a built-in task; rename it, or add "
                                    "`replaces: true` to replace the built-in one")
            if spec.replaces and name not in builtin:
                raise AuxlearnError(f"{where} replaces: true, but there is no built-in task of that name "
                                    f"(built-in: {', '.join(sorted(builtin))})")
            tasks[name], origin[name] = spec, path
    return tasks


def get_task(name: str, tasks: dict[str, TaskSpec]) -> TaskSpec:
    """The task ``name`` names: one of ``tasks``, or an objective's (``input/transform/attention/output``)."""
    spec = tasks.get(name) or objective_spec(name, tasks)
    if spec is None:
        raise AuxlearnError(f"unknown task {name!r}; known tasks: {', '.join(sorted(tasks))} (or an objective, "
                            "input/transform/attention/output)")
    return spec
