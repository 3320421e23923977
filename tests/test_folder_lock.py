"""One writer per folder and the temporaries killed writers leave (issue 32): a second process into a held folder stops
at once naming the holder, a killed holder leaves no stale lock, and the next run into a folder removes what a killed
or failed write left there (a temporary of a running writer, in a shared cache, is kept)."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auxlearn.errors import AuxlearnError
from auxlearn.folder_lock import LOCK, folder_lock
from auxlearn.io import atomic_directory, write_text_atomic, writing
from auxlearn.os_faults import os_error_of
from cli_runs import run, tickets_config
from small_disk import leftovers, small_disk

HOLD = """import sys, time
from auxlearn.folder_lock import folder_lock
with folder_lock(sys.argv[1], "auxlearn train"):
    print("held", flush=True)
    time.sleep(120)
"""
# A model save killed half-way: a 1 MB weight file written into the temporary folder, then the process waits.
HALF_SAVE = """import sys, time
from pathlib import Path
from auxlearn.io import atomic_directory
with atomic_directory(Path(sys.argv[1]) / "model") as tmp:
    (tmp / "model.safetensors").write_bytes(bytes(1 << 20))
    print("writing", flush=True)
    time.sleep(120)
"""


def _start(script: str, *args: str) -> subprocess.Popen:
    """A Python process running ``script``, started once it printed its first line."""
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip(), "the helper process did not start"
    return process


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _dead_pid() -> int:
    """The id of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.fixture
def config(tmp_path, tiny_model_dir) -> Path:
    return tickets_config(tmp_path, tiny_model_dir, steps=4, eval_every=2)


def test_a_second_process_into_a_held_folder_stops_at_once_naming_the_holder(tmp_path, config):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "metrics.jsonl").write_text('{"step": 1}\n')
    before = (folder / "metrics.jsonl").stat().st_mtime_ns
    holder = _start(HOLD, str(folder))
    try:
        started = time.perf_counter()
        second = subprocess.run([sys.executable, "-m", "auxlearn", "train", str(config), "--out", str(folder)],
                                capture_output=True, text=True, timeout=60)
        seconds = time.perf_counter() - started
        assert second.returncode == 2 and "Traceback" not in second.stderr, second.stderr
        assert second.stderr.count("\n") == 1 and f"{folder} is in use" in second.stderr, second.stderr
        assert f"PID {holder.pid} " in second.stderr and "auxlearn train" in second.stderr, second.stderr
        assert seconds < 5, seconds  # refused before loading torch or the config
        assert (folder / "metrics.jsonl").stat().st_mtime_ns == before and (folder / LOCK).is_file()
    finally:
        _kill(holder)
    # kill -9 left its lock file, but the kernel released the lock: the next process takes it at once.
    assert str(holder.pid) in (folder / LOCK).read_text()
    with folder_lock(folder, "auxlearn run"):
        assert f"PID {os.getpid()} " in (folder / LOCK).read_text()
    assert not (folder / LOCK).exists() and (folder / "metrics.jsonl").is_file()


def test_the_default_folder_is_held_too(tmp_path, config, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with folder_lock(tmp_path / "runs" / "test"):  # runs/<name>, known once the config is read
        code, _, err = run("train", config)
    assert code == 2 and "runs/test is in use" in err and f"PID {os.getpid()} " in err, err
    assert not (tmp_path / "runs").exists()  # the folders the lock made, empty, are gone with it


def test_a_model_save_killed_half_way_is_cleaned_by_the_next_run(tmp_path, config):
    folder = tmp_path / "out"
    _kill(_start(HALF_SAVE, str(folder)))
    assert [p.name.split(".")[1] for p in folder.glob(".model.*.tmp")] == ["model"]
    code, _, err = run("train", config, "--out", folder)
    assert code == 0, err
    assert leftovers(folder) == [] and (folder / "model" / "heads.safetensors").is_file()


def test_temporaries_of_dead_writers_go_those_of_live_ones_stay(tmp_path):
    """In a held folder every dead writer's temporary goes (an earlier version's model folder too, which carries no
    process id); a model folder a kill left between its two renames comes back. In a shared folder (a cache), a write of a
    target removes only its dead writers' temporaries."""
    live = subprocess.Popen(["sleep", "60"])
    try:
        dead = _dead_pid()
        names = {"dead": f".model.{dead}.abcdefgh.tmp", "old_version": ".model.zyxwvut1.tmp",
                 "live": f".model.{live.pid}.ijklmnop.tmp", "file": f".results.json.{dead}.qrstuvwx.tmp"}
        for name in names.values():
            (tmp_path / "run" / name).mkdir(parents=True)
            (tmp_path / "run" / name / "weights").write_bytes(b"x")
        (tmp_path / "run" / "seed_0" / ".model.old").mkdir(parents=True)  # no model: the old one is the last whole
        (tmp_path / "run" / ".notes.abcdefgh.tmp").write_text("another program's, perhaps")
        with folder_lock(tmp_path / "run"):
            pass
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted([names["live"], "seed_0",
                                                                               ".notes.abcdefgh.tmp"])
        assert [p.name for p in (tmp_path / "run" / "seed_0").iterdir()] == ["model"]

        cache = tmp_path / "cache" / "encoded"
        for name in (f".rte-1.{dead}.abcdefgh.tmp", f".rte-1.{live.pid}.abcdefgh.tmp", ".rte-1.abcdefgh.tmp"):
            (cache / name).mkdir(parents=True)
        with atomic_directory(cache / "rte-1") as tmp:
            (tmp / "data").write_text("encoded")
        assert sorted(p.name for p in cache.iterdir()) == sorted([f".rte-1.{live.pid}.abcdefgh.tmp",
                                                                   ".rte-1.abcdefgh.tmp", "rte-1"])
    finally:
        live.kill()
        live.wait()


def test_a_full_disk_keeps_the_previous_file_whole(tmp_path):
    with small_disk(tmp_path / "disk", 1) as disk:
        report = write_text_atomic(disk.folder / "report.html", "the previous report")
        disk.fill(leave=8192)
        with pytest.raises(AuxlearnError, match=f"cannot write {report}: {disk.cause}"):
            write_text_atomic(report, "x" * (1 << 20))
        assert report.read_text() == "the previous report" and leftovers(disk.folder) == []


@pytest.mark.parametrize("message, code", [
    ("Error while serializing: I/O error: No space left on device (os error 28)", errno.ENOSPC),  # safetensors
    ("Error while serializing: I/O error: File too large (os error 27)", errno.EFBIG),
    ("(sqlite3.OperationalError) database or disk is full", errno.ENOSPC),  # Optuna's SQLite storage
    ("(sqlite3.OperationalError) attempt to write a readonly database", errno.EROFS),
    ("[Errno 28] No space left on device: '/x'", errno.ENOSPC),  # pyarrow, in datasets
    ("Not enough disk space. Needed: Unknown size (download: Unknown size)", errno.ENOSPC),  # datasets' own check
])
def test_a_library_error_standing_for_a_fault_is_named_with_the_path(message, code, tmp_path):
    class LibraryError(Exception):  # a library's own exception type, as safetensors' or SQLAlchemy's
        pass

    assert os_error_of(LibraryError(message)).errno == code
    with pytest.raises(AuxlearnError, match=f"^cannot write {tmp_path / 'w'}: {os.strerror(code)}$"):
        with writing(tmp_path / "w"):
            raise LibraryError(message)
    with pytest.raises(LibraryError):  # any other error of a library passes as it is
        with writing(tmp_path / "w"):
            raise LibraryError("a bug")


def test_torch_s_silent_short_write_is_told_by_the_disk(tmp_path):
    """torch.save to a path says "unexpected pos 576 vs 534"; with room on the disk and no file-size limit the
    cause is an I/O error, with the file-size limit it is that limit."""
    torch_error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")
    limited = resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    assert os_error_of(torch_error, tmp_path).errno == (errno.EFBIG if limited else errno.EIO)
    with small_disk(tmp_path / "disk", 1) as disk:
        if disk.mounted:
            disk.fill()
            assert os_error_of(torch_error, disk.folder / "optimizer.bin").errno == errno.ENOSPC
