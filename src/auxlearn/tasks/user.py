"""User tasks from a YAML file: local csv / tsv / jsonl / parquet files or a hub dataset.

```yaml
tasks:
  - name: tickets
    type: classification          # classification | regression | tagging | masked_lm
    files: {train: tickets/train.csv, eval: tickets/dev.csv}   # relative to this file
    text_fields: [subject, body]  # one text or a pair
    label_field: queue
    label_names: [billing, tech]  # optional: inferred (sorted) from train when omitted
    metrics: [macro_f1, accuracy] # optional: the type's default metrics
    main_metric: macro_f1         # optional: the first metric
    direction: maximize           # optional: from the metric
    replaces: false               # true: this task takes a built-in task's name on purpose (else an error)
    invalid_utf8: error           # replace: read bytes that are not UTF-8 as U+FFFD, counting the lines (else an error)
  - name: imdb
    type: classification
    path: stanfordnlp/imdb        # a hub dataset id (and `config`), or a folder in the hub's layout
    splits: {train: train, eval: test}
    text_fields: [text]
    label_field: label
  - name: papers
    type: masked_lm               # text without labels, for denoising objectives (AANG); no label_field, no metrics
    files: {train: papers.txt}    # one text per line (its column is "text"), or jsonl / parquet / csv
    text_fields: [text]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from auxlearn.errors import AuxlearnError, format_validation_error
from auxlearn.tasks.spec import DataSource, TaskSpec, default_direction
from auxlearn.tasks.types import TASK_TYPES
from auxlearn.yaml_file import load_yaml

_SOURCE_KEYS = ("path", "config", "files", "splits", "invalid_utf8")


def load_task_file(path: str | Path) -> dict[str, TaskSpec]:
    path = Path(path)
    document = load_yaml(path, "task file")
    if not isinstance(document, dict) or not isinstance(document.get("tasks"), list):
        raise AuxlearnError(f"task file {path}: expected a mapping with a list under 'tasks'")
    specs = {}
    for index, entry in enumerate(document["tasks"]):
        where = f"task file {path}, tasks[{index}]"
        if not isinstance(entry, dict):
            raise AuxlearnError(f"{where}: expected a mapping, got {type(entry).__name__}")
        spec = _spec_from_entry(dict(entry), path.parent, where)
        if spec.name in specs:
            raise AuxlearnError(f"{where}: task {spec.name!r} is defined twice")
        specs[spec.name] = spec
    return specs


def _spec_from_entry(entry: dict[str, Any], base: Path, where: str) -> TaskSpec:
    source = {key: entry.pop(key) for key in _SOURCE_KEYS if key in entry}
    if isinstance(source.get("files"), dict):
        source["files"] = {split: str((base / file).resolve()) for split, file in source["files"].items()}
    if "type" not in entry:
        raise AuxlearnError(f"{where}: missing key 'type' (one of {', '.join(TASK_TYPES)})")
    if entry["type"] in TASK_TYPES:
        entry.setdefault("metrics", list(TASK_TYPES[entry["type"]].default_metrics))
    main = entry.get("main_metric", entry.get("metrics", [])[:1])
    entry["main_metric"] = [main] if isinstance(main, str) else main
    entry.setdefault("direction", default_direction(entry["main_metric"]))
    if isinstance(entry.get("text_fields"), str):
        entry["text_fields"] = [entry["text_fields"]]
    try:
        return TaskSpec(source=DataSource(**source), **entry)
    except ValidationError as error:
        raise AuxlearnError(f"{where}: {format_validation_error(error)}") from None
