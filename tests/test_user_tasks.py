"""Tasks of the user's own files: each defect of a task file or its data is a clear error naming the file, row and
value; the same files without the defect train."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auxlearn.data.loading import load_split
from auxlearn.tasks.user import load_task_file
from cli_runs import assert_clean_failure, config, run
from conftest import write_yaml


TICKETS = "text,label\n" + "".join(f"ticket number {i} about {'money' if i % 2 else 'a crash'},"
                                   f"{'billing' if i % 2 else 'tech'}\n" for i in range(40))


def user_task(tmp_path: Path, entry: dict, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    task = {"name": "tickets", "type": "classification", "files": {"train": "train.csv", "eval": "eval.csv"},
            "text_fields": ["text"], "label_field": "label", **entry}
    task = {key: value for key, value in task.items() if value is not None}  # None drops a key
    return write_yaml(tmp_path / "tasks.yaml", {"tasks": [task]})


def with_row(text: str, row: int, line: str) -> str:
    """``text`` (a csv) with data row ``row`` (0-based, after the header) replaced by ``line``.

    Messages count rows from 1, so a defect put at 0-based row 7 is reported as row 8."""
    lines = text.splitlines()
    lines[row + 1] = line
    return "\n".join(lines) + "\n"


BAD_USER_TASKS = {
    "unknown metric": ({"metrics": ["accuracy", "acc"]}, {}, ["tickets", "'acc'", "known metrics", "macro_f1"]),
    "missing file": ({"files": {"train": "nothere.csv", "eval": "eval.csv"}}, {},
                     ["tickets", "nothere.csv", "not found"]),
    "missing column": ({"text_fields": ["subject"]}, {}, ["tickets", "'subject'", "train.csv", "not found"]),
    "label outside the label set": ({"label_names": ["billing", "tech"]},
                                    {"train.csv": with_row(TICKETS, 7, "ticket seven,sales")},
                                    ["tickets", "row 8", "'sales'", "billing, tech"]),
    "label outside the label set in eval": ({"label_names": ["billing", "tech"]},
                                            {"eval.csv": with_row(TICKETS, 3, "ticket three,refunds")},
                                            ["tickets", "eval split", "row 4", "'refunds'"]),
    "empty split": ({}, {"train.csv": "text,label\n"}, ["tickets", "train split is empty", "train.csv"]),
    "empty eval split": ({}, {"eval.csv": "text,label\n"}, ["tickets", "eval split is empty", "eval.csv"]),
    "non-numeric regression label": ({"type": "regression"},
                                     {"train.csv": with_row(TICKETS.replace("billing", "1.5").replace("tech", "2"),
                                                            4, "ticket four,high")},
                                     ["tickets", "row 5", "'high'", "not a finite number"]),
    "missing type": ({"type": None}, {}, ["tasks.yaml", "tasks[0]", "missing key 'type'", "regression"]),
}


@pytest.mark.parametrize("case", list(BAD_USER_TASKS))
def test_bad_user_task_gives_a_clear_message(tmp_path, tiny_model_dir, case):
    entry, files, needles = BAD_USER_TASKS[case]
    files = {"train.csv": TICKETS, "eval.csv": TICKETS, **files}
    if entry.get("type") == "regression":
        files["eval.csv"] = TICKETS.replace("billing", "1.5").replace("tech", "2")
    tasks = user_task(tmp_path, entry, files)
    path = config(tmp_path, tiny_model_dir, primary="tickets", task_files=[str(tasks)],
                  data={"max_train_examples": None, "dev_size": 8})
    code, _, err = run("train", path, "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", *needles)


def test_a_good_user_task_trains(tmp_path, tiny_model_dir):
    """The bad cases above fail for their one defect: the same files without it train."""
    tasks = user_task(tmp_path, {}, {"train.csv": TICKETS, "eval.csv": TICKETS})
    path = config(tmp_path, tiny_model_dir, primary="tickets", task_files=["tasks.yaml"],
                  data={"max_train_examples": None, "dev_size": 8}, train={"steps": 4, "eval_every": 2})
    assert tasks.parent == path.parent  # task_files are relative to the config file
    code, _, err = run("train", path, "--out", tmp_path / "out")
    assert code == 0, err
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results["eval"]["tickets"]) == {"accuracy", "macro_f1", "main"}
    specs = json.loads((tmp_path / "out" / "model" / "tasks.json").read_text())
    assert specs["tickets"]["label_names"] == ["billing", "tech"]  # inferred from train, sorted


@pytest.mark.parametrize("suffix, sep", [(".csv", ","), (".tsv", "\t")])
def test_csv_and_tsv_keep_na_like_strings(tmp_path, suffix, sep):
    """pandas would read "NA", "null" and "None" as missing; in a label or text column they are strings."""
    text = "text,label\nnull,NA\nNone,tech\nfine,NA\n".replace(",", sep)
    tasks = user_task(tmp_path, {"files": {"train": "train" + suffix, "eval": "train" + suffix}},
                      {"train" + suffix: text})
    rows = load_split(load_task_file(tasks)["tickets"], "train", None)
    assert list(rows["label"]) == ["NA", "tech", "NA"]
    assert list(rows["text"]) == ["null", "None", "fine"]


def _encoded_labels(tmp_path: Path, tokenizer, entry: dict, files: dict[str, str]) -> tuple[list[str], dict]:
    """The task's label names and, per train and dev example id (its row), the class name it was encoded as."""
    from auxlearn.data.task_data import build_task_data

    spec = load_task_file(user_task(tmp_path, entry, files))["tickets"]
    data = build_task_data(spec, tokenizer, data_dir=None, max_length=16, dev_size=2)
    names = data.spec.label_names
    rows = {int(i): names[label] for split in (data.train, data.dev)
            for i, label in zip(split.example_ids, split.labels)}
    return names, rows


@pytest.mark.parametrize("label_names", [None, ["true", "false"]])
def test_json_true_and_false_are_the_classes_true_and_false(tmp_path, tokenizer, label_names):
    """Inferred or named, a JSON bool is the class its spelling says, in training as in label inference."""
    lines = "".join(json.dumps({"text": f"row {i}", "label": i % 3 == 0}) + "\n" for i in range(12))
    names, rows = _encoded_labels(tmp_path, tokenizer, {"label_names": label_names,
                                                        "files": {"train": "train.jsonl", "eval": "train.jsonl"}},
                                  {"train.jsonl": lines})
    assert names == (label_names or ["false", "true"])
    assert rows == {i: "true" if i % 3 == 0 else "false" for i in range(12)}


def test_a_class_that_is_the_empty_string_is_declared_in_label_names(tmp_path, tokenizer):
    text = with_row(with_row(TICKETS, 3, "ticket three,"), 5, "ticket five,")
    names, rows = _encoded_labels(tmp_path, tokenizer, {"label_names": ["", "billing", "tech"]},
                                  {"train.csv": text, "eval.csv": TICKETS})
    assert rows[3] == rows[5] == "" and rows[4] == "tech" and names == ["", "billing", "tech"]


def test_invalid_utf8_replace_reads_the_bad_bytes_and_counts_the_lines(tmp_path, capsys):
    (tmp_path / "train.csv").write_bytes(TICKETS.encode() + "caf\xe9,tech\nna\xefve,billing\n".encode("latin-1"))
    spec = load_task_file(user_task(tmp_path, {"invalid_utf8": "replace"}, {}))["tickets"]
    rows = load_split(spec, "train", None)
    assert list(rows["text"])[-2:] == ["caf\ufffd", "na\ufffdve"] and len(rows) == 42
    assert "train.csv: 2 line(s) are not valid UTF-8 (line 42, 43)" in capsys.readouterr().err
