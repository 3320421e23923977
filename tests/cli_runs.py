"""The command line run in-process for the tests: its exit code and output, and what a clean failure looks like."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from auxlearn.cli import main
from conftest import experiment_dict, write_yaml


def run(*argv) -> tuple[int, str, str]:
    """``auxlearn ARGV`` in-process: exit code, stdout, stderr. An uncaught exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(err: str, *needles: str) -> None:
    """``err`` is one error line, no stack, with each of ``needles`` in it."""
    assert "Traceback" not in err, err
    assert err.startswith("auxlearn: error: ") and err.count("\n") == 1, err  # one line, no stack
    for needle in needles:
        assert needle in err, (needle, err)


def assert_clean_failure(code: int, err: str, out_dir: Path, *needles: str) -> None:
    assert code != 0
    assert_one_line_error(err, *needles)
    assert not out_dir.exists(), sorted(p.name for p in out_dir.iterdir())  # nothing (half-)written


def config(tmp_path: Path, model_dir: str, **sections) -> Path:
    return write_yaml(tmp_path / "exp.yaml", experiment_dict(model_dir, **sections))


TICKETS = "text,label\n" + "".join(
    f"ticket {i} about {'money' if i % 2 else 'a crash'},{'billing' if i % 2 else 'tech'}\n" for i in range(40))


def tickets_config(folder: Path, model: str, sections: dict | None = None, **train) -> Path:
    """A 10-step experiment on a user task of 40 rows, ``tickets`` (the tiny BERT: a 4 MB model, 12 MB
    checkpoints); ``notes``, a copy, can be its auxiliary task."""
    (folder / "tickets.csv").write_text(TICKETS)
    task = {"name": "tickets", "type": "classification", "files": {"train": "tickets.csv", "eval": "tickets.csv"},
            "text_fields": ["text"], "label_field": "label"}
    write_yaml(folder / "tasks.yaml", {"tasks": [task, {**task, "name": "notes"}]})
    return write_yaml(folder / "exp.yaml", experiment_dict(
        model, primary="tickets", task_files=["tasks.yaml"], data={"max_train_examples": None, "dev_size": 8},
        train={"steps": 10, "eval_every": 5, **train}, **(sections or {})))
