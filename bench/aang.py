"""AANG on citation intent (ACL-ARC, the paper's task): does weighting generated objectives by their alignment
with the dev gradient beat the primary alone, TAPT and static weighting? Paired seeds, macro-F1 on the official
validation split (eval; dev, carved from train, chooses checkpoints and nothing here looks at eval to choose).

Arms (all-MiniLM-L6-v2, ``examples/citation_intent_aang.yaml``: S = train.steps, batch 16):
- ``alone``: the primary alone for 2S steps, as many primary batches as the two-phase arms below give it (with
  early stopping, so the longer budget can only help it);
- ``tapt``: TAPT, BERT's masked LM on the primary's training text for S steps, then the primary for S steps;
- ``static``: aang_static over the vbasic space (14 denoising objectives of the primary's text; 3 sampled per
  step, the batch shared by the factor softmaxes, uniform), S steps, then AANG's final fine-tuning for S steps;
- ``aang``: the same with the weights learned from the dev gradient.

Each arm and seed trains into ``bench/work/aang/<arm>/seed_<seed>`` (gitignored): a killed bench re-run goes on
where it stopped (finished arms are read back, a running one resumes from its checkpoint).

Run: AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/aang.py [--seeds 0 1 2 3 4] &
Writes bench/results/aang.json after every finished arm and seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from machine import machine

from auxlearn.config import experiment_from_dict
from auxlearn.config_files import load_experiment
from auxlearn.experiment import prepare, train_experiment
from auxlearn.io import read_json, write_json_atomic
from auxlearn.mix import build_mixer
from auxlearn.stats import mean_std, paired_t
from auxlearn.stage import Stage

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "citation_intent_aang.yaml"
WORK = ROOT / "bench" / "work" / "aang"
RESULTS = ROOT / "bench" / "results" / "aang.json"
PRIMARY = "citation_intent"
TAPT = f"{PRIMARY}/bert/bidirectional/denoise"


def arms(base) -> dict:
    """Each arm as a variant of the experiment (its auxiliaries, weighting, protocol)."""
    steps = base.train.steps
    mix = base.mix.options  # the AANG options of the config's mix section, the space among them
    return {
        "alone": dict(auxiliary=[], steps=2 * steps),
        "tapt": dict(auxiliary=[TAPT], transfer="sequential"),
        "static": dict(mixer=build_mixer("aang_static", mix)),
        "aang": dict(mixer=build_mixer("aang", mix)),
    }


def variant(base, arm: dict, seed: int, prepared):
    """The experiment an arm trains for ``seed``."""
    document = base.model_dump(mode="json")
    document["seed"] = seed
    if "mixer" in arm:
        mixture = arm["mixer"].mix(Stage(base, prepared, WORK / "mix"), [PRIMARY])
        document["auxiliary"] = [t for t in mixture.tasks if t != PRIMARY]
        document["train"].update(mixture.train)
    else:
        document["auxiliary"] = arm["auxiliary"]
        document["train"]["steps"] = arm.get("steps", base.train.steps)
        document["transfer"]["protocol"] = arm.get("transfer", "auto")
        document["train"]["sampler"] = {"name": "uniform"}
    return experiment_from_dict(document, where=f"bench arm, seed {seed}", check=False)


def summary(rows: dict) -> dict:
    """Per arm: mean ± sd of eval macro-F1 and seconds; paired gains of every arm over alone and of aang over the
    others, on the seeds both have."""
    scores = {arm: {s: r["eval"] for s, r in by_seed.items()} for arm, by_seed in rows.items()}
    out = {"arms": {}, "gains": {}}
    for arm, by_seed in rows.items():
        mean, std = mean_std(list(scores[arm].values()))
        seconds = mean_std([r["seconds"] for r in by_seed.values()])
        out["arms"][arm] = {"seeds": len(by_seed), "macro_f1": mean, "std": std, "seconds": seconds[0]}
    for candidate, reference in [(a, "alone") for a in rows if a != "alone"] + [
            ("aang", other) for other in ("tapt", "static")]:
        if candidate in scores and reference in scores:
            c = paired_t(scores[reference], scores[candidate])
            out["gains"][f"{candidate} - {reference}"] = {
                "mean": c.mean, "low": c.low, "high": c.high, "p_value": c.p_value, "seeds": c.n,
                "per_seed": c.per_seed, "improved": c.improved}
    if "aang" in out["arms"] and "alone" in out["arms"]:
        out["aang_time_vs_alone"] = out["arms"]["aang"]["seconds"] / out["arms"]["alone"]["seconds"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--arms", nargs="+", default=["alone", "aang", "static", "tapt"])
    args = parser.parse_args()
    base = load_experiment(CONFIG)
    prepared = prepare(base)
    table = arms(base)
    rows = (read_json(RESULTS).get("runs", {}) if RESULTS.is_file() else {})
    for seed in args.seeds:  # seed-major: every arm of a seed before the next seed, so a partial bench is paired
        for arm in args.arms:
            exp = variant(base, table[arm], seed, prepared)
            started = time.perf_counter()
            results = train_experiment(exp, WORK / arm / f"seed_{seed}", prepared, save_model=False)
            row = {"eval": results["eval"][PRIMARY]["main"], "dev": results["dev_best"][PRIMARY]["main"],
                   "seconds": results["seconds"], "steps": results["steps"], "protocol": results["protocol"],
                   "phases": [{k: p[k] for k in ("label", "steps", "best_step", "seconds")}
                              for p in results["phases"]]}
            if arm in ("aang", "static"):
                joint = read_json(WORK / arm / f"seed_{seed}" / "phase1_joint" / "results.json")["weighting"]
                row["split"], row["meta_cost"] = joint["split"], joint.get("meta_cost")
                row["top_objectives"] = sorted(joint["objective_weights"].items(), key=lambda kv: -kv[1])[:5]
            rows.setdefault(arm, {})[str(seed)] = row
            print(f"{arm} seed {seed}: macro-F1 {row['eval']:.4f} (dev {row['dev']:.4f}), {row['seconds']:.0f} s "
                  f"({time.perf_counter() - started:.0f} s now)", flush=True)
            write_json_atomic(RESULTS, {"config": str(CONFIG.relative_to(ROOT)), "model": base.model,
                                        "steps": base.train.steps, "batch_size": base.train.batch_size,
                                        "runs": rows, **summary(rows), "machine": machine()})


if __name__ == "__main__":
    main()
