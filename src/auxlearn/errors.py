"""One exception type for bad input: the CLI prints its message and exits non-zero, without a traceback."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

if TYPE_CHECKING:
    from pydantic import ValidationError


class AuxlearnError(Exception):
    """A problem with the user's input (config, task file, data) or a run that cannot go on."""


class NonFiniteLossError(AuxlearnError):
    """The training loss became NaN or infinite; training stopped and the last good checkpoint was kept."""

    def __init__(self, task: str, step: int, value: float):
        super().__init__(
            f"training loss of task {task!r} is {value} at step {step}; training stopped, "
            "the last good checkpoint was kept (try a lower train.lr)"
        )
        self.task, self.step, self.value = task, step, value


class DamagedFileError(AuxlearnError, ValueError):
    """A file auxlearn wrote (results, a selection, a model's tasks, heads, metadata) that is not as it wrote it:
    damaged, cut short, or another program's. A ValueError too, so that a reader that treats a damaged file as
    absent (a finished arm is trained again) still can."""


class MissingSplitError(AuxlearnError):
    """A task's source lacks a split (the offline mirror has no QNLI train, no QQP validation)."""


def format_validation_error(error: ValidationError, where: str = "",
                            note: Optional[Callable[[tuple], str]] = None) -> str:
    """pydantic's errors as one line each: the key's dotted path (after ``where``), then what was wrong, then
    ``note(location)`` if given (a composed config says which file set the key)."""
    lines = []
    for item in error.errors():
        key = ".".join([*([where] if where else []), *map(str, item["loc"])]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        if isinstance(given, (str, int, float)) and item["type"] != "extra_forbidden" and len(repr(given)) <= 40:
            message += f" (got {given!r})"  # a scalar the user wrote: show it back
        lines.append(f"{key}: {message}{note(tuple(item['loc'])) if note else ''}")
    return "; ".join(lines)
