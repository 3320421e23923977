"""A throwaway PostgreSQL server, `auxlearn mix` workers sharing one study in it, and what the study holds after
them: for tests/test_workers.py and bench/workers.py.

PostgreSQL is required: without it the caller fails (never skips) with the command that installs it. The server
refuses to run as root, so under root it runs as the ``postgres`` user of Debian's package (else ``nobody``), on
a unix socket in a private temporary folder: nothing listens on the network.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

INSTALL = "apt-get update && apt-get install -y postgresql (as root; `make test` does this)"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL is not installed (no initdb): the worker tests start a server. {INSTALL}")
    return Path(found[-1]).parent


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(user).pw_name
    raise RuntimeError("PostgreSQL refuses to run as root and there is no postgres or nobody user to run it as")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server with an empty database ``mix``; yield its SQLAlchemy URL; stop it and delete its files."""
    bin_dir, user = _bin_dir(), _server_user()
    folder = Path(tempfile.mkdtemp(prefix="auxlearn-pg-"))
    as_user = ["runuser", "-u", user, "--"] if user else []
    if user:
        shutil.chown(folder, user)

    def run(tool: str, *args: str) -> None:
        done = subprocess.run([*as_user, str(bin_dir / tool), *args], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"PostgreSQL's {tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    data = str(folder / "data")
    try:
        run("initdb", "-D", data, "-U", "auxlearn", "--auth=trust", "-E", "UTF8")
        run("pg_ctl", "-D", data, "-o", f"-k {folder} -c listen_addresses=''", "-l", str(folder / "log"), "-w",
            "start")
        try:
            run("createdb", "-h", str(folder), "-U", "auxlearn", "mix")
            yield f"postgresql://auxlearn@/mix?host={folder}"
        finally:
            run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_worker(config: Path, storage: str, out: Path, name: str) -> subprocess.Popen:
    """One `auxlearn mix` process with one thread and its own run folder ``out/name`` (as on its own machine);
    its output goes to ``out/name.log``."""
    out.mkdir(parents=True, exist_ok=True)
    cli = str(Path(sys.executable).parent / "auxlearn")  # the console script of this environment
    with open(out / f"{name}.log", "w") as log:
        return subprocess.Popen([cli, "mix", str(config), "--out", str(out / name), "--storage", storage],
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=log, stderr=log)


def wait_workers(processes: list[subprocess.Popen], timeout: float = 600) -> dict[str, Any]:
    """Their exit codes (a worker still running after ``timeout`` seconds is killed) and the output of those
    that failed."""
    deadline = time.monotonic() + timeout
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    paths = [Path(f"{process.args[4]}.log") for process in processes]  # beside the run folder (start_worker)
    return {"codes": codes, "logs": {str(log): log.read_text()[-3000:] for log, code in zip(paths, codes) if code}}


def run_workers(config: Path, storage: str, out: Path, workers: int = 2, timeout: float = 600) -> dict[str, Any]:
    """``workers`` processes at once on one study: their exit codes, failures' output, and the seconds until the
    last one ended."""
    started = time.perf_counter()
    processes = [start_worker(config, storage, out, f"worker_{i}") for i in range(workers)]
    return {**wait_workers(processes, timeout), "seconds": time.perf_counter() - started}


def study_summary(storage: str, study_name: str) -> dict[str, Any]:
    """What a shared study holds: its trials by state, the scored ones and their workers, and the parameter sets
    scored more than once (what a trial rerun while its worker still ran, a lost heartbeat, would leave)."""
    import optuna

    rdb = optuna.storages.RDBStorage(storage)
    trials = optuna.load_study(study_name=study_name, storage=rdb).get_trials(deepcopy=False)
    rdb.engine.dispose()
    scored = [t for t in trials if t.state.name == "COMPLETE" and not t.user_attrs.get("infeasible")]
    params = Counter(tuple(sorted(t.params.items())) for t in scored)
    return {
        "trials": len(trials),
        "distinct_numbers": len({t.number for t in trials}),
        "states": dict(Counter(t.state.name for t in trials)),
        "scored": len(scored),
        "distinct_scored_params": len(params),
        "duplicate_params": sum(n - 1 for n in params.values()),
        "reruns": [{"number": t.number, "of": t.system_attrs["failed_trial"], "state": t.state.name,
                    "same_params": t.params == trials[t.system_attrs["failed_trial"]].params}
                   for t in trials if "failed_trial" in t.system_attrs],
        "surplus": sum(bool(t.user_attrs.get("surplus")) for t in trials),
        "scored_by_worker": dict(Counter(f"{t.user_attrs['worker'][0]}:{t.user_attrs['worker'][1]}" for t in scored)),
        "scored_params": [dict(t.params) for t in scored],
    }
