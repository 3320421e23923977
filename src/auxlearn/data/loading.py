"""Raw rows of a task's split through Hugging Face `datasets`: one code path for the hub and the offline mirror.

Offline, a task's ``source.local`` folder under the data dir (``AUXLEARN_DATA_DIR`` or ``--data-dir``)
holds the hub's own layout, so ``load_dataset(folder, config)`` reads it exactly as it would read
``load_dataset(hub_id, config)`` online. User tasks name local files, read by the matching builder.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional

import datasets

from auxlearn.data.read_errors import check_utf8, read_problem
from auxlearn.errors import AuxlearnError, MissingSplitError
from auxlearn.io import writing
from auxlearn.os_faults import os_error_of
from auxlearn.tasks.spec import TaskSpec

# keep_default_na=False: a label or text "NA" / "null" / "None" stays a string instead of becoming a missing value.
_CSV = {"keep_default_na": False}
_FILE_BUILDERS = {".csv": ("csv", _CSV), ".tsv": ("csv", {**_CSV, "delimiter": "\t"}), ".jsonl": ("json", {}),
                  ".json": ("json", {}), ".parquet": ("parquet", {}),
                  ".txt": ("text", {})}  # one text per line, in a column named "text"
# Reading bad bytes as U+FFFD (invalid_utf8: replace). The json builder decodes only for an encoding other than
# "utf-8" (pyarrow reads UTF-8 bytes itself), so it is named by its alias.
_REPLACING = {"csv": {"encoding_errors": "replace"}, "text": {"encoding_errors": "replace"},
              "json": {"encoding": "utf_8", "encoding_errors": "replace"}}


def default_data_dir() -> Optional[str]:
    return os.environ.get("AUXLEARN_DATA_DIR") or None


def describe_source(spec: TaskSpec, data_dir: Optional[str]) -> str:
    src = spec.source
    if src.files:
        return ", ".join(f"{split}: {path}" for split, path in src.files.items())
    location = _local_folder(spec, data_dir) or src.path
    return f"{location}" + (f" (config {src.config})" if src.config else "")


def _local_folder(spec: TaskSpec, data_dir: Optional[str]) -> Optional[str]:
    if data_dir and spec.source.local:
        folder = Path(data_dir) / spec.source.local
        if folder.is_dir():
            return str(folder.resolve())
    return None


def check_data_folder(data_dir: str) -> None:
    """A data folder that is named (data.dir, --data-dir, AUXLEARN_DATA_DIR) must be one."""
    folder, told = Path(data_dir), "data.dir, --data-dir or AUXLEARN_DATA_DIR"
    if not folder.exists():
        raise AuxlearnError(f"data folder {folder} ({told}) not found")
    if not folder.is_dir():
        raise AuxlearnError(f"data folder {folder} ({told}) is not a folder")


def _check_data_dir(spec: TaskSpec, data_dir: str) -> None:
    """Offline, a task the data dir lacks is an error naming the folder, not a hub lookup that fails with a
    message about the hub."""
    check_data_folder(data_dir)
    folder = Path(data_dir)
    raise AuxlearnError(f"task {spec.name!r}: data folder {folder} has no {spec.source.local!r} folder (the offline "
                        f"mirror holds {spec.source.local}/ in the hub's layout); "
                        f"it holds: {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")


def load_split(spec: TaskSpec, split: str, data_dir: Optional[str]) -> datasets.Dataset:
    """The rows of ``split`` (train / eval / test) of a task, or an AuxlearnError saying what is missing."""
    src = spec.source
    if src.files:
        if split not in src.files:
            raise MissingSplitError(f"task {spec.name!r}: no '{split}' file given (files: {', '.join(src.files)})")
        return _load_file(spec, split, src.files[split])
    dataset_split = src.splits.get(split)
    if dataset_split is None:
        raise MissingSplitError(f"task {spec.name!r}: no '{split}' split is mapped in source.splits")
    location = _local_folder(spec, data_dir)
    if location is None and data_dir and src.local and (src.path is None or datasets.config.HF_HUB_OFFLINE):
        _check_data_dir(spec, data_dir)  # online, a task the mirror lacks comes from the hub instead
    if location is None:
        if src.path is None:
            where = f"{data_dir}/{src.local}" if data_dir else "AUXLEARN_DATA_DIR (unset)"
            raise AuxlearnError(
                f"task {spec.name!r} is only available from the offline mirror, and {where} was not found; "
                "set AUXLEARN_DATA_DIR or --data-dir to the mirror's folder"
            )
        location = src.path
    available = _split_names(location, src.config)
    if dataset_split not in available:
        raise MissingSplitError(
            f"task {spec.name!r}: split '{dataset_split}' (auxlearn's '{split}') is missing from {location}"
            f"{' config ' + src.config if src.config else ''}; available splits: {', '.join(available) or 'none'}"
        )
    return _load_dataset(location, src.config)[dataset_split]


@lru_cache(maxsize=64)
def _load_dataset(location: str, config: Optional[str]) -> datasets.DatasetDict:
    try:
        return datasets.load_dataset(location, config)
    except Exception as error:  # the hub client raises many types; all mean "cannot read this source"
        _check_cache_fault(error, location)
        raise AuxlearnError(f"cannot load dataset {location} (config {config}): {error}") from None


def _split_names(location: str, config: Optional[str]) -> list[str]:
    return list(_load_dataset(location, config).keys())


def _load_file(spec: TaskSpec, split: str, path: str) -> datasets.Dataset:
    file = Path(path)
    if not file.is_file():
        raise AuxlearnError(f"task {spec.name!r}: {split} file {file} not found")
    suffix = file.suffix.lower()
    if suffix not in _FILE_BUILDERS:
        raise AuxlearnError(
            f"task {spec.name!r}: {file} has an unsupported extension; expected one of {', '.join(_FILE_BUILDERS)}"
        )
    builder, options = _FILE_BUILDERS[suffix]
    if file.stat().st_size == 0:
        raise AuxlearnError(f"task {spec.name!r}: the {split} split is empty ({file} has no rows)")
    if builder != "parquet":
        check_utf8(file, spec.source.invalid_utf8, f"task {spec.name!r}: ",
                   "set invalid_utf8: replace on the task in its task file to read the bad bytes as U+FFFD")
        if spec.source.invalid_utf8 == "replace":
            options = {**options, **_REPLACING[builder]}
    try:
        return datasets.load_dataset(builder, data_files={split: str(file)}, split=split, **options)
    except Exception as error:  # parser errors come from pyarrow / pandas with many types
        _check_cache_fault(error, str(file))
        if "corresponds to no data" in str(error):  # how `datasets` reports a file without rows
            raise AuxlearnError(f"task {spec.name!r}: the {split} split is empty ({file} has no rows)") from None
        raise AuxlearnError(f"task {spec.name!r}: cannot read {file}: {read_problem(file, error)}") from None


def _check_cache_fault(error: Exception, source: str) -> None:
    """A full disk, a file-size limit or a read-only folder while `datasets` writes its cache of ``source`` is a
    fault of that cache, said as such, not a file that cannot be read."""
    fault = os_error_of(error)
    if fault is not None and fault.errno in (errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT):
        cache = Path(fault.filename) if fault.filename else Path(datasets.config.HF_DATASETS_CACHE)
        with writing(cache, f" (the datasets cache, HF_DATASETS_CACHE, while reading {source})"):
            raise fault
