"""Experiment config files: ``a.yaml+b.yaml`` composed as MTTL composes its configs, ``--set`` overrides, paths
resolved from the file that wrote them; ``experiment_from_dict`` validates the result.

``--set train.lr=3e-5`` overrides any key; the value is parsed as YAML (numbers, lists, mappings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml

from auxlearn.config import Experiment, experiment_from_dict
from auxlearn.errors import AuxlearnError
from auxlearn.yaml_file import load_yaml, yaml_problem


def apply_override(document: dict, assignment: str) -> None:
    """Apply one ``dotted.key=value`` to the raw config mapping."""
    if "=" not in assignment:
        raise AuxlearnError(f"--set {assignment!r}: expected key=value, e.g. train.lr=3e-5")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = document
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise AuxlearnError(f"--set {key}: {part!r} is not a mapping")
        node = child
    try:
        node[parts[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise AuxlearnError(f"--set {key}: cannot parse value {raw!r} ({yaml_problem(error)})") from None


def load_experiment(path: str | Path, overrides: tuple[str, ...] | list[str] = (),
                    data_dir: Optional[str] = None) -> Experiment:
    """The experiment of a config file, or of several joined by ``+`` (``base.yaml+mhr.yaml``, as MTTL composes
    its configs: a variant is a small file over a shared base, not a copy of it). Each file merges over the
    earlier ones (``_merge``), then the ``--set`` overrides apply; a validation error names the file or flag
    that set the bad key."""
    document, where, note = load_document(path, overrides, data_dir)
    return experiment_from_dict(document, where=where, note=note)


def load_document(path: str | Path, overrides: tuple[str, ...] | list[str] = (),
                  data_dir: Optional[str] = None) -> tuple[dict, str, Any]:
    """The composed mapping of the config files, with overrides applied and paths resolved, before validation;
    ``where`` names the files for an error, and ``note(location)`` the file or flag that set a key."""
    files = _config_files(str(path))
    origins = _Origins(several=len(files) > 1)
    document: dict = {}
    for file in files:
        if len(files) > 1 and not file.is_file():
            raise AuxlearnError(f"config file {file} not found (one of {path}, split on '+')")
        layer = load_yaml(file, "config file") or {}
        if not isinstance(layer, dict):
            raise AuxlearnError(f"config file {file}: expected a mapping at the top level")
        document = _merge(document, layer, [], file, origins)
    for assignment in overrides:
        apply_override(document, assignment)
        parts, value = assignment.split("=", 1)[0].strip().split("."), document
        for part in parts:
            value = value[part]
        origins.wrote(parts, value, "--set")
    if data_dir is not None:
        document.setdefault("data", {})["dir"] = data_dir
        origins.wrote(["data", "dir"], data_dir, "--data-dir")
    _resolve_paths(document, origins, files[0])
    return document, "config file " + "+".join(map(str, files)), origins.note


def _config_files(argument: str) -> list[Path]:
    """The files of ``a.yaml+b.yaml``, in order; a path that exists is one file, ``+`` in its name or not."""
    if "+" not in argument or Path(argument).is_file():
        return [Path(argument)]
    names = argument.split("+")
    if not all(names):
        raise AuxlearnError(f"config file {argument}: an empty file name around '+' (compose as a.yaml+b.yaml)")
    return [Path(name) for name in names]


def _merge(base: Any, layer: Any, parts: list[str], origin: Path, origins: _Origins) -> Any:
    """``layer`` over ``base``: mappings merge key by key (a file changes only the keys it writes); any other value
    (a scalar, a list, null) replaces. Builds new mappings: a YAML alias shared by two keys is not merged twice."""
    if not isinstance(layer, dict):
        origins.wrote(parts, layer, origin)
        return layer
    if parts:
        origins.by_key[".".join(parts)] = origin
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in layer.items():
        merged[key] = _merge(merged.get(key), value, [*parts, str(key)], origin, origins)
    return merged


class _Origins:
    """Which file (a Path) or flag (``--set``) last wrote each dotted key of the config, so that an error at a key
    names it: the longest written prefix of the error's location answers."""

    def __init__(self, several: bool):
        self.several, self.by_key = several, {}

    def wrote(self, parts: list[str], value: Any, origin: Any) -> None:
        """``origin`` replaced the value at ``parts``: the keys of the old value are gone, the new value's are its."""
        key = ".".join(parts)
        for old in [k for k in self.by_key if k.startswith(key + ".")]:
            del self.by_key[old]
        for n in range(1, len(parts) + 1):
            self.by_key[".".join(parts[:n])] = origin
        for child, item in (value.items() if isinstance(value, dict) else ()):
            self.wrote([*parts, str(child)], item, origin)

    def note(self, location: tuple) -> str:
        """`` (set in b.yaml)`` or `` (set by --set)``; nothing for a key of a lone file, which ``where`` names."""
        parts = [str(part) for part in location]
        keys = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
        origin = next((self.by_key[k] for k in keys if k in self.by_key), None)
        if isinstance(origin, Path):
            return f" (set in {origin})" if self.several else ""
        return f" (set by {origin})" if origin else ""


def _resolve_paths(document: dict, origins: _Origins, first: Path) -> None:
    """Relative task files and a model folder resolve from the folder of the file that wrote them, so that a file
    means the same whatever it is composed with; a ``--set`` value from the first file's, as with one file.

    Resolved once merged, from the surviving value's writer: a path a later file replaced is never looked up."""
    def writer(key: str) -> Path:
        return origins.by_key[key] if isinstance(origins.by_key.get(key), Path) else first

    if isinstance(document.get("task_files"), list):
        folder = writer("task_files").parent
        document["task_files"] = [str((folder / f).resolve()) if isinstance(f, str) else f
                                  for f in document["task_files"]]
    if isinstance(document.get("model"), str):
        document["model"] = resolve_model_path(document["model"], writer("model"))


def resolve_model_path(model: str, config_path: Path) -> str:
    """A ``model:`` folder resolves from the config file's folder, as task files do; a hub id stays as it is.

    A value that exists there, or that is written as a path (absolute, ``./``, ``../``, ``~``), is a folder;
    a written-as-path folder that does not exist is an error now, not a hub lookup later."""
    candidate = (config_path.parent / Path(model).expanduser()).resolve()
    if candidate.is_dir():
        return str(candidate)
    if model.startswith(("/", "./", "../", "~")):
        raise AuxlearnError(f"config file {config_path}: model folder {model!r} not found "
                            f"(resolved from the config file's folder to {candidate})")
    return model
