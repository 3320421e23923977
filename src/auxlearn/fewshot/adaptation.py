"""`auxlearn adapt`: skills and routing pre-trained on a pool of tasks, then a new task learnt from k examples per
class by every arm (``arms/``), on the same draws per seed (Ponti et al. 2022; Caccia et al. 2023).

The output folder holds ``pretrain/`` (the pre-training run and its model), ``k<K>/<arm>/seed_<S>/`` (one
adaptation each) and ``results.json``: every run's scores, trained parameters and routing, and each arm's gain over
LoRA from scratch paired by seed. Seeds run in order, every arm and k of a seed before the next seed, and a re-run
into the folder reads back every finished run: a killed study loses at most the run in progress."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

from auxlearn.adapters.poly import PolyOptions
from auxlearn.config import Experiment, experiment_from_dict
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import Prepared, prepare, train_experiment
from auxlearn.fewshot.arms import ARMS, label
from auxlearn.io import write_json_atomic
from auxlearn.stats import mean_std, paired_t
from auxlearn.train.tracking import tracking_root

log = logging.getLogger(__name__)
REFERENCE = "lora"  # what a gain is measured against: a LoRA trained from scratch on the k shots


def check_fewshot(exp: Experiment) -> None:
    """What ``auxlearn adapt`` needs beyond a valid config, checked before anything trains."""
    if exp.adapter.method != "poly":
        raise AuxlearnError(f"auxlearn adapt pre-trains skills with routing: adapter.method must be 'poly', "
                            f"not {exp.adapter.method!r}")
    if exp.adapter.options.get("train", "all") != "all":
        raise AuxlearnError("auxlearn adapt pre-trains skills and routing: leave adapter.train at 'all' (the "
                            "mhr_z arm trains the routing alone)")
    if not exp.auxiliary:
        raise AuxlearnError("auxlearn adapt pre-trains on the auxiliary tasks: list the pool in auxiliary")


def pretrain_experiment(exp: Experiment) -> Experiment:
    """The pool's joint training: its first task is the one whose dev picks the checkpoint, ``fewshot.pretrain``
    sets its train settings, and it trains exactly ``train.steps`` steps in total."""
    document = exp.model_dump()
    # Neither the seeds nor the few-shot settings change what pre-trains: a study re-run with more of them reuses it.
    document.update(primary=exp.auxiliary[0], auxiliary=exp.auxiliary[1:], seeds=None, fewshot={})
    document["data"]["shots"] = None
    document["train"].update(exp.fewshot.pretrain)
    document["train"]["eval_tasks"] = []
    document["transfer"] = {**document["transfer"], "protocol": "joint", "budget": "equal_total"}
    return experiment_from_dict(document, where="fewshot.pretrain", check=False)


def arm_experiment(exp: Experiment, arm: str, *, shots: int, seed: int, pretrained: str) -> Experiment:
    """The experiment of one arm at ``shots`` examples per class and ``seed`` (validated)."""
    spec = ARMS[arm]()
    document = exp.model_dump()
    poly = PolyOptions.model_validate(exp.adapter.options)
    document.update(auxiliary=[], seed=seed, seeds=[seed], model=pretrained if spec.pretrained else exp.model,
                    adapter=spec.adapter(poly), fewshot={})
    document["data"]["shots"] = shots
    document["train"].update(exp.fewshot.arms.get(arm, {}))
    document["train"]["eval_tasks"] = []
    return experiment_from_dict(document, where=f"fewshot.arms.{arm}", check=False)


def run_fewshot(exp: Experiment, out: str | Path, prepared: Optional[Prepared] = None) -> dict[str, Any]:
    """Pre-train, adapt every arm at every k for every seed, write ``results.json``; return its content."""
    started = time.perf_counter()
    out = Path(out)
    check_fewshot(exp)
    pretrain = pretrain_experiment(exp)
    pretrained = out / "pretrain" / "model"
    seeds, shots, arms = exp.run_seeds, exp.fewshot.shots, list(exp.fewshot.arms)
    variants = {(seed, k, arm): arm_experiment(exp, arm, shots=k, seed=seed, pretrained=str(pretrained))
                for seed in seeds for k in shots for arm in arms}  # every arm's settings checked before training
    prepared = prepare(exp, into=prepared)
    runs: dict[str, dict[str, dict[str, Any]]] = {str(k): {arm: {} for arm in arms} for k in shots}
    with tracking_root(out):  # tracked runs named pretrain and k<K>/<arm>/seed_<S>
        pre = train_experiment(pretrain, out / "pretrain", prepared, score_eval=False)
        for (seed, k, arm), variant in variants.items():
            log.info("auxlearn adapt: seed %d, k = %d, %s", seed, k, arm)
            results = train_experiment(variant, out / f"k{k}" / arm / f"seed_{seed}", prepared, save_model=False)
            runs[str(k)][arm][str(seed)] = run_summary(results, exp.primary)
    summary = {
        "kind": "fewshot", "primary": exp.primary, "pool": exp.auxiliary, "shots": shots, "arms": arms,
        "seeds": seeds, "splits": pretrain.adapter.options.get("n_splits", 1),
        "pretrain": {key: pre.get(key) for key in ("steps", "task_steps", "seconds", "dev_best", "parameters",
                                                    "routing", "train_sizes", "best_step")},
        "runs": runs, "comparison": compare(runs, reference=REFERENCE),
        "config": exp.model_dump(mode="json"), "seconds": round(time.perf_counter() - started, 3),
    }
    write_json_atomic(out / "results.json", summary)
    return summary


def run_summary(results: dict[str, Any], primary: str) -> dict[str, Any]:
    """What the study keeps of one adaptation: eval and best dev score, trained parameters, routing, cost."""
    parameters = results["parameters"]
    trained = parameters["encoder"] + parameters["routing"] + parameters["heads"]
    return {"eval": results["eval"][primary]["main"], "metrics": results["eval"][primary],
            "dev": (results.get("dev_best") or {}).get(primary, {}).get("main"),
            "parameters": {**parameters, "trained": trained, "share": trained / parameters["encoder_size"]},
            "routing": results.get("routing"), "best_step": results["best_step"], "steps": results["steps"],
            "seconds": results["seconds"], "train_sizes": results["train_sizes"]}


def compare(runs: dict[str, dict[str, dict[str, Any]]], reference: str) -> dict[str, dict[str, Any]]:
    """Per k and arm: mean ± std of eval over seeds, and the gain over ``reference`` paired by seed (t-interval)."""
    table: dict[str, dict[str, Any]] = {}
    for k, by_arm in runs.items():
        table[k] = {}
        base = {seed: run["eval"] for seed, run in by_arm.get(reference, {}).items()}
        for arm, by_seed in by_arm.items():
            scores = {seed: run["eval"] for seed, run in by_seed.items()}
            mean, std = mean_std(scores.values())
            gain = asdict(paired_t(base, scores)) if base and arm != reference else None
            table[k][arm] = {"mean": mean, "std": std, "seeds": len(scores), f"vs_{reference}": gain}
    return table


def comparison_table(results: dict[str, Any], primary: str) -> str:
    """What `auxlearn adapt` prints: each k and arm's eval score, and its gain over LoRA from scratch."""
    lines = [f"{primary} eval, mean ± std over {len(results['seeds'])} seeds; gain over LoRA from scratch paired by "
             "seed (95 % t-interval):"]
    for k, arms in results["comparison"].items():
        for arm, row in arms.items():
            gain = row[f"vs_{REFERENCE}"]
            interval = "" if gain is None else (f"  {gain['mean']:+.4f}" + (
                f" [{gain['low']:+.4f}, {gain['high']:+.4f}]" if gain["low"] is not None else ""))
            score = f"{row['mean']:.4f} ± {row['std']:.4f}"
            lines.append(f"  k={k:<4}{label(arm, results['splits']):<18}{score}{interval}")
    return "\n".join(lines)
