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


def run_workers(config: Path, storage: str, out: Path, workers: int = 2, timeout: float = 600) -> dict[str, Any]:
    """Run ``workers`` `auxlearn mix` processes at once on one study, each with its own run folder (as on separate
    machines) and one thread; their exit codes, the seconds until the last ended, and their stderr on failure."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cli = [str(Path(sys.executable).parent / "auxlearn")]  # the console script of this environment
    started = time.perf_counter()
    logs = [out / f"worker_{i}.log" for i in range(workers)]
    out.mkdir(parents=True, exist_ok=True)
    processes = []
    for i, log in enumerate(logs):
        with open(log, "w") as stream:
            processes.append(subprocess.Popen([*cli, "mix", str(config), "--out", str(out / f"worker_{i}"),
                                               "--storage", storage], env=env, stdout=stream, stderr=stream))
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(1.0, timeout - (time.perf_counter() - started))))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    seconds = time.perf_counter() - started
    return {"codes": codes, "seconds": seconds,
            "logs": {str(log): log.read_text()[-3000:] for log, code in zip(logs, codes) if code}}


def study_summary(storage: str, study_name: str) -> dict[str, Any]:
    """What a shared study holds: its trials by state, the scored ones and their workers, and the parameter sets
    scored more than once (what a trial rerun while its worker still ran, a lost heartbeat, would leave)."""
    import optuna

    trials = optuna.load_study(study_name=study_name, storage=storage).get_trials(deepcopy=False)
    scored = [t for t in trials if t.state.name == "COMPLETE" and not t.user_attrs.get("infeasible")]
    params = Counter(tuple(sorted(t.params.items())) for t in scored)
    return {
        "trials": len(trials),
        "distinct_numbers": len({t.number for t in trials}),
        "states": dict(Counter(t.state.name for t in trials)),
        "scored": len(scored),
        "distinct_scored_params": len(params),
        "duplicate_params": sum(n - 1 for n in params.values()),
        "reruns": sum("failed_trial" in t.system_attrs for t in trials),
        "surplus": sum(bool(t.user_attrs.get("surplus")) for t in trials),
        "scored_by_worker": dict(Counter(f"{t.user_attrs['worker'][0]}:{t.user_attrs['worker'][1]}" for t in scored)),
        "scored_params": [dict(t.params) for t in scored],
    }
