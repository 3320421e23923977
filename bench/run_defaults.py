"""`auxlearn run` with its defaults on three real primaries: does the product's main job work as shipped?

Each primary gets a pool of 8 candidates from the mirror (related tasks, and tasks the transfer atlas measured to
hurt), the data caps of the atlas and nothing else: the defaults select, mix, train the final model and its
control, over 5 paired seeds. Where the built-in atlas holds the primary, the ``atlas`` selector leaves its row
out by itself (its gains were measured on the split the run reports).

Per primary it records the selection (and the scores it rested on), the final model's gain over the primary alone
and over the control (mean, 95 % paired t-interval, seeds improved), each stage's seconds, selection + mixing as a
multiple of the baseline's seconds, and the plan's estimated wall time against the real one.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/run_defaults.py [--primaries rte mrpc conll2003_ner]
Resumable: each primary's run folder (bench/work/run_defaults/<primary>) resumes where it stopped, as `run` does;
a finished primary is read back, not trained again. Writes bench/results/run_defaults.json after each primary.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from machine import machine

from auxlearn.io import read_json, write_json_atomic
from auxlearn.stats import paired_t

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "run_defaults"
OUT = ROOT / "bench" / "results" / "run_defaults.json"
TASK_FILES = [str(ROOT / "examples" / "atlas" / "mirror_tasks.yaml")]  # ag_news and rct
CANDIDATE_CAP = 4000  # as in the atlas: every candidate about a pass of 250 batches of 16
SEEDS = [0, 1, 2, 3, 4]

# primary -> (its training cap, its pool). Each pool holds the candidates the literature expects to help (MNLI for
# RTE, QQP for MRPC, POS and chunking for NER) and ones the atlas measured below zero for it or its neighbours.
PRIMARIES = {
    "rte": (300, ["mnli", "qqp", "stsb", "mrpc", "sst2", "cola", "conll2003_pos", "ag_news"]),
    "mrpc": (1000, ["qqp", "mnli", "stsb", "rte", "sst2", "cola", "conll2003_pos", "rct"]),
    "conll2003_ner": (1000, ["conll2003_pos", "conll2000_chunk", "ud_upos", "mnli", "sst2", "cola", "ag_news",
                             "rct"]),
}


def experiment(primary: str) -> dict:
    """The run's experiment: the primary, its pool and the data caps; every other setting is the default."""
    cap, pool = PRIMARIES[primary]
    return {"name": f"run_defaults_{primary}", "primary": primary, "auxiliary": pool, "task_files": TASK_FILES,
            "data": {"max_train_examples": {primary: cap, **dict.fromkeys(pool, CANDIDATE_CAP)}},
            "seeds": SEEDS}


def run(primary: str) -> dict:
    """Train (or resume) the primary's run and summarise its results.json."""
    folder = WORK / primary
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "experiment.yaml"
    config.write_text(yaml.safe_dump(experiment(primary), sort_keys=False))
    command = [sys.executable, "-m", "auxlearn.cli", "run", str(config), "--out", str(folder / "run"),
               "--set", "train.progress=false"]
    started = time.perf_counter()
    if not (folder / "run" / "results.json").is_file():
        # A cache of the bench's own: the plan's timings come from a warm-up on this machine as the bench runs
        # (nothing else running), not from one cached while another job shared the cores.
        subprocess.run(command, check=True, env={**os.environ, "AUXLEARN_CACHE": str(WORK / "cache")})
    wall = time.perf_counter() - started
    return summarise(read_json(folder / "run" / "results.json"), wall)


def summarise(results: dict, wall: float) -> dict:
    stages, seconds = results["stages"], results["seconds"]
    choosing = seconds.get("select", 0.0) + seconds.get("mix", 0.0)
    baseline = stages["baseline"]["seconds"]
    plan = results.get("plan", {})
    estimated = plan.get("estimated_seconds", {}).get("total")
    return {
        "selected": results["selected"], "ratios": results["ratios"],
        "selection_scores": stages["select"].get("scores", {}), "select_method": stages["select"]["method"],
        "mix_method": stages.get("mix", {}).get("method"),
        "eval": {arm: stages[arm]["eval"] for arm in ("baseline", "control", "final") if arm in stages},
        "gain_vs_alone": asdict(paired_t(stages["baseline"]["eval"], stages["final"]["eval"])),
        "gain_vs_control": (asdict(paired_t(stages["control"]["eval"], stages["final"]["eval"]))
                            if "control" in stages else None),
        "best_model": results.get("best_model"),
        "stage_seconds": seconds, "select_and_mix_vs_baseline": choosing / baseline if baseline else None,
        "estimated_seconds": estimated, "wall_seconds_this_call": round(wall, 1),
        "estimate_error": (estimated / seconds["total"] - 1) if estimated and seconds.get("total") else None,
        "config": results["config"], "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primaries", nargs="+", default=list(PRIMARIES), choices=list(PRIMARIES))
    args = parser.parse_args()
    doc = read_json(OUT) if OUT.is_file() else {"what": __doc__.strip().splitlines()[0], "primaries": {}}
    for primary in args.primaries:
        doc["primaries"][primary] = run(primary)
        write_json_atomic(OUT, doc)
        summary = doc["primaries"][primary]
        alone, control = summary["gain_vs_alone"], summary["gain_vs_control"] or {}
        print(f"{primary}: selected {summary['selected']}; vs alone {alone['mean']:+.4f} [{alone['low']}, "
              f"{alone['high']}]; vs control {control.get('mean')} [{control.get('low')}, {control.get('high')}]",
              flush=True)


if __name__ == "__main__":
    main()
