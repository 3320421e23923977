"""kill -9 a small `auxlearn run` at 20 random moments; each re-run into its folder must end with the numbers of an
uninterrupted run and train no finished seed, stage or trial again.

The run: a tiny random BERT (2 layers, hidden 32; built in code, as the tests do) on real slices of RTE with
MRPC and STS-B as candidates, 2 seeds, exhaustive selection, GP-BO mixing (4 trials), final and control; 40
steps per arm, a checkpoint every 8. One uninterrupted run gives the reference results.json and its wall time T;
kill k (k = 0..19) starts the run in a fresh folder, sends SIGKILL at a moment drawn uniformly in (0, T) with seed
k, then runs it again to the end. Each kill's record holds the stage it landed in, whether the resumed
results.json equals the reference (timings aside), the finished trainings rewritten (must be none) and the
arms that went on from a checkpoint. Resumable: finished kills are kept in the results file.

Run: .venv/bin/python bench/kill_resume.py [--kills 20]
Writes bench/results/kill_resume.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
os.environ.setdefault("AUXLEARN_DATA_DIR", str((REPO.parent / "shared" / "data").resolve()))
sys.path.insert(0, str(REPO / "tests"))

from conftest import experiment_dict, save_tiny_bert, write_yaml  # noqa: E402
from kill_runs import finished_trainings, kill_when, run_to_end, without_timing  # noqa: E402
from machine import machine  # noqa: E402

RESULTS = HERE / "results" / "kill_resume.json"
WORK = HERE / "work" / "kill_resume"
STAGES = ("baseline", "select", "mix", "final", "control")


def stage_at_kill(run: Path) -> str:
    """Where the run was: the last stage folder it had made, or the data preparation before any."""
    if not (run / "config.yaml").exists():
        return "preparing"
    made = [s for s in STAGES if (run / s).exists()]
    return made[-1] if made else "started"


def one_kill(index: int, config: Path, env: dict, duration: float, reference: dict) -> dict:
    run = WORK / f"kill_{index}"
    shutil.rmtree(run, ignore_errors=True)
    moment = random.Random(index).uniform(0, duration)
    started = time.perf_counter()
    killed = kill_when(config, run, env, lambda: True if time.perf_counter() - started >= moment else None)
    stage = stage_at_kill(run)
    finished = finished_trainings(run)
    checkpoints = sorted(str(p.parent.relative_to(run)) for p in run.glob("**/checkpoint/checkpoint.json"))
    resumed_started = time.perf_counter()
    resumed = run_to_end(config, run, env)
    rewritten = sorted(str(p.relative_to(run)) for p, stamp in finished.items()
                       if not p.exists() or p.stat().st_mtime_ns != stamp)
    went_on = sorted(str(p.parent.relative_to(run)) for p in run.glob("*/**/results.json")
                     if json.loads(p.read_text()).get("resumed_from_step"))
    record = {"kill": index, "moment_s": round(moment, 2), "killed": killed is not None, "stage": stage,
              "finished_before_kill": len(finished), "checkpoints_at_kill": checkpoints,
              "identical": without_timing(resumed) == without_timing(reference), "rewritten": rewritten,
              "resumed_from_checkpoint": went_on, "resume_seconds": round(time.perf_counter() - resumed_started, 1)}
    shutil.rmtree(run, ignore_errors=True)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    args = parser.parse_args()
    from auxlearn.models.encoder import load_tokenizer

    WORK.mkdir(parents=True, exist_ok=True)
    model = save_tiny_bert(WORK / "tiny-bert", load_tokenizer("all-MiniLM-L6-v2"))
    config = write_yaml(WORK / "run.yaml", experiment_dict(
        model, auxiliary=["mrpc", "stsb"], seeds=[0, 1], data={"max_train_examples": 96},
        train={"steps": 40, "eval_every": 8, "checkpoint_every": 8},
        select={"method": "exhaustive", "seeds": 1, "min_gain": -1.0},  # keeps candidates whatever their gain: all stages run
        mix={"method": "gp-bo", "n_trials": 4, "n_startup_trials": 2, "max_ratio": 3}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    state = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if "reference_seconds" not in state:
        shutil.rmtree(WORK / "whole", ignore_errors=True)
        started = time.perf_counter()
        run_to_end(config, WORK / "whole", env)
        state = {"reference_seconds": round(time.perf_counter() - started, 1), "kills": []}
    reference = json.loads((WORK / "whole" / "results.json").read_text())
    done = {k["kill"] for k in state["kills"]}
    for index in range(args.kills):
        if index in done:
            continue
        record = one_kill(index, config, env, state["reference_seconds"], reference)
        print(json.dumps(record), flush=True)
        state["kills"].append(record)
        kills = state["kills"]
        state["summary"] = {
            "kills": len(kills), "identical": sum(k["identical"] for k in kills),
            "with_rewritten_training": sum(bool(k["rewritten"]) for k in kills),
            "stages": {s: sum(k["stage"] == s for k in kills) for s in ("preparing", "started", *STAGES)},
            "resumed_from_checkpoint": sum(bool(k["resumed_from_checkpoint"]) for k in kills)}
        state["machine"] = machine()
        RESULTS.write_text(json.dumps(state, indent=2) + "\n")
    print(json.dumps(state["summary"], indent=2))


if __name__ == "__main__":
    main()
