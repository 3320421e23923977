"""AANG on a sentence encoder (issue 33): do generated objectives weighted by their alignment with the dev gradient
(Dery et al., ICLR 2023) beat the primary alone, TAPT (Gururangan et al., 2020) and static weighting, once their LM
heads are warmed? Paired seeds, macro-F1 on each primary's official evaluation split (eval; dev, carved from
train, chooses checkpoints, and nothing here looks at eval to choose).

Primaries (all-MiniLM-L6-v2, which has no pretrained masked-LM head), S = the example's train.steps:
- ``citation_intent`` (ACL-ARC, 1,519 training sentences after the dev carve; ``examples/citation_intent_aang.yaml``);
- ``news`` (AG News, 500 labelled headlines; ``examples/news_aang.yaml``).

Arms, each objective arm with and without head warm-up (``_warm``: ``objectives.head_warmup`` at its default, the
LM heads fitted on the text with the encoder frozen first; without: 0, heads from random weights):
- ``alone``: the primary alone for 2S steps, as many primary batches as the two-phase arms give it;
- ``tapt``: BERT's masked LM on the primary's training text for S steps, then the primary for S steps;
- ``static``: aang_static over the config's space (vbasic: 14 denoising objectives; 3 sampled per step, uniform
  weights), S steps, then AANG's final fine-tuning for S steps;
- ``aang``: the same with the weights learned from the dev gradient;
- ``aang_untied`` (not run by default): ``aang_warm`` with untied LM heads (``objectives.untie_heads``).

Each (primary, arm, seed) cell trains into ``bench/work/aang/<primary>/<arm>/seed_<seed>`` (gitignored); a killed
bench re-run goes on where it stopped (a cell recorded under the same identity is skipped, a finished arm is read
back, a running one resumes from its checkpoint). A cell's row holds its curves: the primary's dev score and every
task's training loss per evaluation interval, over the arm's phases; the summary averages them over seeds (the
evidence if no arm can beat the primary alone on this encoder). Runs recorded before warm-up existed (citation
intent, seeds 0 and 1) are kept under ``earlier``.

Run:     AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/aang.py [--primaries ...] [--seeds 0 1 2 3 4] &
Smoke:   AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/aang.py --smoke   (a tiny random BERT, 2 steps,
         2 seeds; results in /tmp/auxlearn-aang-smoke/aang.json, never in bench/results)
Writes bench/results/aang.json after every cell.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from statistics import fmean
from typing import Any

from machine import machine

from auxlearn.arm_plan import phase_folder
from auxlearn.config import experiment_from_dict
from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.identity import config_identity
from auxlearn.io import read_json, write_json_atomic
from auxlearn.mix import MIXERS, build_mixer
from auxlearn.stage import Stage
from auxlearn.stats import mean_std, paired_t

ROOT = Path(__file__).resolve().parents[1]
PRIMARIES = {"citation_intent": "examples/citation_intent_aang.yaml", "news": "examples/news_aang.yaml"}
# arm: (how it trains, whether its LM heads are warmed, objectives settings beyond that)
ARMS = {"alone": ("alone", False, {}), "tapt": ("tapt", False, {}), "tapt_warm": ("tapt", True, {}),
        "static": ("aang_static", False, {}), "static_warm": ("aang_static", True, {}),
        "aang": ("aang", False, {}), "aang_warm": ("aang", True, {}),
        "aang_untied": ("aang", True, {"untie_heads": True})}
DEFAULT_ARMS = [arm for arm in ARMS if arm != "aang_untied"]
COMPARED = [("tapt_warm", "tapt"), ("static_warm", "static"), ("aang_warm", "aang"), ("aang", "tapt"),
            ("aang", "static"), ("aang_warm", "tapt_warm"), ("aang_warm", "static_warm"), ("aang_untied", "aang_warm")]
SMOKE = {"train": {"steps": 2, "eval_every": 1, "batch_size": 8, "patience": None},
         "data": {"max_train_examples": 32, "dev_size": 16, "max_length": 32}, "objectives": {"head_warmup": 2}}


def variant(base, arm: str, seed: int, prepared, work: Path):
    """The experiment an arm trains for ``seed``."""
    method, warm, objectives = ARMS[arm]
    primary, document = base.primary, base.model_dump(mode="json")
    document["seed"] = seed
    document["objectives"].update(head_warmup=base.objectives.head_warmup if warm else 0, **objectives)
    if method in MIXERS:
        options = {k: v for k, v in base.mix.options.items() if k in MIXERS[method].Options.model_fields}
        mixture = build_mixer(method, options).mix(Stage(base, prepared, work / "mix"), [primary])
        document["auxiliary"] = [t for t in mixture.tasks if t != primary]
        document["train"].update(mixture.train)
    else:
        document["auxiliary"] = [] if method == "alone" else [f"{primary}/bert/bidirectional/denoise"]
        document["train"]["steps"] = base.train.steps * (2 if method == "alone" else 1)
        document["transfer"]["protocol"] = "auto" if method == "alone" else "sequential"
        document["train"]["sampler"] = {"name": "uniform"}
    return experiment_from_dict(document, where=f"bench arm {arm}, seed {seed}", check=False)


def identity(exp) -> str:
    return hashlib.sha256(json.dumps(config_identity(exp), sort_keys=True).encode()).hexdigest()[:16]


def phase_folders(out: Path, results: dict) -> list[Path]:
    """Where each phase of a finished arm wrote its results and curves (the last one: the arm's folder)."""
    phases = results["phases"]
    return [out if i == len(phases) - 1 else out / phase_folder(i, p["label"]) for i, p in enumerate(phases)]


def curves(out: Path, results: dict) -> dict[str, Any]:
    """The primary's dev score and every task's mean training loss per evaluation interval, at the arm's steps
    (a later phase's steps counted after the earlier phases')."""
    primary, dev, loss, offset = results["primary"], [], {}, 0
    for folder, phase in zip(phase_folders(out, results), results["phases"]):
        path = folder / "metrics.jsonl"
        for record in map(json.loads, path.read_text(encoding="utf-8").splitlines() if path.is_file() else []):
            step = offset + record["step"]
            if primary in record.get("dev", {}):
                dev.append([step, record["dev"][primary]["main"]])
            for task, value in record.get("train_loss", {}).items():
                loss.setdefault(task, []).append([step, value])
        offset += phase["steps"]
    return {"dev": dev, "loss": loss}


def cell_row(exp, results: dict, out: Path) -> dict[str, Any]:
    primary = exp.primary
    row = {"eval": results["eval"][primary]["main"], "dev": results["dev_best"][primary]["main"],
           "seconds": results["seconds"], "steps": results["steps"], "protocol": results["protocol"],
           "identity": identity(exp), "phases": [{k: p[k] for k in ("label", "steps", "best_step", "seconds")}
                                                 for p in results["phases"]], "curves": curves(out, results)}
    if len(results["phases"]) > 1:
        first = read_json(phase_folders(out, results)[0] / "results.json")
        row["warm_up"] = {task: {k: r[k] for k in ("steps", "loss_start", "loss_end", "seconds")}
                          for task, r in first.get("warmed_heads", {}).items()}
        weighting = first["weighting"]
        if "objective_weights" in weighting:
            row["split"], row["meta_cost"] = weighting["split"], weighting.get("meta_cost")
            row["top_objectives"] = sorted(weighting["objective_weights"].items(), key=lambda kv: -kv[1])[:5]
    return row


def mean_curve(series: list[list[list[float]]]) -> list[list[float]]:
    """The mean over seeds at every step all of them reached (early stopping ends seeds at different steps)."""
    steps = set.intersection(*({step for step, _ in s} for s in series)) if series else set()
    return [[step, fmean(dict(map(tuple, s))[step] for s in series)] for step in sorted(steps)]


def summary(runs: dict) -> dict[str, Any]:
    """Per arm: mean ± sd of eval macro-F1 and seconds, and its curves averaged over seeds; paired gains of every
    arm over alone, of warm-up over none, and of aang over TAPT and static, on the seeds both have."""
    scores = {arm: {s: r["eval"] for s, r in by_seed.items()} for arm, by_seed in runs.items()}
    out: dict[str, Any] = {"arms": {}, "gains": {}, "curves": {}}
    for arm, by_seed in runs.items():
        mean, std = mean_std(list(scores[arm].values()))
        out["arms"][arm] = {"seeds": len(by_seed), "macro_f1": mean, "std": std,
                            "seconds": mean_std([r["seconds"] for r in by_seed.values()])[0]}
        rows = [r["curves"] for r in by_seed.values() if "curves" in r]
        tasks = set.intersection(*(set(c["loss"]) for c in rows)) if rows else set()
        out["curves"][arm] = {"dev": mean_curve([c["dev"] for c in rows]),
                              "loss": {t: mean_curve([c["loss"][t] for c in rows]) for t in sorted(tasks)}}
    for candidate, reference in [(a, "alone") for a in runs if a != "alone"] + COMPARED:
        if candidate in scores and reference in scores:
            c = paired_t(scores[reference], scores[candidate])
            out["gains"][f"{candidate} - {reference}"] = {
                "mean": c.mean, "low": c.low, "high": c.high, "p_value": c.p_value, "seeds": c.n,
                "per_seed": c.per_seed, "improved": c.improved}
    for arm in ("aang", "aang_warm"):
        if arm in out["arms"] and "alone" in out["arms"]:
            out[f"{arm}_time_vs_alone"] = out["arms"][arm]["seconds"] / out["arms"]["alone"]["seconds"]
    return out


def stored(path: Path) -> dict[str, Any]:
    """The results so far; a file written before warm-up existed (one primary, its runs at the top) is kept
    whole under ``earlier``."""
    doc = read_json(path) if path.is_file() else {}
    return {"earlier": doc} if "runs" in doc and "primaries" not in doc else doc


def tiny_model(folder: Path) -> str:
    """A randomly initialised 2-layer BERT (hidden 32) with all-MiniLM-L6-v2's tokenizer, for the smoke run."""
    import torch
    from transformers import BertConfig, BertModel

    from auxlearn.models.encoder import load_tokenizer

    if not (folder / "config.json").is_file():
        tokenizer = load_tokenizer("all-MiniLM-L6-v2")
        torch.manual_seed(0)
        BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=128)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return str(folder)


def load_base(primary: str, smoke: bool, work: Path):
    base = load_experiment(ROOT / PRIMARIES[primary])
    if not smoke:
        return base
    document = base.model_dump(mode="json")
    document["model"] = tiny_model(work / "tiny-bert")
    for section, values in SMOKE.items():
        document[section].update(values)
    document["train"]["progress"] = False
    return experiment_from_dict(document, where=f"smoke {primary}", check=False)


def run_primary(primary: str, args, doc: dict, results: Path, work: Path) -> None:
    """Every arm of ``primary`` seed by seed (each seed's arms before the next seed: a partial bench is paired)."""
    base = load_base(primary, args.smoke, work)
    prepared = prepare(base)
    section = doc.setdefault("primaries", {}).setdefault(primary, {"runs": {}})
    runs = section["runs"]
    for seed in args.seeds:
        for arm in args.arms:
            exp = variant(base, arm, seed, prepared, work / primary)
            if runs.get(arm, {}).get(str(seed), {}).get("identity") == identity(exp):
                continue
            started, out = time.perf_counter(), work / primary / arm / f"seed_{seed}"
            row = cell_row(exp, train_experiment(exp, out, prepared, save_model=False), out)
            runs.setdefault(arm, {})[str(seed)] = row
            print(f"{primary} {arm} seed {seed}: macro-F1 {row['eval']:.4f} (dev {row['dev']:.4f}), "
                  f"{row['seconds']:.0f} s ({time.perf_counter() - started:.0f} s now)", flush=True)
            section.update({"config": PRIMARIES[primary], "model": base.model, "steps": base.train.steps,
                            "batch_size": base.train.batch_size, "head_warmup": base.objectives.head_warmup,
                            "head_warmup_lr": base.objectives.head_warmup_lr, **summary(runs)})
            write_json_atomic(results, {**doc, "machine": machine()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--primaries", nargs="+", default=list(PRIMARIES), choices=list(PRIMARIES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--arms", nargs="+", default=DEFAULT_ARMS, choices=list(ARMS))
    parser.add_argument("--smoke", action="store_true", help="a tiny random BERT, 2 steps, seeds 0 and 1, into /tmp")
    args = parser.parse_args()
    if args.smoke:
        work = Path("/tmp/auxlearn-aang-smoke")
        results, args.seeds = work / "aang.json", args.seeds if args.seeds != [0, 1, 2, 3, 4] else [0, 1]
    else:
        work, results = ROOT / "bench" / "work" / "aang", ROOT / "bench" / "results" / "aang.json"
    doc = stored(results)
    for primary in args.primaries:
        run_primary(primary, args, doc, results, work)


if __name__ == "__main__":
    main()
