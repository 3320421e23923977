"""Peak resident memory of `make demo`'s job and of `auxlearn train examples/rte_single.yaml`.

Each job runs in a child process; its peak resident set is the kernel's ``ru_maxrss`` for that child (``wait4``),
so nothing samples and nothing is missed. Two short versions of the demo's run (10 steps, 3 seeds) are measured
with and without ``release_finished_runs`` (auxlearn/experiment.py), the collection of the finished runs' reference
cycles: they show what it saves and that it leaves every score as it was (the eval scores must match exactly).

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/memory.py   (about 20 minutes alone on two cores)
Writes bench/results/memory.json; a job already measured on this CPU is not run again (resumable per job), unless
named on the command line (`bench/memory.py demo rte_single_train` measures those two again).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from auxlearn.io import read_json, write_json_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "memory.json"
SHORT = ["--set", "train.steps=10", "train.eval_every=5", "seeds=[0, 1, 2]"]
WITHOUT_RELEASE = ("import sys, auxlearn.experiment as e; e.release_finished_runs = lambda: None; "
                   "from auxlearn.cli import main; sys.exit(main(sys.argv[1:]))")
# Faster allocator settings than auxlearn's (8 MiB mmap and trim thresholds: no tensor of a step mapped and faulted in
# afresh), at a higher peak: the trade-off allocator.py weighs.
MMAP_8MIB = ("import sys, auxlearn.allocator as a; a.SETTINGS = {a.M_ARENA_MAX: 2, a.M_TRIM_THRESHOLD: 8 << 20, "
             "a.M_MMAP_THRESHOLD: 8 << 20}; from auxlearn.cli import main; sys.exit(main(sys.argv[1:]))")
JOBS = {  # name: (interpreter arguments, auxlearn arguments with OUT for the output folder)
    "demo_short_without_release": (["-c", WITHOUT_RELEASE], ["run", "examples/demo.yaml", "--out", "OUT", *SHORT]),
    "demo_short": (["-m", "auxlearn"], ["run", "examples/demo.yaml", "--out", "OUT", *SHORT]),
    "rte_single_train": (["-m", "auxlearn"], ["train", "examples/rte_single.yaml", "--out", "OUT"]),
    "rte_single_train_mmap_8mib": (["-c", MMAP_8MIB], ["train", "examples/rte_single.yaml", "--out", "OUT"]),
    "demo": (["-m", "auxlearn"], ["run", "examples/demo.yaml", "--out", "OUT"]),  # `make demo`'s job
}


def measure(name: str, work: Path) -> dict:
    interpreter, arguments = JOBS[name]
    out = work / name
    command = [sys.executable, *interpreter, *[str(out) if a == "OUT" else a for a in arguments],
               "--set", "train.progress=false"]
    env = {**os.environ, "AUXLEARN_CACHE": str(work / "cache")}  # every job tokenizes from cold, as a user's first
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name}: {' '.join(command)} failed")
    results = read_json(out / "results.json")
    scores = ({arm: stage["eval"] for arm, stage in results["stages"].items() if "eval" in stage}
              if "stages" in results else {"train": results["eval"][results["primary"]]})
    return {"peak_rss_gb": round(usage.ru_maxrss / 1e6, 3), "wall_seconds": round(time.perf_counter() - started, 1),
            "eval": scores, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}


def main() -> None:
    doc = read_json(OUT) if OUT.is_file() else {"what": __doc__.strip().splitlines()[0], "jobs": {}}
    cpu = machine()["cpu"]
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as work:
        named = [a for a in sys.argv[1:] if a in JOBS]  # jobs named on the command line run again
        for name in named or JOBS:
            if doc["jobs"].get(name, {}).get("machine", {}).get("cpu") == cpu and not named:
                continue
            doc["jobs"][name] = measure(name, Path(work))
            print(f"{name}: peak {doc['jobs'][name]['peak_rss_gb']} GB in {doc['jobs'][name]['wall_seconds']} s",
                  flush=True)
            write_json_atomic(OUT, doc)
    with_release, without = doc["jobs"].get("demo_short"), doc["jobs"].get("demo_short_without_release")
    if with_release and without:
        doc["release_keeps_scores"] = with_release["eval"] == without["eval"]
        doc["release_saves_gb"] = round(without["peak_rss_gb"] - with_release["peak_rss_gb"], 3)
        write_json_atomic(OUT, doc)
        print(f"release_finished_runs: scores unchanged {doc['release_keeps_scores']}, saves "
              f"{doc['release_saves_gb']} GB at peak")


if __name__ == "__main__":
    main()
