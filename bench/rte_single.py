"""Single-task RTE with all-MiniLM-L6-v2 (issue 2's accuracy target): recipe variants over several seeds, CPU.

Every variant is ``examples/rte_single.yaml`` with some ``--set`` overrides (all about 3 epochs). Each is trained
with each seed; the variant chosen is the one with the best *mean dev* score (dev is carved from train), and only
then is its *eval* score (the official validation set) read. All variants' eval figures are written too, so the
record shows every attempt, but none of them takes part in the choice.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/rte_single.py [--variants shipped lr3e-5] [--seeds 0 1 2]
Adds to bench/results/rte_single.json after every run, so the file keeps every attempt of every session; a
(variant, seed) already recorded is not trained again. The choice is made among the variants that have every
requested seed, so they stand on equal footing. Delete the file to start over (e.g. after a change to the trainer).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.io import write_json_atomic
from auxlearn.stats import mean_std

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "rte_single.yaml"
RESULTS = ROOT / "bench" / "results" / "rte_single.json"
VARIANTS = {
    "shipped": [],
    "lr3e-5": ["train.lr=3e-5"],
    "lr1e-4": ["train.lr=1e-4"],
    "batch32": ["train.batch_size=32", "train.steps=210", "train.eval_every=35"],
    "cls": ["pooling=cls"],
    "len256": ["data.max_length=256"],  # 12 % of RTE's train pairs exceed 128 tokens, 0.1 % exceed 256
    "batch8": ["train.batch_size=8", "train.steps=840", "train.eval_every=70"],  # twice the updates per epoch
    "head_lr1e-3": ["train.head_lr=1e-3"],  # the random head learns in the first epoch, not after it
    "batch8_head_lr1e-3": ["train.batch_size=8", "train.steps=840", "train.eval_every=70", "train.head_lr=1e-3"],
    # all-MiniLM-L6-v2 was trained as a bi-encoder: read each text alone and compare (SBERT's u, v, |u-v|, u*v)
    "siamese": ["pair_encoding=siamese"],
    "siamese_head_lr1e-3": ["pair_encoding=siamese", "train.head_lr=1e-3"],
}


def summary(runs: list[dict]) -> dict:
    eval_mean, eval_std = mean_std([r["eval"] for r in runs])
    return {"dev_mean": mean_std([r["dev"] for r in runs])[0], "eval_mean": eval_mean, "eval_std": eval_std,
            "seeds": [r["seed"] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    record: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"config": CONFIG.name, "variants": {}}
    prepared: dict = {}
    for seed in args.seeds:  # seed-major: an interrupted run still compares the variants on the same seeds
        for name in args.variants:
            entry = record["variants"].setdefault(name, {"overrides": VARIANTS[name], "runs": []})
            if any(r["seed"] == seed for r in entry["runs"]):
                continue
            exp = load_experiment(CONFIG, [*VARIANTS[name], f"seed={seed}", "train.progress=false"])
            # The data and tokenizer are shared by variants that agree on them.
            data_key = (exp.data.model_dump_json(), exp.pair_encoding)
            if data_key not in prepared:
                prepared[data_key] = prepare(exp)
            with tempfile.TemporaryDirectory() as tmp:
                result = train_experiment(exp, tmp, prepared[data_key], save_model=False)
            run = {"seed": seed, "dev": result["dev_best"]["rte"]["main"], "eval": result["eval"]["rte"]["main"],
                   "best_step": result["best_step"], "steps": result["steps"], "seconds": result["seconds"],
                   "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}
            entry["runs"].append(run)
            entry.update(summary(entry["runs"]))
            write_json_atomic(RESULTS, record)
            print(f"{name} seed {seed}: dev {run['dev']:.4f} eval {run['eval']:.4f} "
                  f"(best step {run['best_step']}, {run['seconds']:.0f} s)", flush=True)
    # One choice per seed set, over exactly those seeds, among the variants that have all of them.
    on_seeds = {v: summary([r for r in e["runs"] if r["seed"] in args.seeds]) for v, e in record["variants"].items()
                if set(args.seeds) <= {r["seed"] for r in e["runs"]}}
    name = max(on_seeds, key=lambda v: on_seeds[v]["dev_mean"])
    chosen = {"variant": name, "among": sorted(on_seeds), **on_seeds[name]}
    record["choices"] = [c for c in record.get("choices", []) if c["seeds"] != chosen["seeds"]] + [chosen]
    write_json_atomic(RESULTS, record)
    print(f"chosen by mean dev: {chosen['variant']}: dev {chosen['dev_mean']:.4f}, "
          f"eval {chosen['eval_mean']:.4f} ± {chosen['eval_std']:.4f} over seeds {chosen['seeds']}")


if __name__ == "__main__":
    main()
