"""The shape every plug-in family shares (selectors, mixers, task samplers).

A family is a registry ``{name: class}``; each class declares its ``Options``, a pydantic model whose field
descriptions are its documentation, and its constructor takes the validated options. The config validates a
method's options when it loads (``options_of``), before any data work; ``build`` makes the method.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable, Mapping, Optional

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from auxlearn.errors import AuxlearnError, format_validation_error


class MethodOptions(BaseModel):
    """Base of every method's ``Options``: unknown keys are errors, and the options never change once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Plugin:
    """A named method made from its validated options (runtime values, such as a sampler's tasks, come apart)."""

    name: ClassVar[str]
    Options: ClassVar[type[MethodOptions]] = MethodOptions

    def __init__(self, options: Optional[MethodOptions] = None):
        if options is not None and not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} takes {self.Options.__qualname__}, got {type(options).__name__}")
        self.options = self.Options() if options is None else options


def invalid(message: str) -> PydanticCustomError:
    """An option error whose message is shown as it is (pydantic would prefix a ValueError's with "Value error")."""
    return PydanticCustomError("invalid_option", message)


def invalid_at(key: str, message: str) -> ValidationError:
    """An error located at option ``key``, for a rule over several options (raised in a model validator)."""
    return _error([((key,), message, None)])


def options_of(registry: Mapping[str, type[Plugin]], name: str, options: Mapping[str, Any]) -> MethodOptions:
    """``registry[name].Options`` validated from ``options``.

    Raises a ``ValidationError`` located at each bad option's key (an unknown option lists the allowed ones; an
    unknown method has the empty location), so that inside a config model it reads ``select.top_k: ...``.
    """
    if name not in registry:
        raise _error([((), f"unknown method {name!r}; known: {', '.join(sorted(registry))}", name)])
    allowed = ", ".join(registry[name].Options.model_fields) or "none"
    try:
        return registry[name].Options.model_validate(dict(options))
    except ValidationError as error:
        raise _error([(e["loc"], f"unknown option of {name!r}; allowed: {allowed}"
                       if e["type"] == "extra_forbidden" else e["msg"], e["input"]) for e in error.errors()]) from None


def build(registry: Mapping[str, type[Plugin]], name: str, options: Mapping[str, Any], where: str, *args: Any,
          **runtime: Any) -> Any:
    """``registry[name](*args, options=..., **runtime)``; bad options, and runtime values the method refuses
    (``ValueError``), are ``AuxlearnError``s naming ``where``, the method's config path."""
    try:
        validated = options_of(registry, name, options)
    except ValidationError as error:
        raise AuxlearnError(format_validation_error(error, where)) from None
    try:
        return registry[name](*args, options=validated, **runtime)
    except ValueError as error:
        raise AuxlearnError(f"{where} ({name}): {error}") from None


def _error(problems: Iterable[tuple[tuple, str, Any]]) -> ValidationError:
    return ValidationError.from_exception_data("options", [
        InitErrorDetails(type=invalid(message), loc=tuple(loc), input=value)
        for loc, message, value in problems])
