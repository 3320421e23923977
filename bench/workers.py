"""Two `auxlearn mix` workers on one PostgreSQL study: every trial scored once, none lost, none run twice.

The issue's target: two PostgreSQL workers, 20 trials: 20 distinct completed trials, no duplicate parameters
from a lost heartbeat. A throwaway PostgreSQL server (tests/mix_workers.py: Debian's package, a unix socket in a
temporary folder) holds the study; each worker is its own process with one thread and its own run folder, as on
separate machines, and trains a tiny random BERT for a few steps per trial. The random method makes the check
exact: each proposal's sampler is seeded by its index, so the workers' scored ratios must be among the first
proposals of the same search in one process, with no parameter set scored twice.

A second part kills one of two workers (SIGKILL) in a trial and starts it again, as after a crash: the killed
trial must be rerun once with its own ratios, and the study still end with exactly --trials scored trials.

Run: .venv/bin/python bench/workers.py [--trials 20] [--workers 2] [--method random] [--parts ab]
Writes bench/results/workers.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
os.environ.setdefault("AUXLEARN_DATA_DIR", str((REPO.parent / "shared" / "data").resolve()))
sys.path.insert(0, str(REPO / "tests"))  # the tiny model, the experiment and the server of the worker test

from conftest import experiment_dict, save_tiny_bert, write_yaml  # noqa: E402
from mix_workers import postgres_server, run_workers, start_worker, study_summary, wait_workers  # noqa: E402

TASKS = ["rte", "mrpc", "stsb"]


def together(config: Path, folder: Path, args: argparse.Namespace) -> dict:
    """(a) ``--workers`` workers from the start to the end."""
    with postgres_server() as storage:
        workers = run_workers(config, storage, folder / "together", workers=args.workers, timeout=1800)
        summary = study_summary(storage, "workers")
    checks = {**_checks(summary, workers, args),
              "every_worker_scored": len(summary["scored_by_worker"]) == args.workers}
    return _part(checks, workers, summary)


def killed(config: Path, folder: Path, args: argparse.Namespace) -> dict:
    """(b) Two workers; the second is killed (SIGKILL) in a trial, then started again."""
    import optuna

    with postgres_server() as storage:
        watch = optuna.storages.RDBStorage(storage)  # one connection pool to watch the study (and create its tables)
        started = time.perf_counter()
        survivor, victim = (start_worker(config, storage, folder / "killed", f"worker_{i}") for i in range(2))
        number = _running_trial(watch, victim.pid)
        victim.kill()
        victim.wait()
        restarted = start_worker(config, storage, folder / "killed", "worker_1_restarted")
        workers = {**wait_workers([survivor, restarted], timeout=1800), "seconds": time.perf_counter() - started}
        summary = study_summary(storage, "workers")
        watch.engine.dispose()
    reruns = [r for r in summary["reruns"] if r["of"] == number]
    checks = {**_checks(summary, workers, args),
              "killed_trial_rerun_once": len(reruns) == 1 and reruns[0]["state"] == "COMPLETE",
              "rerun_with_its_ratios": all(r["same_params"] for r in reruns),
              "only_the_killed_trial_failed": summary["states"].get("FAIL", 0) == 1 + summary["surplus"]}
    return {**_part(checks, workers, summary), "killed_trial": number}


def _running_trial(storage, pid: int, timeout: float = 600) -> int:
    """The number of the first trial worker ``pid`` trains (its ratios proposed), once it has one."""
    import optuna

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            trials = optuna.load_study(study_name="workers", storage=storage).get_trials(deepcopy=False)
        except KeyError:  # the study is not created yet
            trials = []
        for t in trials:
            if t.state.name == "RUNNING" and t.user_attrs.get("worker", [None, None])[1] == pid and \
                    len(t.params) == len(TASKS):
                return t.number
        time.sleep(0.1)
    raise RuntimeError(f"worker {pid} started no trial within {timeout} s")


def _checks(summary: dict, workers: dict, args: argparse.Namespace) -> dict:
    from auxlearn.mix.ratio_trials import search_ratios

    checks = {
        "workers_succeeded": all(code == 0 for code in workers["codes"]),
        "scored_trials": summary["scored"] == args.trials,
        "distinct_trial_numbers": summary["distinct_numbers"] == summary["trials"],
        "no_duplicate_params": summary["duplicate_params"] == 0,
        "nothing_left_running": not {"RUNNING", "WAITING"} & set(summary["states"]),
    }
    if args.method == "random":
        reference = search_ratios(lambda ratios: 0.0, TASKS, method="random", n_trials=args.trials + 2, seed=0)
        proposals = [t["ratios"] for t in reference.trials]
        checks["one_process_proposals"] = all(params in proposals for params in summary["scored_params"])
    return checks


def _part(checks: dict, workers: dict, summary: dict) -> dict:
    return {"met": all(checks.values()), "checks": checks, "seconds": round(workers["seconds"], 1),
            "study": {k: v for k, v in summary.items() if k != "scored_params"}, "failed_worker_logs": workers["logs"]}


PARTS = {"a": together, "b": killed}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--method", default="random", choices=["random", "gp-bo"])
    p.add_argument("--steps", type=int, default=4, help="training steps of each trial")
    p.add_argument("--parts", default="ab", help="a: workers together; b: one killed and restarted (default ab)")
    args = p.parse_args(argv)

    from auxlearn.models.encoder import load_tokenizer

    with tempfile.TemporaryDirectory(prefix="auxlearn-workers-") as tmp:
        folder = Path(tmp)
        model = save_tiny_bert(folder / "tiny-bert", load_tokenizer("all-MiniLM-L6-v2"))
        config = write_yaml(folder / "exp.yaml", experiment_dict(
            model, auxiliary=TASKS[1:], data={"max_train_examples": 32, "dev_size": 16},
            mix={"method": args.method, "n_trials": args.trials, "steps": args.steps, "study_name": "workers"}))
        parts = {PARTS[key].__name__: PARTS[key](config, folder, args) for key in args.parts}
    results = {
        "target": f"{args.workers} PostgreSQL workers, {args.trials} trials: {args.trials} distinct completed "
                  "trials, no duplicate parameters from a lost heartbeat",
        "met": all(part["met"] for part in parts.values()), **parts,
        "settings": {**vars(args), "tasks": TASKS, "model": "tiny random BERT (2 layers, hidden 32)",
                     "threads_per_worker": 1},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "workers.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
