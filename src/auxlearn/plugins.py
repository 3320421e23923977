"""Build a plug-in (sampler, selector, mixer) by name from a registry, checking its options by signature."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

from auxlearn.errors import AuxlearnError


def instantiate(registry: Mapping[str, type], name: str, options: Mapping[str, Any], where: str,
                **fixed: Any) -> Any:
    """``registry[name](**fixed, **options)``; unknown names and options are errors listing what is allowed.

    ``where`` is the config path of the plug-in (``train.sampler``, ``select``), used in messages.
    """
    if name not in registry:
        raise AuxlearnError(f"{where}: unknown method {name!r}; known: {', '.join(sorted(registry))}")
    cls = registry[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self" and p not in fixed]
    for key in options:
        if key not in allowed:
            raise AuxlearnError(f"{where}.{key}: unknown option of {name!r}; allowed: {', '.join(allowed) or 'none'}")
    try:
        return cls(**fixed, **options)
    except (TypeError, ValueError) as error:
        raise AuxlearnError(f"{where} ({name}): {error}") from None
