"""Use a saved model: score it on a task's dev or eval split, or predict a JSONL file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import datasets

from auxlearn.data.encode import encode_split
from auxlearn.data.loading import check_data_folder, default_data_dir
from auxlearn.data.read_errors import check_utf8, json_objects
from auxlearn.data.task_data import build_task_data
from auxlearn.errors import AuxlearnError
from auxlearn.io import write_text_atomic
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks.spec import InvalidUtf8
from auxlearn.train.device import pick_device, resolve_precision
from auxlearn.tasks.types.base import as_text
from auxlearn.train.evaluation import Inference, evaluate, predict


def _load(model_dir: str | Path):
    """The model on this machine's device, and how to run it: in the precision it was trained in (models saved
    before precision was recorded trained in fp32), falling back to fp32 where this device lacks bfloat16."""
    if not Path(model_dir).is_dir():
        raise AuxlearnError(f"model folder {model_dir} not found")
    model, tokenizer, meta = MultiTaskModel.load(model_dir)
    device = pick_device("auto")
    how = Inference.for_device(device, tokenizer.pad_token_id, resolve_precision(meta.get("precision", "fp32"), device))
    return model.to(device), tokenizer, meta, how


def _check_task(model: MultiTaskModel, task: str) -> None:
    if task not in model.specs:
        raise AuxlearnError(f"the model has no head for task {task!r}; its tasks: {', '.join(model.specs)}")
    if not model.specs[task].task_type.labelled:
        raise AuxlearnError(f"task {task!r} is a {model.specs[task].type} task: it trained the model, and has no "
                            "labels to score or predict")


def evaluate_model(model_dir: str | Path, *, task: Optional[str] = None, split: str = "eval",
                   data_dir: Optional[str] = None) -> dict[str, dict[str, float]]:
    """Metrics per task; without ``task``, every task of the model whose split exists."""
    if data_dir:
        check_data_folder(data_dir)
    model, tokenizer, meta, how = _load(model_dir)
    if task is not None:
        _check_task(model, task)
    data_meta = meta.get("data", {})
    scores = {}
    for name in [task] if task else [n for n, spec in model.specs.items() if spec.task_type.labelled]:
        data = build_task_data(model.specs[name], tokenizer, data_dir=data_dir or default_data_dir(),
                               max_length=data_meta.get("max_length", {}).get(name, model.specs[name].max_length),
                               dev_size=data_meta.get("dev_size"), split_seed=data_meta.get("split_seed", 0),
                               need_eval=task is not None and split == "eval", pair_encoding=model.pair_encoding)
        if split == "eval" and data.eval is None:
            continue
        scores[name] = evaluate(model, name, data.split(split), how)
    return scores


def predict_file(model_dir: str | Path, *, task: str, input_path: str | Path,
                 output_path: Optional[str | Path] = None, invalid_utf8: InvalidUtf8 = "error") -> int:
    """Predict every line of a JSONL file; each output line is the input plus ``prediction``. Input lines that are
    not valid UTF-8 are an error, or with ``invalid_utf8="replace"`` read with U+FFFD for their bad bytes (their
    count is printed on stderr)."""
    model, tokenizer, meta, how = _load(model_dir)
    _check_task(model, task)
    spec = model.specs[task]
    max_length = meta.get("data", {}).get("max_length", {}).get(task, spec.max_length)  # as in training
    numbers, records = _read_jsonl(Path(input_path), spec.text_fields, invalid_utf8)
    texts = [[r[f] for r in records] for f in spec.text_fields]
    spec.task_type.check_rows(spec, texts, None, [n - 1 for n in numbers], f"{input_path} (row = line)")
    # Numbers among strings are texts too; the column must be of one type for Arrow.
    rows = datasets.Dataset.from_dict({f: [v if isinstance(v, list) else as_text(v) for v in column]
                                       for f, column in zip(spec.text_fields, texts)})
    split = encode_split(spec, rows, tokenizer, max_length, source=str(input_path), labelled=False,
                         pair_encoding=model.pair_encoding, cache=False)
    predictions = predict(model, task, split, how)
    lines = [json.dumps({**record, "prediction": spec.task_type.readable(spec, p)})
             for record, p in zip(records, predictions)]
    text = "\n".join(lines) + "\n"
    if output_path:
        write_text_atomic(output_path, text)
    else:
        sys.stdout.write(text)
    return len(lines)


def _read_jsonl(path: Path, fields: list[str], invalid_utf8: InvalidUtf8) -> tuple[list[int], list[dict]]:
    """The line numbers and records of the input file's non-blank lines."""
    if not path.is_file():
        raise AuxlearnError(f"input file {path} not found")
    check_utf8(path, invalid_utf8, "", "pass --invalid-utf8 replace to read the bad bytes as U+FFFD")
    numbers, records = [], []
    try:
        for number, record in json_objects(path):
            missing = [f for f in fields if f not in record]
            if missing:
                raise AuxlearnError(f"{path}, line {number}: field(s) {', '.join(missing)} missing "
                                    f"(the task reads {', '.join(fields)})")
            numbers.append(number)
            records.append(record)
    except ValueError as error:
        raise AuxlearnError(f"{path}, {error}") from None
    if not records:
        raise AuxlearnError(f"{path}: no input lines")
    return numbers, records
