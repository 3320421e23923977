"""Accuracy parity of the speed settings: RTE and MRPC, full train sets, the shipped recipes, 5 seeds.

``examples/rte_single.yaml`` and ``examples/mrpc_single.yaml`` are trained per seed once in ``precision: fp32``,
once in the default (``auto``: bfloat16 autocast on a CPU with bfloat16 units, bit dropout), and once in the
default with the word embeddings frozen (``adapter.freeze_word_embeddings``, a recipe change measured before it
could become a default), and each run's *eval* score (the official validation set) is read after training;
nothing is chosen here, so eval is only reported.
Parity holds when an arm's eval mean lies within one standard deviation (the smaller of the two) of ``auto``'s.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/precision_parity.py [--seeds 0 1 2 3 4]
Adds to bench/results/precision_parity.json after every run; a (task, arm, seed) already recorded is not
trained again, so an interrupted bench resumes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from machine import machine

from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.io import write_json_atomic
from auxlearn.stats import mean_std, paired_t

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"rte": ROOT / "examples" / "rte_single.yaml", "mrpc": ROOT / "examples" / "mrpc_single.yaml"}
RESULTS = ROOT / "bench" / "results" / "precision_parity.json"
# arm -> its overrides of the shipped recipe
ARMS = {"auto": ["train.precision=auto"], "fp32": ["train.precision=fp32"],
        "auto_frozen_word_embeddings": ["train.precision=auto", "adapter.freeze_word_embeddings=true"]}
# Recorded, not trained again (no setting brings its code back): the default before bit dropout (torch's masks).
PREVIOUS = "auto_torch_dropout"


def summarise(record: dict) -> dict:
    summary = {}
    for task in CONFIGS:
        runs = {p: record["runs"].get(f"{task}/{p}", {}) for p in ARMS}
        seeds = sorted(set(runs["auto"]) & set(runs["fp32"]), key=int)  # paired: the seeds both have
        if not seeds:
            continue
        stats = {}
        for p in ARMS:
            if not all(s in runs[p] for s in seeds):
                continue
            mean, std = mean_std([runs[p][s]["eval"] for s in seeds])
            stats[p] = {"eval_mean": mean, "eval_std": std,
                        "resolved": sorted({runs[p][s]["precision"] for s in seeds}),
                        "train_seconds_mean": mean_std([runs[p][s]["train_seconds"] for s in seeds])[0]}
        recorded = record["runs"].get(f"{task}/{PREVIOUS}", {})
        previous = [recorded[s]["eval"] for s in seeds if s in recorded]
        if len(previous) == len(seeds):
            mean, std = mean_std(previous)
            stats[PREVIOUS] = {"eval_mean": mean, "eval_std": std}
        gaps = {}
        for arm in (a for a in ARMS if a != "auto" and a in stats):
            paired = paired_t({s: runs["auto"][s]["eval"] for s in seeds}, {s: runs[arm][s]["eval"] for s in seeds})
            gap = abs(stats["auto"]["eval_mean"] - stats[arm]["eval_mean"])
            gaps[arm] = {"gap": gap, "paired_difference": [paired.mean, paired.std],
                         "paired_interval": [paired.low, paired.high],
                         "train_seconds_vs_auto": stats[arm]["train_seconds_mean"] / stats["auto"]["train_seconds_mean"],
                         "within_one_std": gap <= min(stats["auto"]["eval_std"], stats[arm]["eval_std"])}
        summary[task] = {**stats, "seeds": [int(s) for s in seeds], "vs_auto": gaps,
                         "gap": gaps["fp32"]["gap"], "within_one_std": gaps["fp32"]["within_one_std"],
                         "train_speedup": stats["fp32"]["train_seconds_mean"] / stats["auto"]["train_seconds_mean"]}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--tasks", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args()
    record: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    prepared: dict = {}
    for seed in args.seeds:  # seed-major: an interrupted bench still has paired seeds of every arm
        for task in args.tasks:
            for arm in args.arms:
                runs = record["runs"].setdefault(f"{task}/{arm}", {})
                if str(seed) in runs:
                    continue
                exp = load_experiment(CONFIGS[task], [f"seed={seed}", *ARMS[arm], "train.progress=false"])
                if task not in prepared:
                    prepared[task] = prepare(exp)
                results = train_experiment(exp, None, prepared[task])
                runs[str(seed)] = {"eval": results["eval"][task]["main"], "dev": results["dev_best"][task]["main"],
                                   "precision": results["precision"], "best_step": results["best_step"],
                                   "steps": results["steps"], "train_seconds": results["train_seconds"],
                                   "threads": results["threads"], "machine": machine()}
                record["summary"] = summarise(record)
                write_json_atomic(RESULTS, record)
                print(f"{task} {arm}->{results['precision']} seed {seed}: eval {runs[str(seed)]['eval']:.4f} "
                      f"dev {runs[str(seed)]['dev']:.4f} ({results['train_seconds']:.0f} s)", flush=True)
    print(json.dumps(record.get("summary", {}), indent=2))


if __name__ == "__main__":
    main()
