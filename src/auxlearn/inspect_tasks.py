"""`auxlearn tasks`: which tasks exist, with the split sizes the data source actually holds."""

from __future__ import annotations

from typing import Optional

from auxlearn.data.loading import check_data_folder, default_data_dir, load_split
from auxlearn.data.task_data import dev_count
from auxlearn.errors import AuxlearnError, MissingSplitError
from auxlearn.tasks import available_tasks


def task_table(data_dir: Optional[str] = None, task_files: list[str] = ()) -> list[dict]:
    data_dir = data_dir or default_data_dir()
    if data_dir:
        check_data_folder(data_dir)
    rows = []
    for name, spec in sorted(available_tasks(task_files).items()):
        sizes, notes = {}, []
        for split in ("train", "eval"):
            try:
                sizes[split] = len(load_split(spec, split, data_dir))
            except MissingSplitError:
                sizes[split] = None
                notes.append(f"no {split} split")
            except AuxlearnError as error:
                sizes[split] = None
                notes.append(str(error))
        train = sizes["train"]
        dev = dev_count(train, None) if train else None
        rows.append({"task": name, "type": spec.type, "main_metric": "+".join(spec.main_metric) or "- (no labels)",
                     "train": None if train is None else train - dev, "dev": dev, "eval": sizes["eval"],
                     "note": "; ".join(dict.fromkeys(notes))})
    return rows
