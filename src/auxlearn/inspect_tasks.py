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


def format_task_table(rows: list[dict]) -> str:
    """The rows of ``task_table`` as `auxlearn tasks` prints them, one task a line under a header."""
    def n(value: Optional[int]) -> str:
        return "-" if value is None else str(value)

    lines = [f"{'task':<18}{'type':<16}{'main metric':<24}{'train':>9}{'dev':>7}{'eval':>8}  note"]
    lines += [f"{row['task']:<18}{row['type']:<16}{row['main_metric']:<24}{n(row['train']):>9}{n(row['dev']):>7}"
              f"{n(row['eval']):>8}  {row['note']}" for row in rows]
    return "\n".join(lines)
