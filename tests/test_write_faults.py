"""File-system faults made for real while saving (issue 32): a tmpfs of a few MB that fills or turns read-only mid-run,
and the process's file-size limit (``RLIMIT_FSIZE``) in a child process. Every command ends with one line naming the
path and the cause (exit 2, no traceback), the previous model or checkpoint stays whole, the failing write's
temporary is removed, and a re-run into the folder finishes with no temporary left."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import auxlearn.io as io_module
import auxlearn.train.trainer as trainer_module
from cli_runs import assert_one_line_error, run, tickets_config
from conftest import write_yaml
from small_disk import leftovers, small_disk


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert_one_line_error(err, *needles)


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", 40) as made:
        yield made


def _fail_at_checkpoint(monkeypatch, number: int, fault) -> list[int]:
    """Make ``fault()`` happen just before the training's ``number``-th checkpoint; returns the steps saved."""
    saved, real = [], trainer_module.save_checkpoint

    def save(accelerator, out_dir, step, identity):
        saved.append(step)
        if len(saved) == number:
            fault()
        return real(accelerator, out_dir, step, identity)

    monkeypatch.setattr(trainer_module, "save_checkpoint", save)
    return saved


def test_a_full_disk_at_the_model_save_keeps_the_previous_model(tmp_path, tiny_model_dir, disk):
    config, out = tickets_config(tmp_path, tiny_model_dir), disk.folder / "out"
    assert run("train", config, "--out", out)[0] == 0
    before = _digests(out / "model")
    disk.fill(leave=1 << 20)  # room for the lock, the metrics and the results; not for a 4 MB model
    code, _, err = run("train", config, "--out", out, "--set", "train.lr=0.002")  # another training: trains again
    _one_line(code, err, f"cannot write {out / 'model'}: {disk.cause}")
    assert _digests(out / "model") == before and leftovers(out) == []  # the previous model whole, no temporary
    disk.free()
    assert run("train", config, "--out", out, "--set", "train.lr=0.002")[0] == 0
    assert _digests(out / "model") != before and leftovers(out) == []


def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one_and_a_rerun_resumes(tmp_path, tiny_model_dir, disk,
                                                                                 monkeypatch):
    """The model's weights (4 MB, safetensors) fit, the optimizer's (8 MB, torch.save) do not: torch says only
    "unexpected pos", and the disk is found full."""
    config, out = tickets_config(tmp_path, tiny_model_dir, checkpoint_every=4), disk.folder / "out"
    saved = _fail_at_checkpoint(monkeypatch, 2, lambda: disk.fill(leave=6 << 20))
    raised, real = [], io_module.os_error_of
    monkeypatch.setattr(io_module, "os_error_of",
                        lambda error, path=None: raised.append(str(error)) or real(error, path))
    code, _, err = run("train", config, "--out", out)
    _one_line(code, err, f"cannot write {out / 'checkpoint'}: {disk.cause}", "previous checkpoint is kept")
    assert saved == [4, 8] and not (out / ".checkpoint.tmp").exists()
    assert "unexpected pos" in raised[0], raised  # torch's words for it, naming neither the space nor the file
    assert json.loads((out / "checkpoint" / "checkpoint.json").read_text())["step"] == 4
    disk.free()
    monkeypatch.undo()
    code, out_text, err = run("train", config, "--out", out)
    assert code == 0, err
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 10  # resumed at step 4: no record twice
    assert leftovers(out) == [] and not (out / "checkpoint").exists()


def test_a_folder_turned_read_only_mid_run_is_named_and_a_rerun_finishes(tmp_path, tiny_model_dir, disk, monkeypatch):
    config, out = tickets_config(tmp_path, tiny_model_dir, checkpoint_every=4), disk.folder / "out"
    if not disk.read_only(False):
        pytest.skip("a folder turned read-only mid-run is made by remounting a tmpfs, which needs root (mount)")
    turned = _fail_at_checkpoint(monkeypatch, 2, lambda: turned.append(disk.read_only()))
    code, _, err = run("train", config, "--out", out)
    _one_line(code, err, f"cannot write {out / 'checkpoint'}: Read-only file system")
    assert turned[-1] is True and disk.read_only(False)
    monkeypatch.undo()
    code, _, err = run("train", config, "--out", out)
    assert code == 0 and leftovers(out) == [], err


def test_a_folder_deleted_mid_run_is_written_again(tmp_path, tiny_model_dir, monkeypatch):
    """Someone removes the run folder while it trains: the run writes it again from its next write, and ends."""
    config, out = tickets_config(tmp_path, tiny_model_dir, checkpoint_every=4), tmp_path / "out"
    _fail_at_checkpoint(monkeypatch, 2, lambda: shutil.rmtree(out))
    code, _, err = run("train", config, "--out", out)
    assert code == 0 and "Traceback" not in err, err
    assert (out / "results.json").is_file() and (out / "model" / "heads.safetensors").is_file()
    assert leftovers(out) == []


def _file_size_limited(limit: int):
    def limit_files() -> None:  # in the child: writes past the limit fail with EFBIG instead of killing it
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    return limit_files


def test_a_file_size_limit_at_a_checkpoint_in_a_child_process(tmp_path, tiny_model_dir):
    """``ulimit -f`` of 6 MB: the optimizer's file (torch.save) cannot be written; the child says so in one line."""
    config, out = tickets_config(tmp_path, tiny_model_dir, checkpoint_every=4), tmp_path / "out"
    child = subprocess.run([sys.executable, "-m", "auxlearn", "train", str(config), "--out", str(out)],
                           preexec_fn=_file_size_limited(6_000_000), capture_output=True, text=True,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    _one_line(child.returncode, child.stderr, f"cannot write {out / 'checkpoint'}: File too large",
              "ulimit -f")
    assert not (out / ".checkpoint.tmp").exists() and not (out / "checkpoint").exists()  # none written yet
    assert run("train", config, "--out", out)[0] == 0 and leftovers(out) == []


def test_a_full_disk_under_the_study_names_the_study_file(tmp_path, tiny_model_dir, disk):
    """The study lives on the full disk (SQLite, then a journal); the run folder does not."""
    if not disk.mounted:
        pytest.skip("a full disk under one file only is made with a tmpfs, which needs root (mount)")
    config = tickets_config(tmp_path, tiny_model_dir, {"auxiliary": ["notes"], "mix": {"method": "random",
                                                                                     "n_trials": 1}})
    disk.fill()
    for storage, file in (("sqlite:///{}", "study.db"), ("journal://{}", "study.log")):
        code, _, err = run("mix", config, "--out", tmp_path / f"run_{file}",
                           "--storage", storage.format(disk.folder / file))
        _one_line(code, err, f"cannot write {disk.folder / file}: {disk.cause}", "study's storage")


def test_a_full_disk_under_the_datasets_cache_is_said_as_such(tmp_path, disk, monkeypatch):
    """`datasets` caches every file it reads as Arrow; a full disk there is not a file that cannot be read."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(disk.folder / "hf"))
    (tmp_path / "fresh.csv").write_text("text,label\n" + "".join(f"row {i} of {tmp_path},a\n" for i in range(500)))
    write_yaml(tmp_path / "tasks.yaml", {"tasks": [{"name": "fresh", "type": "classification", "text_fields": ["text"],
                                                    "label_field": "label", "files": {"train": "fresh.csv"}}]})
    disk.fill()
    code, out, err = run("tasks", "--task-file", tmp_path / "tasks.yaml")  # a task it cannot read is a note
    assert code == 0 and "Traceback" not in err, err
    assert f"cannot write {disk.folder / 'hf'}" in out and f"{disk.cause} (the datasets cache" in out, out
