"""GradTS cost and ranking with all-MiniLM-L6-v2 on real GLUE data, CPU.

1. (default) Head importance for the primary RTE and 6 candidates (mnli, qqp, mrpc, sst2, cola, stsb) with the
   selector's default settings (fine-tune + importance pass per task, cache off) against one single-task
   baseline run of ``examples/rte_single.yaml`` (target: ratio <= 1.0). Records the tau ranking and where MNLI
   lands in it. Encoding (tokenisation) is done once beforehand and excluded from both sides.
2. (``--compare``) For the primaries RTE, MRPC and STS-B: ``auxlearn run`` with GradTS (trial), AutoSeM and the
   exhaustive pairs as selectors (mix uniform, 3 seeds, one shared baseline per primary): selection, selection
   seconds, final eval gain; the Spearman correlation of GradTS's taus and of AutoSeM's utilities with the
   exhaustive pair gains; and the study report (task x task matrices) of the nine run folders.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/gradts.py [--compare] [--big-cap 20000]
Writes bench/results/gradts.json (part 1) and bench/results/gradts_compare.json (part 2).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from auxlearn.config import experiment_from_dict
from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.io import write_json_atomic
from auxlearn.select.gradts.selector import GradTSSelector
from auxlearn.stage import Stage

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CANDIDATES = ["mnli", "qqp", "mrpc", "sst2", "cola", "stsb"]
BIG = ("mnli", "qqp", "sst2", "qnli")


def machine() -> dict:
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average_at_start": os.getloadavg()}


def part_cost(big_cap: int, options: dict, baseline_steps: int | None) -> dict:
    base = load_experiment(ROOT / "examples" / "rte_single.yaml")
    doc = base.model_dump(mode="json")
    doc.update(auxiliary=CANDIDATES)
    # The big tasks are capped for encoding speed only: importance reads a small subsample either way.
    doc["data"]["max_train_examples"] = {t: big_cap for t in BIG}
    doc["train"]["progress"] = False
    exp = experiment_from_dict(doc)
    t0 = time.perf_counter()
    prepared = prepare(exp)
    prepare_seconds = time.perf_counter() - t0

    out = Path(tempfile.mkdtemp(prefix="gradts-bench-"))
    # The baseline first (so its figure exists even if the importance part is interrupted).
    # --baseline-steps k (a divisor of 420, e.g. 35 = one dev-evaluation period) times the first k steps and
    # extrapolates to 420: 420/k x (training + dev evaluation) + the final eval scoring once.
    full_steps = base.train.steps
    k = baseline_steps or full_steps
    single = base.variant(progress=False, steps=k)
    t0, c0 = time.perf_counter(), time.process_time()
    baseline = train_experiment(single, out / "baseline", prepared, save_model=False)
    baseline_measured, baseline_cpu_measured = time.perf_counter() - t0, time.process_time() - c0
    scale = full_steps / k
    loop = baseline["train_seconds"] + baseline["dev_eval_seconds"]
    baseline_seconds = baseline_measured + (scale - 1) * loop
    baseline_cpu = baseline_cpu_measured * (baseline_seconds / baseline_measured)
    print(f"baseline: {k} steps in {baseline_measured:.0f}s -> {full_steps} steps ~ {baseline_seconds:.0f}s",
          flush=True)

    selector = GradTSSelector(GradTSSelector.Options(mode="top_k", top_k=len(CANDIDATES), cache=False, **options))
    t0, c0 = time.perf_counter(), time.process_time()
    selection = selector.select(Stage(exp, prepared, out / "select"))
    importance_seconds, importance_cpu = time.perf_counter() - t0, time.process_time() - c0
    costs = selection.details["costs"]
    ranking = [r["task"] for r in selection.details["ranking"]]
    return {
        "primary": "rte",
        "candidates": CANDIDATES,
        "settings": selection.options,
        "prepare_seconds_excluded": round(prepare_seconds, 1),
        "importance_seconds_total": round(importance_seconds, 1),
        "per_task": costs,
        "baseline_seconds": round(baseline_seconds, 1),
        "baseline_measured_steps": k,
        "baseline_measured_seconds": round(baseline_measured, 1),
        "baseline_extrapolated": k != full_steps,
        "baseline": {k: baseline[k] for k in ("steps", "best_step", "train_seconds", "dev_eval_seconds")},
        "baseline_eval_at_measured_steps": baseline["eval"]["rte"],
        "ratio": round(importance_seconds / baseline_seconds, 3),
        "importance_cpu_seconds": round(importance_cpu, 1),
        "baseline_cpu_seconds": round(baseline_cpu, 1),
        "ratio_cpu": round(importance_cpu / baseline_cpu, 3),
        "target_ratio": 1.0,
        "ranking": selection.details["ranking"],
        "mnli_rank": ranking.index("mnli") + 1,
        "machine": machine(),
    }


def spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def part_compare(big_cap: int, seeds: list[int], steps: int, eval_every: int, study: Path) -> dict:
    """Per primary: GradTS (trial), AutoSeM and exhaustive pairs, each a full `run` (mix uniform) over ``seeds``.

    The baseline is trained once per primary (the GradTS run) and reused by the other two (``baseline_from``).
    AutoSeM gets ``steps`` bandit steps (rounds of 10), the exhaustive pairs ``steps`` each, GradTS's trials
    ``steps`` each: every selector's unit of work is one training run of the final model's length.
    """
    from auxlearn.pipeline import run_pipeline
    from auxlearn.report import write_report

    pool = ["rte", "mrpc", "stsb", "mnli", "qqp", "sst2", "cola"]
    selectors = {"gradts": {"mode": "trial"},
                 "autosem": {"rounds": max(2, steps // 10), "round_steps": 10, "reward_dev_size": 128},
                 "exhaustive": {}}
    out: dict = {"seeds": seeds, "steps": steps, "eval_every": eval_every, "big_cap": big_cap,
                 "study_dir": str(study), "results": {}, "machine": machine()}
    for primary in ("rte", "mrpc", "stsb"):
        rows = {}
        for method, options in selectors.items():
            exp = experiment_from_dict({
                "name": f"{primary}-{method}", "primary": primary, "auxiliary": [t for t in pool if t != primary],
                "data": {"max_length": 128, "max_train_examples": {t: big_cap for t in pool if t != primary}},
                "train": {"steps": steps, "batch_size": 16, "eval_every": eval_every, "patience": 6,
                          "progress": False},
                "select": {"method": method, **options}, "mix": {"method": "uniform"}, "seeds": seeds,
            })
            first = study / primary / "gradts"
            results = run_pipeline(exp, study / primary / method, baseline_from=None if method == "gradts" else first)
            rows[method] = {"selected": results["selected"], "scores": results["stages"]["select"]["scores"],
                            "select_seconds": results["seconds"]["select"], "gain": results["gain"],
                            "baseline": results["stages"]["baseline"]["eval"],
                            "final": results["stages"]["final"]["eval"], "total_seconds": results["seconds"]["total"]}
            print(f"{primary} {method}: selected {results['selected']} in {results['seconds']['select']:.0f} s; "
                  f"gain {results['gain']['mean']:+.4f} ± {results['gain']['std']:.4f}", flush=True)
        gains = rows["exhaustive"]["scores"]
        for method in ("gradts", "autosem"):
            scores = rows[method]["scores"]
            tasks = sorted(set(scores) & set(gains))
            rows[method]["spearman_vs_pair_gain"] = spearman([scores[t] for t in tasks], [gains[t] for t in tasks])
        out["results"][primary] = rows
        write_json_atomic(RESULTS / "gradts_compare.json", out)  # after every primary: a partial run keeps it
    out["mean_gain"] = {m: statistics.fmean(r[m]["gain"]["mean"] for r in out["results"].values())
                        for m in selectors}
    out["study_report"] = str(write_report(study))
    return out


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true", help="also run the 3-primary comparison (slow)")
    parser.add_argument("--skip-cost", action="store_true", help="skip part 1")
    parser.add_argument("--big-cap", type=int, default=20000, help="train examples kept of mnli/qqp/sst2/qnli (cost part), of every candidate (--compare)")
    parser.add_argument("--finetune-examples", type=int, default=None)
    parser.add_argument("--importance-examples", type=int, default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=150, help="train.steps of the --compare runs")
    parser.add_argument("--eval-every", type=int, default=25, help="train.eval_every of the --compare runs")
    parser.add_argument("--study", default=str(ROOT / "runs" / "gradts-compare"),
                        help="run folders of --compare (a study: `auxlearn report` draws its task x task matrix)")
    parser.add_argument("--baseline-steps", type=int, default=None,
                        help="time only this many baseline steps and extrapolate to 420 (e.g. 35 on a busy machine)")
    args = parser.parse_args()
    options = {k: v for k, v in (("finetune_examples", args.finetune_examples),
                                 ("importance_examples", args.importance_examples)) if v is not None}
    RESULTS.mkdir(parents=True, exist_ok=True)
    if not args.skip_cost:
        result = part_cost(args.big_cap, options, args.baseline_steps)
        write_json_atomic(RESULTS / "gradts.json", result)
        print(f"importance {result['importance_seconds_total']:.0f}s vs baseline {result['baseline_seconds']:.0f}s:"
              f" ratio {result['ratio']:.2f} (target <= 1.0); process CPU time ratio {result['ratio_cpu']:.2f}")
        print("ranking: " + ", ".join(f"{r['task']} {r['tau']:.3f}" for r in result["ranking"]))
        print(f"MNLI rank: {result['mnli_rank']} of {len(CANDIDATES)}")
    if args.compare:
        result = part_compare(args.big_cap, args.seeds, args.steps, args.eval_every, Path(args.study))
        write_json_atomic(RESULTS / "gradts_compare.json", result)
        print(result["mean_gain"])


if __name__ == "__main__":
    main()
