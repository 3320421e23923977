"""The bad-input battery (tests/bad_inputs/*.yaml, described in its README): every case is a clear error, exit
status 2, no traceback, a message naming what the case says, nothing half-written, no training started."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import resource
import shutil
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from auxlearn.cli import main
from auxlearn.folder_lock import folder_lock
from conftest import experiment_dict, write_yaml

CASES_DIR = Path(__file__).parent / "bad_inputs"
TICKETS = "text,label\n" + "".join(f"ticket number {i} about {'money' if i % 2 else 'a crash'},"
                                   f"{'billing' if i % 2 else 'tech'}\n" for i in range(40))
ROWS = [(f"ticket {i}", "billing" if i % 2 else "tech") for i in range(40)]
CSV = "text,label\n" + "".join(f"{text},{label}\n" for text, label in ROWS)
BASES = {  # the standard files a case's file can start from (README.md)
    "tickets.csv": CSV,
    "numbers.csv": CSV.replace("billing", "1.5").replace("tech", "2"),
    "tickets.jsonl": "".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in ROWS),
    "tagging.jsonl": (json.dumps({"tokens": ["the", "cat", "sat"], "tags": ["O", "B-X", "O"]}) + "\n") * 30,
}
TASK = {"name": "tickets", "type": "classification", "files": {"train": "train.csv", "eval": "eval.csv"},
        "text_fields": ["text"], "label_field": "label"}


def _cases() -> list[Any]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            marks = [pytest.mark.data] if case.get("data") else []
            cases.append(pytest.param(case, id=f"{path.stem}:{case['id']}", marks=marks))
    return cases


CASES = _cases()


def _merge(base: dict, changes: dict) -> dict:
    """``changes`` merged into ``base``, mappings key by key; a ``None`` value drops the key."""
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, tiny_model_dir, tokenizer) -> Path:
    """A model folder of the tickets task as `train` saves it, made without training (the heads are fresh)."""
    from auxlearn.models.encoder import load_encoder
    from auxlearn.models.multitask import MultiTaskModel
    from auxlearn.tasks.user import load_task_file

    folder = tmp_path_factory.mktemp("saved-model")
    (folder / "train.csv").write_text(TICKETS)
    (folder / "eval.csv").write_text(TICKETS)
    specs = load_task_file(write_yaml(folder / "tasks.yaml", {"tasks": [{**TASK, "label_names": ["billing",
                                                                                                  "tech"]}]}))
    model = MultiTaskModel(load_encoder(tiny_model_dir), specs, pooling="mean")
    meta = {"data": {"dev_size": 8, "split_seed": 0, "max_length": {"tickets": 64}}, "precision": "fp32"}
    return model.save(folder / "model", tokenizer, meta)


@pytest.fixture(scope="module")
def saved_poly_model(tmp_path_factory, tiny_model_dir, tokenizer, saved_model) -> Path:
    """The same model under MHR adapters (2 skills, 2 splits): a folder in PEFT's format with the heads."""
    from auxlearn.adapters import build_adapter
    from auxlearn.models.multitask import MultiTaskModel

    plain, _, meta = MultiTaskModel.load(saved_model)
    adapter = build_adapter("poly", {"n_skills": 2, "n_splits": 2}, list(plain.specs))
    model = MultiTaskModel(adapter.build(tiny_model_dir), plain.specs, pooling="mean", adapter=adapter)
    return model.save(tmp_path_factory.mktemp("saved-poly") / "model", tokenizer,
                      {k: meta[k] for k in ("data", "precision")})


def _fill(value: Any, places: dict[str, str]) -> Any:
    """``{dir}``, ``{out}`` ... replaced by their paths; other braces (JSON) stay."""
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: places.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, places) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, places) for k, v in value.items()}
    return value


def _places(folder: Path, tiny_model_dir: str) -> dict[str, str]:
    return {"dir": str(folder), "config": str(folder / "exp.yaml"), "out": str(folder / "out"),
            "model": tiny_model_dir, "model_dir": str(folder / "model"), "run": str(folder / "run"),
            "pid": str(os.getpid())}


def _set_up(case: dict, folder: Path, tiny_model_dir: str, saved_models: dict[str, Path]) -> list[str]:
    """Write the case's files into ``folder``; return its command line."""
    places = _places(folder, tiny_model_dir)
    (folder / "train.csv").write_text(TICKETS)
    (folder / "eval.csv").write_text(TICKETS)
    if "tasks_text" in case:
        (folder / "tasks.yaml").write_text(_fill(case["tasks_text"], places))
    else:
        write_yaml(folder / "tasks.yaml", {"tasks": [_merge(TASK, _fill(case.get("task", {}), places)),
                                                     {**TASK, "name": "notes"}]})
    if "config_text" in case:
        (folder / "exp.yaml").write_text(_fill(case["config_text"], places))
    else:
        base = experiment_dict(tiny_model_dir, primary="tickets", task_files=["tasks.yaml"],
                               data={"max_train_examples": None, "dev_size": 8},
                               train={"steps": 4, "eval_every": 2})
        write_yaml(folder / "exp.yaml", _merge(base, _fill(case.get("config", {}), places)))
    if "model" in case:
        shutil.copytree(saved_models[case["model"].get("kind", "full")], folder / "model")
        for name in case["model"].get("delete", []):
            (folder / "model" / name).unlink()
        for name, text in case["model"].get("write", {}).items():
            (folder / "model" / name).write_text(_fill(text, places))
    for name, text in {**{f"run/{k}": v for k, v in case.get("run", {}).items()}, **case.get("files", {})}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        encoding = text.get("encoding", "utf-8") if isinstance(text, dict) else "utf-8"
        path.write_bytes(_fill(_content(text), places).encode(encoding))
    return _fill(case.get("argv", ["train", "{config}", "--out", "{out}"]), places)


def _content(spec: Any) -> str:
    """A file's text: as given, ``{text}``, ``{repeat, text}``, or ``{base, line | insert, text}`` (a standard file
    with that 1-based line replaced, or the line inserted there); ``encoding`` (of any mapping) writes it so."""
    if not isinstance(spec, dict):
        return spec
    if "repeat" in spec:
        return spec["text"] * spec["repeat"]
    if "base" not in spec:
        return spec["text"]
    lines = BASES[spec["base"]].splitlines()
    if "line" in spec:
        lines[spec["line"] - 1] = spec["text"]
    if "insert" in spec:
        lines.insert(spec["insert"] - 1, spec["text"])
    return "\n".join(lines) + "\n"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else (0, 0)
            for p in folder.rglob("*")}


class _Faults:
    """File-system faults the CLI must report with the file and its cause, simulated for paths under ``root``."""

    def __init__(self, kind: str, root: Path, monkeypatch):
        self.kind, self.root, self.patch = kind, root, monkeypatch

    def __enter__(self):
        if self.kind == "fsize":
            self.limit = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, self.limit[1]))
        elif self.kind == "readonly":
            self._refuse(tempfile, "mkstemp", "dir", errno.EACCES)
            self._refuse(tempfile, "mkdtemp", "dir", errno.EACCES)
            self._refuse(os, "mkdir", 0, errno.EACCES)
        elif self.kind == "enospc":
            real = os.fdopen

            def full(fd, *args, **kwargs):
                handle = real(fd, *args, **kwargs)
                inside = Path(os.readlink(f"/proc/self/fd/{fd}")).is_relative_to(self.root)
                return _FullDisk(handle) if inside else handle

            self.patch.setattr(os, "fdopen", full)
        return self

    def _refuse(self, module, name: str, where: Any, code: int) -> None:
        real = getattr(module, name)

        def refused(*args, **kwargs):
            target = kwargs.get(where) if isinstance(where, str) else (args[where] if args else None)
            if target is not None and Path(target).resolve().is_relative_to(self.root):
                raise OSError(code, os.strerror(code), str(target))
            return real(*args, **kwargs)

        self.patch.setattr(module, name, refused)

    def __exit__(self, *exc):
        if self.kind == "fsize":
            resource.setrlimit(resource.RLIMIT_FSIZE, self.limit)
        self.patch.undo()


class _FullDisk(io.BufferedIOBase):
    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __exit__(self, *exc):
        self.handle.close()


def _run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse
            code = stop.code
    return code, err.getvalue()


@pytest.mark.parametrize("case", CASES)
def test_bad_input(case, tmp_path, tiny_model_dir, saved_model, saved_poly_model):
    argv = _set_up(case, tmp_path, tiny_model_dir, {"full": saved_model, "poly": saved_poly_model})
    (tmp_path / "ro").mkdir(exist_ok=True)
    root = tmp_path.resolve() if case.get("fault") == "enospc" else (tmp_path / "ro").resolve()
    held = _fill(case["held"], _places(tmp_path, tiny_model_dir)) if "held" in case else None
    with folder_lock(held) if held else contextlib.nullcontext():  # another process's folder, as far as flock sees
        before, trained = _snapshot(tmp_path), set(tmp_path.rglob("metrics.jsonl"))
        with _Faults(case.get("fault", ""), root, pytest.MonkeyPatch()):
            code, err = _run(argv)
        after = _snapshot(tmp_path)
    assert "Traceback" not in err, err
    assert code == case.get("status", 2), err
    for needle in _fill(case.get("expect", []), _places(tmp_path, tiny_model_dir)):
        assert needle in err, (needle, err)
    assert set(tmp_path.rglob("metrics.jsonl")) == trained, "training started"
    if code == 2:
        assert ": error: " in err and "\n" not in err.split(": error: ", 1)[1].rstrip("\n"), err  # one line
        assert after == before, "the command left files behind"
