"""AutoSeM on real data: stage-1 cost, where MNLI lands for RTE, agreement with exhaustive pairs, run's eval gain.

Primary RTE, candidates MNLI, QQP, MRPC, SST-2, CoLA, STS-B, all-MiniLM-L6-v2 on CPU; the base settings are
examples/demo.yaml's, every budget is a flag.

(a) stage 1 (the bandit: rounds x round_steps steps, one reward evaluation per round) against the single-task
    baseline with the same step budget and the config's usual evaluation schedule (target ratio <= 1.0);
(b) the stage-1 utilities, plays and wins per arm, where MNLI ranks among the candidates, and the
    history-averaged utility (mean posterior mean over all rounds: with decay 0.3 the final utility reflects
    only the last ~3 rounds and is noisy);
(c) the exhaustive pair gains (primary + each candidate vs primary alone, same budget, dev) and the Spearman
    correlation (scipy) between them and the final / history-averaged utilities;
(d) `run` (baseline -> autosem -> gp-bo -> final) over --seeds: the eval gain over the baseline, mean and std.

Run: .venv/bin/python bench/autosem.py [--parts abcd] [--quick]
Writes bench/results/autosem.json after every part (so an interrupted run keeps what it measured) and prints
a summary. --quick is a smoke setting (tiny slices and budgets) that only checks that everything starts.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
os.environ.setdefault("AUXLEARN_DATA_DIR", str((REPO.parent / "shared" / "data").resolve()))
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")

import yaml  # noqa: E402

RESULTS = HERE / "results"
CANDIDATES = ["mnli", "qqp", "mrpc", "sst2", "cola", "stsb"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="abcd", help="which measurements to run, any of a, b, c, d (default abcd)")
    p.add_argument("--config", default=str(REPO / "examples" / "demo.yaml"), help="base experiment (demo.yaml)")
    p.add_argument("--model", default="all-MiniLM-L6-v2")
    p.add_argument("--max-train", type=int, default=None,
                   help="cap every candidate's train split (default: the config's caps)")
    p.add_argument("--primary-max-train", type=int, default=None, help="cap RTE's train split (default: none)")
    p.add_argument("--dev-size", type=int, default=None, help="data.dev_size (default: the config's)")
    p.add_argument("--steps", type=int, default=None, help="baseline / final steps (default: the config's)")
    p.add_argument("--eval-every", type=int, default=None, help="train.eval_every (default: the config's)")
    p.add_argument("--rounds", type=int, default=None, help="bandit rounds (default: the config's)")
    p.add_argument("--round-steps", type=int, default=None, help="steps per bandit round (default: the config's)")
    p.add_argument("--reward-dev-size", type=int, default=None, help="dev subsample of the reward")
    p.add_argument("--decay", type=float, default=None, help="bandit decay gamma (default 0.3)")
    p.add_argument("--pair-steps", type=int, default=None,
                   help="steps of each exhaustive pair run (default: rounds x round_steps, stage 1's budget)")
    p.add_argument("--mix-trials", type=int, default=None)
    p.add_argument("--mix-steps", type=int, default=None)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of part d (default 0 1 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of parts a-c")
    p.add_argument("--workdir", default=str(REPO / "runs" / "bench-autosem"), help="run folders")
    p.add_argument("--out", default=str(RESULTS / "autosem.json"))
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 64 examples per task, a few steps per stage, one seed")
    args = p.parse_args(argv)
    if set(args.parts) - set("abcd") or not args.parts:
        p.error(f"--parts takes letters among a, b, c, d; got {args.parts!r}")
    if args.quick:
        quick = {"max_train": 64, "primary_max_train": 64, "dev_size": 32, "steps": 4, "eval_every": 2,
                 "rounds": 15, "round_steps": 2, "reward_dev_size": 16, "pair_steps": 4, "mix_trials": 2,
                 "mix_steps": 4}
        for key, value in quick.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        if args.seeds == [0, 1, 2]:
            args.seeds = [0]
        if args.out == str(RESULTS / "autosem.json"):
            args.out = str(RESULTS / "autosem-quick.json")
    return args


def base_document(args) -> dict:
    document = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    document.update(name="bench-autosem", model=args.model, primary="rte", auxiliary=list(CANDIDATES),
                    seed=args.seed)
    data, train = document.setdefault("data", {}), document.setdefault("train", {})
    select, mix = document.setdefault("select", {}), document.setdefault("mix", {})
    caps = dict(data.get("max_train_examples") or {})
    if args.max_train is not None:
        caps.update({t: args.max_train for t in CANDIDATES})
    if args.primary_max_train is not None:
        caps["rte"] = args.primary_max_train
    data["max_train_examples"] = caps or None
    if args.dev_size is not None:
        data["dev_size"] = args.dev_size
    train["progress"] = False
    for key, value in (("steps", args.steps), ("eval_every", args.eval_every)):
        if value is not None:
            train[key] = value
    select["method"] = "autosem"
    for key, value in (("rounds", args.rounds), ("round_steps", args.round_steps),
                       ("reward_dev_size", args.reward_dev_size), ("decay", args.decay)):
        if value is not None:
            select[key] = value
    mix["method"] = "gp-bo"
    for key, value in (("n_trials", args.mix_trials), ("steps", args.mix_steps)):
        if value is not None:
            mix[key] = value
    if args.mix_trials is not None:
        mix["n_startup_trials"] = min(mix.get("n_startup_trials", 5), args.mix_trials)
    document["seeds"] = list(args.seeds)
    return document


def spearman(x: dict, y: dict) -> dict:
    from scipy.stats import spearmanr

    tasks = sorted(set(x) & set(y))
    if len(tasks) < 3:
        return {"rho": None, "p": None, "n": len(tasks)}
    result = spearmanr([x[t] for t in tasks], [y[t] for t in tasks])
    rho, p = float(result.statistic), float(result.pvalue)
    return {"rho": None if rho != rho else rho, "p": None if p != p else p, "n": len(tasks)}


def rank_of(task: str, scores: dict) -> int:
    """1 = best among the candidates (ties by name, as the selection rule orders them)."""
    return sorted(scores, key=lambda t: (-scores[t], t)).index(task) + 1


def history_average(history: list[dict], tasks: list[str]) -> dict:
    rounds = [h for h in history if h["reward"] is not None]
    if not rounds:
        return {t: 0.5 for t in tasks}
    return {t: statistics.fmean(h["alpha"][t] / (h["alpha"][t] + h["beta"][t]) for h in rounds) for t in tasks}


def main(argv=None) -> int:
    args = parse_args(argv)
    from auxlearn.config import experiment_from_dict
    from auxlearn.experiment import prepare, versions
    from auxlearn.io import write_json_atomic

    import torch

    document = base_document(args)
    exp = experiment_from_dict(document, where="bench config")
    work = Path(args.workdir) / ("quick" if args.quick else "full")
    out = Path(args.out)
    report = {"settings": {"args": vars(args), "config": exp.model_dump(mode="json")},
              "machine": {"python": platform.python_version(), "torch_threads": torch.get_num_threads(),
                          "cpus": os.cpu_count(), "platform": platform.platform()},
              "versions": versions()}
    if out.is_file():  # keep the parts of an earlier invocation that this one does not rerun
        earlier = json.loads(out.read_text(encoding="utf-8"))
        report.update({k: v for k, v in earlier.items() if k in ("a", "b", "c", "d") and k not in args.parts})

    def save():
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out, report)

    started = time.perf_counter()
    print(f"preparing data for {exp.tasks} ...", flush=True)
    prepared = prepare(exp)
    print(f"prepared in {time.perf_counter() - started:.0f} s; train sizes "
          + ", ".join(f"{t} {len(d.train)}" for t, d in prepared.data.items()), flush=True)
    selection = None
    if "a" in args.parts or "b" in args.parts:
        selection = part_b(exp, work, prepared, report)
        save()
    if "a" in args.parts:
        part_a(exp, work, prepared, report, selection)
        save()
    if "c" in args.parts:
        part_c(args, document, work, prepared, report)
        save()
    if "d" in args.parts:
        part_d(exp, work, report)
        save()
    report["seconds"] = time.perf_counter() - started
    save()
    print(f"results in {out} ({report['seconds']:.0f} s)")
    return 0


def _budget(exp) -> tuple[int, int, int]:
    """Stage 1's rounds, steps a round and steps in all."""
    rounds, round_steps = exp.select.options.get("rounds", 40), exp.select.options.get("round_steps", 10)
    return rounds, round_steps, rounds * round_steps


def part_b(exp, work, prepared, report):
    """Stage 1 (a, b): the bandit's utilities, and MNLI's rank among them. A fresh folder: the bandit writes
    metrics.jsonl anew anyway."""
    from auxlearn.pipeline import run_select

    rounds, round_steps, _ = _budget(exp)
    selection = run_select(exp, work / "stage1", prepared)
    details = selection.details
    utilities = {t: details["utilities"][t] for t in CANDIDATES}
    averaged = history_average(details["history"], [exp.primary, *CANDIDATES])
    report["b"] = {
        "selected": selection.selected, "utilities": details["utilities"],
        "primary_utility": details["primary_utility"], "plays": details["plays"], "wins": details["wins"],
        "history_averaged_utility": averaged,
        "mnli_rank": rank_of("mnli", utilities),
        "mnli_rank_history_averaged": rank_of("mnli", {t: averaged[t] for t in CANDIDATES}),
        "rounds": rounds, "round_steps": round_steps, "reward_dev_size": details["reward_dev_size"],
        "decay": details["decay"], "history": details["history"], "seconds": selection.seconds,
    }
    print("(b) utilities: " + ", ".join(f"{t} {u:.3f}" for t, u in
                                          sorted(utilities.items(), key=lambda kv: -kv[1]))
          + f"; MNLI rank {report['b']['mnli_rank']} of {len(CANDIDATES)} (history-averaged: "
          f"{report['b']['mnli_rank_history_averaged']}); plays {details['plays']}", flush=True)
    return selection


def part_a(exp, work, prepared, report, selection):
    """The single-task baseline with stage 1's step budget and the config's own evaluation schedule."""
    from auxlearn.experiment import train_experiment

    rounds, _, budget = _budget(exp)
    baseline_exp = exp.variant(auxiliary=[], steps=budget)
    baseline = train_experiment(baseline_exp, work / "stage1_baseline", prepared, save_model=False,
                                score_eval=False)
    bandit = json.loads((work / "stage1" / "select" / "bandit" / "results.json").read_text())
    train_seconds = {"stage1_train": bandit["train_seconds"], "stage1_dev_eval": bandit["dev_eval_seconds"],
                     "baseline_train": baseline["train_seconds"],
                     "baseline_dev_eval": baseline["dev_eval_seconds"]}
    report["a"] = {
        "steps": budget, "stage1_seconds": selection.seconds, "baseline_seconds": baseline["seconds"],
        "ratio": selection.seconds / baseline["seconds"], "target": "<= 1.0", "breakdown": train_seconds,
        "stage1_evaluations": rounds, "baseline_evaluations": -(-budget // baseline_exp.train.eval_every),
        "baseline_eval_every": baseline_exp.train.eval_every,
    }
    print(f"(a) stage 1 {selection.seconds:.1f} s vs single-task baseline {baseline['seconds']:.1f} s "
          f"({budget} steps): ratio {report['a']['ratio']:.2f} (target <= 1.0)", flush=True)


def part_c(args, document, work, prepared, report):
    """Exhaustive pair gains, ranked against the bandit's utilities."""
    from auxlearn.config import experiment_from_dict
    from auxlearn.pipeline import run_select

    pair_steps = args.pair_steps or _budget(experiment_from_dict(document))[2]
    pair_exp = experiment_from_dict({**copy.deepcopy(document),
                                     "select": {"method": "exhaustive", "steps": pair_steps}})
    pairs = run_select(pair_exp, work / "pairs", prepared)
    c = {"steps": pair_steps, "gains": pairs.scores, "primary_alone_dev": pairs.details["primary_alone_dev"],
         "selected": pairs.selected, "mnli_rank": rank_of("mnli", pairs.scores), "seconds": pairs.seconds}
    if "b" in report:
        c["spearman_utility_vs_gain"] = spearman({t: report["b"]["utilities"][t] for t in CANDIDATES},
                                                 pairs.scores)
        c["spearman_history_averaged_utility_vs_gain"] = spearman(
            {t: report["b"]["history_averaged_utility"][t] for t in CANDIDATES}, pairs.scores)
        c["mnli_agrees"] = report["b"]["mnli_rank"] == c["mnli_rank"]
    report["c"] = c
    print("(c) pair gains: " + ", ".join(f"{t} {g:+.4f}" for t, g in
                                         sorted(pairs.scores.items(), key=lambda kv: -kv[1]))
          + "; Spearman vs utilities " + str(c.get("spearman_utility_vs_gain", {}).get("rho")), flush=True)


def part_d(exp, work, report):
    """`auxlearn run` on the bench's experiment: its eval gain over the baseline."""
    from auxlearn.pipeline import run_pipeline

    results = run_pipeline(exp, work / "run")
    stages = results["stages"]
    report["d"] = {
        "seeds": results["seeds"], "gain": results["gain"],
        "baseline": {k: stages["baseline"][k] for k in ("eval", "mean", "std")},
        "final": {k: stages["final"][k] for k in ("eval", "mean", "std")},
        "selected": results["selected"], "ratios": results["ratios"], "metric": results["metric"],
        "seconds": results["seconds"],
    }
    print(f"(d) eval gain of run over the baseline on RTE: {results['gain']['mean']:+.4f} "
          f"± {results['gain']['std']:.4f} over seeds {results['seeds']}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
