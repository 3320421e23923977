"""Where auxiliary tasks help: three primaries, their candidate pools, every protocol x budget for one named
candidate, controls, exhaustive pair gains, and `auxlearn run` with its defaults. all-MiniLM-L6-v2 on CPU.

Primaries (methods and pools as the transfer issue names them):
* RTE (full train) with MNLI, QQP, MRPC, STS-B, SST-2, CoLA (big ones capped); named candidate MNLI;
* CoNLL-2003 NER with 1,000 training sentences, with CoNLL-2003 POS, CoNLL-2000 chunking, UD EWT UPOS, SST-2;
  named candidate CoNLL-2000 chunking;
* MRPC with 1,000 training pairs, with QQP, STS-B, RTE, MNLI; named candidate QQP.

Each cell (primary, arm, seed) is one trained arm scored on the official validation split (``eval``), which
chooses nothing. Cells are written to ``bench/results/transfer.json`` as they finish, so a killed bench
continues where it stopped; the summary (mean, std, paired t interval against the primary alone and against
the matching control, seconds per arm) is recomputed from the cells after each one.

Run: AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/transfer.py [--primary rte] [--part named]
Parts, in order: ``named`` (alone + the named candidate's 4 arms + controls, 5 seeds), ``pairs`` (exhaustive pair
gains, 3 seeds), ``run`` (`auxlearn run` with its defaults, 5 seeds), ``selectors`` (AutoSeM and GradTS
rankings against the pair gains).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch
from scipy import stats

from auxlearn.config import Experiment, experiment_from_dict
from auxlearn.experiment import Prepared, prepare, train_experiment
from auxlearn.io import read_json, write_json_atomic
from auxlearn.pipeline import run_pipeline, run_select
from auxlearn.stats import paired_t

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "transfer.json"
RUNS = ROOT / "bench" / "work" / "transfer_run"  # not committed (.gitignore)
SEEDS = [0, 1, 2, 3, 4]
PAIR_SEEDS = [0, 1, 2]
CAP = 6000  # training examples of each big candidate: MNLI at 6,000 pairs is where the issue measured +6 on RTE
PRIMARIES: dict[str, dict[str, Any]] = {
    "rte": {"primary": "rte", "candidates": ["mnli", "qqp", "mrpc", "stsb", "sst2", "cola"], "named": "mnli",
            "primary_cap": None, "train": {"steps": 420, "batch_size": 16, "eval_every": 35, "patience": 6}},
    "ner": {"primary": "conll2003_ner", "candidates": ["conll2003_pos", "conll2000_chunk", "ud_upos", "sst2"],
            "named": "conll2000_chunk", "primary_cap": 1000,
            "train": {"steps": 300, "batch_size": 16, "eval_every": 30, "patience": 6}},
    "mrpc": {"primary": "mrpc", "candidates": ["qqp", "stsb", "rte", "mnli"], "named": "qqp", "primary_cap": 1000,
             "train": {"steps": 300, "batch_size": 16, "eval_every": 30, "patience": 6}},
}
# The named candidate's arms: (protocol, budget); ratios 1:1 in round robin, so equal_primary doubles the steps.
NAMED_ARMS = {"joint_equal_total": ("joint", "equal_total"), "joint_equal_primary": ("joint", "equal_primary"),
              "sequential": ("sequential", "equal_primary"),
              "joint_then_finetune": ("joint_then_finetune", "equal_primary")}


def base_experiment(key: str, **sections: Any) -> Experiment:
    """The primary with its whole candidate pool; ``sections`` replace top-level config keys (transfer, seeds...)."""
    spec = PRIMARIES[key]
    caps = {t: CAP for t in spec["candidates"]}
    if spec["primary_cap"]:
        caps[spec["primary"]] = spec["primary_cap"]
    return experiment_from_dict({
        "name": f"transfer-{key}", "primary": spec["primary"], "auxiliary": spec["candidates"],
        "data": {"max_length": 128, "max_train_examples": caps},
        "train": {**spec["train"], "lr": 5e-5, "progress": False}, **sections,
    })


def load() -> dict[str, Any]:
    return read_json(OUT) if OUT.is_file() else {"cells": {}}


def save(doc: dict[str, Any]) -> None:
    doc["summary"] = summarise(doc["cells"])
    doc["cpu_seconds"] = sum(c.get("cpu_seconds", 0.0) for c in doc["cells"].values())
    doc["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__}
    write_json_atomic(OUT, doc)


def cell(doc: dict, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``work`` unless the cell is already recorded; record it with its wall and CPU seconds."""
    if name in doc["cells"]:
        return doc["cells"][name]
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    doc["cells"][name] = {**result, "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu}
    save(doc)
    print(f"    -> {result.get('eval')}  ({doc['cells'][name]['seconds']:.0f} s)", flush=True)
    return doc["cells"][name]


def arm(exp: Experiment, prepared: Prepared, folder: Path) -> dict[str, Any]:
    results = train_experiment(exp, folder, prepared, save_model=False)
    return {"eval": results["eval"][exp.primary]["main"], "dev": results["dev_best"][exp.primary]["main"],
            "steps": results["steps"], "planned_steps": results["planned_steps"],
            "primary_steps": results["primary_steps"], "protocol": results["protocol"],
            "degenerate": results["degenerate"].get(exp.primary, False)}


def part_named(doc: dict, key: str, work: Path) -> None:
    base = base_experiment(key)
    named = PRIMARIES[key]["named"]
    prepared = prepare(base, [base.primary, named])
    arm_bases = {name: base_experiment(key, transfer={"protocol": protocol, "budget": budget})
                 for name, (protocol, budget) in NAMED_ARMS.items()}
    controls = set()
    for seed in SEEDS:
        alone = base.variant(auxiliary=[], seed=seed)
        cell(doc, f"{key}/alone/{seed}", lambda: arm(alone, prepared, work / "alone"))
        for name, arm_base in arm_bases.items():
            exp = arm_base.variant(auxiliary=[named], seed=seed,
                                   sampler={"name": "round_robin", "ratios": {base.primary: 1, named: 1}})
            steps = cell(doc, f"{key}/{named}:{name}/{seed}", lambda: arm(exp, prepared, work / name))["planned_steps"]
            if steps > base.train.steps:
                controls.add(steps)
        for steps in sorted(controls):
            control = base.variant(auxiliary=[], seed=seed, steps=steps)
            cell(doc, f"{key}/control_{steps}/{seed}", lambda: arm(control, prepared, work / f"control_{steps}"))


def part_pairs(doc: dict, key: str, work: Path) -> None:
    base = base_experiment(key)
    prepared = prepare(base)
    for seed in PAIR_SEEDS:
        for candidate in PRIMARIES[key]["candidates"]:
            exp = base.variant(auxiliary=[candidate], seed=seed)
            cell(doc, f"{key}/pair:{candidate}/{seed}", lambda: arm(exp, prepared, work / f"pair_{candidate}"))


def part_run(doc: dict, key: str, work: Path) -> None:
    """One `auxlearn run` per primary, in a folder kept between sessions: a killed run resumes where it stopped
    (its finished seeds, trials and stages are read back), so the hours it costs are never spent twice."""
    exp = base_experiment(key, seeds=SEEDS)

    def run() -> dict[str, Any]:
        results = run_pipeline(exp, RUNS / key)
        return {"eval": results["stages"]["final"]["eval"], "baseline": results["stages"]["baseline"]["eval"],
                "control": results["stages"].get("control", {}).get("eval"), "selected": results["selected"],
                "ratios": results["ratios"], "protocol": results["stages"]["final"].get("protocol"),
                "stage_seconds": results["seconds"], "config": results["config"]}

    cell(doc, f"{key}/run_defaults", run)


def part_selectors(doc: dict, key: str, work: Path) -> None:
    for method in ("autosem", "gradts"):
        exp = base_experiment(key, select={"method": method})

        def select() -> dict[str, Any]:
            selection = run_select(exp, work / f"select_{method}")
            return {"eval": None, "selected": selection.selected, "scores": selection.scores}

        cell(doc, f"{key}/selector:{method}", select)


def paired(a: dict[str, float], b: dict[str, float]) -> dict[str, Any]:
    """``a`` − ``b`` seed by seed, with its paired t analysis."""
    return asdict(paired_t(b, a))


def summarise(cells: dict[str, dict]) -> dict[str, Any]:
    """Per primary: each arm's scores by seed, mean, std, seconds, and paired comparisons with the primary alone
    and with the control of the same total steps; pair gains; selector rankings (Spearman vs pair gains)."""
    arms: dict[str, dict[str, dict]] = {}
    for name, result in cells.items():
        key, arm_name, *seed = name.split("/")
        arms.setdefault(key, {}).setdefault(arm_name, {})[seed[0] if seed else "-"] = result
    summary = {}
    for key, by_arm in arms.items():
        alone = {s: r["eval"] for s, r in by_arm.get("alone", {}).items()}
        rows = {}
        for arm_name, by_seed in by_arm.items():
            scores = {s: r["eval"] for s, r in by_seed.items() if isinstance(r.get("eval"), float)}
            if not scores:
                continue
            row = {"eval": scores, "mean": statistics.mean(scores.values()),
                   "std": statistics.stdev(scores.values()) if len(scores) > 1 else 0.0,
                   "seconds": statistics.mean(r["seconds"] for r in by_seed.values()),
                   "planned_steps": next(iter(by_seed.values())).get("planned_steps"),
                   "primary_steps": statistics.mean(r.get("primary_steps", 0) for r in by_seed.values()),
                   "degenerate": sum(bool(r.get("degenerate")) for r in by_seed.values())}
            if arm_name != "alone" and alone:
                row["vs_alone"] = paired(scores, alone)
                control = by_arm.get(f"control_{row['planned_steps']}")
                if control and not arm_name.startswith("control_"):
                    row["vs_control"] = paired(scores, {s: r["eval"] for s, r in control.items()})
            rows[arm_name] = row
        pair_gains = {a.split(":", 1)[1]: rows[a]["vs_alone"]["mean"] for a in rows
                      if a.startswith("pair:") and "vs_alone" in rows[a]}
        ranks = {}
        for arm_name, by_seed in by_arm.items():
            if arm_name.startswith("selector:") and pair_gains:
                scores = by_seed["-"]["scores"]
                common = [t for t in pair_gains if t in scores]
                if len(common) >= 3:
                    rho = stats.spearmanr([scores[t] for t in common], [pair_gains[t] for t in common]).statistic
                    ranks[arm_name.split(":", 1)[1]] = {"spearman": float(rho), "selected": by_seed["-"]["selected"]}
        run = by_arm.get("run_defaults", {}).get("-")
        if run:
            rows["run_defaults"] = {"vs_baseline": paired(run["eval"], run["baseline"]),
                                    **({"vs_control": paired(run["eval"], run["control"])} if run["control"] else {}),
                                    "selected": run["selected"], "protocol": run["protocol"],
                                    "seconds": run["seconds"]}
        summary[key] = {"arms": rows, "pair_gains": pair_gains, "selector_spearman": ranks}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--primary", action="append", choices=sorted(PRIMARIES), help="default: all, in order")
    parser.add_argument("--part", action="append", choices=["named", "pairs", "run", "selectors"],
                        help="default: all, in order")
    args = parser.parse_args()
    doc = load()
    parts = {"named": part_named, "pairs": part_pairs, "run": part_run, "selectors": part_selectors}
    for part in args.part or list(parts):
        for key in args.primary or list(PRIMARIES):
            with tempfile.TemporaryDirectory(prefix=f"transfer-{key}-") as work:
                parts[part](doc, key, Path(work))
    save(doc)


if __name__ == "__main__":
    main()
