"""Where a ratio study lives (its URL and file checked before a search, so that a typo or a damaged file is an
error naming them, not a driver's traceback after selection trained), and how a trial whose worker died is run
again.

A worker killed mid-trial (kill -9, a lost machine) leaves its trial RUNNING. Two signs tell that its worker is
gone: its process on this machine no longer exists (seen at once; the only sign a journal file has), or, in an
RDB storage, its heartbeat stopped for ``GRACE_SECONDS`` (any machine). Either way the trial is failed and a copy
with the same parameters is queued (Optuna's ``RetryHeartbeatStaleTrialCallback``); the next ``ask`` of any
worker runs it before anything new is proposed, so the study goes on as if the trial had not been interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Iterator

import optuna
import sqlalchemy
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from auxlearn.errors import AuxlearnError
from auxlearn.io import process_alive, writing

HOST = socket.gethostname()
# A trial records its heartbeat every HEARTBEAT_SECONDS; one silent for GRACE_SECONDS is taken as dead. The grace
# covers a few missed beats (a loaded database, a paused machine) and bounds how long a lost trial waits.
HEARTBEAT_SECONDS = 30
GRACE_SECONDS = 120
SCHEMA_ATTEMPTS = 3
MAX_RETRIES = 3  # a trial that kills its worker every time (out of memory) is given up after this many reruns

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ExperimentalWarning)
    RETRY = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


@contextlib.contextmanager
def opened_storage(url: str | None) -> Iterator[BaseStorage]:
    """The storage at ``url``; an RDB's pooled connections are closed after use, not left to the garbage collector
    (which makes the database driver warn). A fault writing its file (a full disk) is an error naming the file."""
    with study_writes(url) if url else contextlib.nullcontext():
        storage = open_storage(url)
        try:
            yield storage
        finally:
            if isinstance(storage, RDBStorage):
                storage.engine.dispose()


def open_storage(url: str | None) -> BaseStorage:
    """None: in memory; ``journal://`` + a path: Optuna's journal file; any other URL: an RDB with heartbeats."""
    if url is None:
        return InMemoryStorage()
    if url.startswith("journal://"):
        return JournalStorage(JournalFileBackend(url.removeprefix("journal://")))
    # Workers started together on an empty database all create Optuna's tables, and PostgreSQL refuses one of two
    # identical CREATEs: the worker that lost finds the tables made on its next try.
    for attempt in range(1, SCHEMA_ATTEMPTS):
        try:
            return _rdb(url)
        except sqlalchemy.exc.DBAPIError:
            time.sleep(attempt)
    return _rdb(url)


def _rdb(url: str) -> RDBStorage:
    return RDBStorage(url, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                      heartbeat_stale_trial_callback=RETRY)


def claim(trial: optuna.Trial) -> None:
    """Record this process as the trial's worker; the trial number tells a retry's copied record from its own."""
    trial.set_user_attr("worker", [HOST, os.getpid(), trial.number])


def retry_interrupted(study: optuna.Study, storage: BaseStorage) -> None:
    """Fail and requeue the running trials whose worker is gone: a stale heartbeat, or a dead process here."""
    optuna.storages.fail_stale_trials(study)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, pid, number = trial.user_attrs.get("worker", (None, None, None))
        if host == HOST and number == trial.number and not process_alive(pid):
            interrupt(study, storage, trial)


def interrupt(study: optuna.Study, storage: BaseStorage, trial: FrozenTrial | optuna.Trial) -> None:
    """Fail the trial and queue its rerun, unless another worker finished it first (the state change is atomic,
    so a trial is requeued once however many workers notice it)."""
    trial_id = trial._trial_id  # noqa: SLF001 - Optuna's storage API addresses trials by id
    try:
        if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            return
    except UpdateFinishedTrialError:
        return
    RETRY(study, storage.get_trial(trial_id))


@contextlib.contextmanager
def failed_or_requeued(study: optuna.Study, storage: BaseStorage, trial: optuna.Trial) -> Iterator[None]:
    """A trial whose work raises is failed; one interrupted (Ctrl-C, SystemExit) is failed and queued again, so
    the study's next worker reruns it (resuming from its checkpoint where it has one)."""
    try:
        yield
    except Exception:
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        raise
    except BaseException:
        interrupt(study, storage, trial)
        raise


@contextlib.contextmanager
def heartbeat(storage: BaseStorage, trial: optuna.Trial) -> Iterator[None]:
    """Beat for the trial while it runs. Optuna does this only inside ``Study.optimize``; the search uses ask and
    tell so that a trial has its worker on record before the (possibly slow) GP proposal."""
    if not isinstance(storage, RDBStorage):
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            storage.record_heartbeat(trial._trial_id)  # noqa: SLF001
            if stop.wait(HEARTBEAT_SECONDS):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


_FORMS = "postgresql://user:password@host/db, mysql://..., sqlite:///file.db or journal:///file.log"
SQLITE_HEADER = b"SQLite format 3\x00"


def _journal_problem(path: Path) -> str | None:
    """A journal file that exists must start with an Optuna journal record (a JSON object with an op_code); any
    other file is refused before Optuna appends to it or fails on it with a bare JSON error."""
    if not path.is_file() or not path.stat().st_size:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            first = json.loads(handle.readline())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        return f"journal file {path} is not an Optuna journal (its first line: {error}); name another file"
    if not isinstance(first, dict) or "op_code" not in first:
        return f"journal file {path} is not an Optuna journal (its first line has no op_code); name another file"
    return None


def storage_problem(url: str) -> str | None:
    """Why ``url`` is not a usable Optuna storage URL, or None; a file it names must be what the URL says (a
    journal, an SQLite database) or new."""
    if url.startswith("journal://"):
        path = url.removeprefix("journal://")
        if not path:
            return f"journal storage {url!r} names no file (expected journal:///path/file.log)"
        return f"journal file {path} is a folder" if Path(path).is_dir() else _journal_problem(Path(path))
    try:
        sqlalchemy.engine.make_url(url).get_dialect()
    except (sqlalchemy.exc.ArgumentError, ValueError) as error:
        return f"cannot parse storage URL {url!r} ({error}); expected {_FORMS}"
    except sqlalchemy.exc.NoSuchModuleError:
        return f"storage URL {url!r}: unknown database kind {url.split(':', 1)[0]!r}; expected {_FORMS}"
    study_file = _study_file(url)
    return None if study_file is None else _sqlite_problem(study_file)


def _sqlite_problem(path: Path, advice: str = "move it away or name another file") -> str | None:
    """An SQLite study file must be a database (an empty or missing file is a new one)."""
    if path.is_dir() or (path.is_file() and path.stat().st_size and not _has_sqlite_header(path)):
        return (f"{path} is not an SQLite database (expected a file starting with {SQLITE_HEADER[:-1].decode()!r}: "
                f"damaged, or another file in its place); {advice}")
    return None


def check_sqlite_file(path: Path) -> None:
    """A study file left in the run folder must be an SQLite database (an empty file is a new one)."""
    problem = _sqlite_problem(path, "move it away to start the mixing study afresh")
    if problem:
        raise AuxlearnError(problem)


@contextlib.contextmanager
def study_writes(url: str) -> Iterator[None]:
    """Faults of the study's own file (a full disk under SQLite or a journal) as an error naming the file and the
    cause; faults raised elsewhere (a training's own writes name their files) and a database server's pass
    through."""
    path = _study_file(url)
    if path is None:
        yield
        return
    try:
        yield
    except Exception as error:
        if not _raised_by_storage(error):
            raise
        with writing(path, " (the study's storage)"):
            raise


def _study_file(url: str) -> Path | None:
    if url.startswith("journal://"):
        return Path(url.removeprefix("journal://"))
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def _raised_by_storage(error: BaseException) -> bool:
    """Whether ``error`` came out of Optuna's storages or the database driver (its traceback passes through them)."""
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return True
    frames = traceback.extract_tb(error.__traceback__)
    return any("optuna/storages" in frame.filename.replace(os.sep, "/") for frame in frames)


def _has_sqlite_header(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError as error:
        raise AuxlearnError(f"cannot read {path}: {error.strerror}") from None


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna logs every trial at INFO; auxlearn reports trials itself, so only warnings get through. The
    heartbeat and rerun API is experimental, and Optuna warns that heartbeats are meant for ``optimize``: the
    searches beat themselves (``heartbeat``)."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with")
            yield
    finally:
        optuna.logging.set_verbosity(verbosity)
