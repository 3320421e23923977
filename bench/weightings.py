"""What each loss weighting costs per step: all-MiniLM-L6-v2, RTE + MRPC, batch 16, fp32 or bf16 as the CPU allows.

Each weighting trains the same joint arm for ``--steps`` steps without evaluation in between; the figure is
training seconds per step, and per task batch (a step of ``single`` trains one task's batch, the others every
task's). The extra cost of a Jacobian weighting over ``static`` at the same batches is its Jacobian and
aggregation.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/weightings.py [--steps 30]
Writes bench/results/weightings.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from machine import machine

from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.io import write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "weightings.json"
WEIGHTINGS = ["single", "static", "upgrad", "pcgrad", "mgda"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    base = load_experiment(ROOT / "examples" / "rte_single.yaml", [
        "auxiliary=[mrpc]", f"train.steps={args.steps}", f"train.eval_every={args.steps}", "train.patience=null",
        "train.progress=false", "train.sampler.name=uniform", "transfer.protocol=joint",
        "transfer.budget=equal_total", "data.max_train_examples=512"])
    prepared = prepare(base)
    rows = {}
    for name in WEIGHTINGS:
        exp = base.variant(weighting={"name": name})
        results = train_experiment(exp, None, prepared, save_model=False, score_eval=False)
        batches = sum(results["task_steps"].values())
        rows[name] = {"steps": results["steps"], "task_batches": batches,
                      "seconds_per_step": round(results["train_seconds"] / results["steps"], 3),
                      "seconds_per_task_batch": round(results["train_seconds"] / batches, 3),
                      "mean_weights": results["weighting"]["mean_weights"], "precision": results["precision"]}
        print(name, json.dumps(rows[name]), flush=True)
    static = rows["static"]["seconds_per_step"]
    for row in rows.values():
        row["vs_static"] = round(row["seconds_per_step"] / static, 2)
    write_json_atomic(RESULTS, {"model": base.model, "tasks": ["rte", "mrpc"], "batch_size": base.train.batch_size,
                                "weightings": rows, "machine": machine()})


if __name__ == "__main__":
    main()
