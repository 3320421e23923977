"""Few-shot adaptation after multi-task pre-training of skills and routing (MTTL; Caccia et al. 2023).

For each target (RTE, MRPC, citation intent): pre-train MHR (8 rank-4 LoRA skills, 8 routing blocks per layer,
on the attention projections of all-MiniLM-L6-v2) on the data mirror's other GLUE tasks, 8,000 examples per task
at most, 3,000 steps of 16; then learn the target from k = 16 and 64 examples per class by MHR, MHR-z, MHR-mu, LoRA
from scratch and full fine-tuning, on the same k-shot draws per seed, 5 seeds (``examples/mttl/``). Scores are on
the official validation split; dev (k per class, carved from train) picks each run's checkpoint.

    AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/routing.py > bench/work/routing.log 2>&1 &

Resumable: runs live under ``bench/work/routing/<target>`` (not committed: run folders and the pre-trained skills'
weights are no results), so a re-run on the same machine reads back every finished pre-training and adaptation;
in a fresh clone the bench says that it re-creates them, about 6 hours on an AVX2-only 2-core CPU, and
``bench/results/routing.json`` keeps the summary of the runs it was computed from. Seed-major: every target gets
seed s before any gets seed s + 1, and ``bench/results/routing.json`` is rewritten after each seed: the gain
averaged over the targets, paired by seed, with its t-interval.

Then a check that the reference is not a straw man: LoRA from scratch again at 3e-3 and 1e-2 (every arm above
learns at 1e-3), each seed's learning rate chosen by its dev score (ties to the lower), and the skilled arms'
gain over that LoRA, averaged over the targets as above (``lora_lr_chosen_on_dev`` in the results).
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from auxlearn.config_files import load_experiment  # noqa: E402
from auxlearn.fewshot.adaptation import run_fewshot  # noqa: E402
from auxlearn.io import write_json_atomic  # noqa: E402
from auxlearn.stats import mean_std, paired_t  # noqa: E402

TARGETS = ["rte", "mrpc", "citation_intent"]
SEEDS = [0, 1, 2, 3, 4]
OUT = Path("bench") / "work" / "routing"  # from ROOT: the arms' configs name the pre-trained model by it
RESULTS = ROOT / "bench" / "results" / "routing.json"
LORA_LRS = [3e-3, 1e-2]  # beside the 1e-3 of the main study
COMMAND = "AUXLEARN_DATA_DIR=../shared/data nohup .venv/bin/python bench/routing.py"


def experiment(target: str, seeds: list[int], overrides: tuple[str, ...] = ()):
    files = f"{ROOT}/examples/mttl/{target}.yaml+{ROOT}/examples/mttl/mhr.yaml"
    return load_experiment(files, [f"seeds={seeds}", "train.progress=false", *overrides])


def lora_at(target: str, lr: float) -> dict:
    """LoRA from scratch alone at ``lr``; its study folder borrows the main study's pre-training (it needs none,
    but a study always has one) through a symbolic link."""
    out = OUT / target / f"lora_lr{lr:g}"
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "pretrain").exists():
        (out / "pretrain").symlink_to(Path("..") / "pretrain", target_is_directory=True)
    return run_fewshot(experiment(target, SEEDS, (f"fewshot.arms={{lora: {{lr: {lr}}}}}",)), out)


def lora_chosen_on_dev(studies: dict[str, dict], checks: dict[str, list[dict]]) -> dict:
    """Per target, k and seed, the LoRA whose dev score is best (the main study's 1e-3 first, so ties keep it);
    the skilled arms' gain over it, per target and averaged over the targets, paired by seed."""
    shots = [str(k) for k in next(iter(studies.values()))["shots"]]
    chosen: dict[str, dict] = {}
    for target, study in studies.items():
        chosen[target] = {}
        for k in shots:
            candidates = [study["runs"][k]["lora"]] + [check["runs"][k]["lora"] for check in checks[target]]
            lrs = [1e-3] + LORA_LRS
            chosen[target][k] = {}
            for seed in study["runs"][k]["lora"]:
                best = max(range(len(lrs)), key=lambda i: (candidates[i][seed]["dev"], -i))
                chosen[target][k][seed] = {"lr": lrs[best], "eval": candidates[best][seed]["eval"]}
    with_lora = {target: {"shots": study["shots"], "runs": {k: {**study["runs"][k], "lora": chosen[target][k]}
                                                           for k in shots}}
                 for target, study in studies.items()}
    return {
        "learning_rates": [1e-3] + LORA_LRS,
        "chosen": {t: {k: {s: c["lr"] for s, c in by_seed.items()} for k, by_seed in ks.items()}
                   for t, ks in chosen.items()},
        "lora_mean": {t: {k: mean_std([c["eval"] for c in by_seed.values()])[0] for k, by_seed in ks.items()}
                      for t, ks in chosen.items()},
        "per_target": {t: {k: {arm: asdict(paired_t({s: c["eval"] for s, c in chosen[t][k].items()},
                                                    {s: r["eval"] for s, r in study["runs"][k][arm].items()}))
                               for arm in study["arms"] if arm != "lora"} for k in shots}
                       for t, study in studies.items()},
        "average_over_targets": {k: {arm: averaged(with_lora, k, arm) for arm in studies[next(iter(studies))]["arms"]
                                     if arm != "lora"} for k in shots},
    }


def averaged(studies: dict[str, dict], k: str, arm: str, reference: str = "lora") -> dict:
    """The arm's gain over ``reference`` averaged over the targets, paired by seed (seeds every target has)."""
    seeds = set.intersection(*(set(s["runs"][k][reference]) & set(s["runs"][k][arm]) for s in studies.values()))

    def mean_over_targets(name: str) -> dict[str, float]:
        return {seed: sum(s["runs"][k][name][seed]["eval"] for s in studies.values()) / len(studies)
                for seed in sorted(seeds)}

    gain = paired_t(mean_over_targets(reference), mean_over_targets(arm))
    return {"mean": gain.mean, "low": gain.low, "high": gain.high, "p_value": gain.p_value, "seeds": gain.n,
            "per_seed": gain.per_seed}


def summary(studies: dict[str, dict]) -> dict:
    first = next(iter(studies.values()))
    arms, shots = first["arms"], [str(k) for k in first["shots"]]
    targets = {}
    for target, study in studies.items():
        share = {arm: max(run["parameters"]["share"] for run in study["runs"][shots[0]][arm].values())
                 for arm in arms}
        trained = {arm: max(run["parameters"]["trained"] for run in study["runs"][shots[0]][arm].values())
                   for arm in arms}
        targets[target] = {"comparison": study["comparison"], "trained_parameters": trained,
                           "trained_share_of_encoder": share,
                           "pretrain": {k: study["pretrain"][k] for k in ("steps", "seconds", "task_steps",
                                                                          "train_sizes", "dev_best")},
                           "seconds": study["seconds"]}
    return {
        "command": COMMAND,
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch": torch.__version__, "threads": torch.get_num_threads()},
        "setup": "examples/mttl/<target>.yaml+examples/mttl/mhr.yaml",
        "targets": targets,
        "average_over_targets": {k: {arm: averaged(studies, k, arm) for arm in arms if arm != "lora"}
                                 for k in shots},
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    os.chdir(ROOT)  # the arms' configs name the pre-trained model by a path from the repository's root
    missing = [t for t in TARGETS if not (OUT / t / "pretrain").is_dir()]
    if missing and RESULTS.is_file():
        logging.warning("%s holds no runs of %s: they are trained again (pre-training 15 min a target, 5 seeds x "
                        "2 k x 5 arms of 1 min); %s summarises the runs it was computed from", OUT, missing, RESULTS)
    studies: dict[str, dict] = {}
    for done in range(1, len(SEEDS) + 1):
        for target in TARGETS:
            studies[target] = run_fewshot(experiment(target, SEEDS[:done]), OUT / target)
        write_json_atomic(RESULTS, summary(studies))
        logging.info("seeds %s done for every target; %s written", SEEDS[:done], RESULTS)
    checks = {target: [lora_at(target, lr) for lr in LORA_LRS] for target in TARGETS}
    write_json_atomic(RESULTS, {**summary(studies), "lora_lr_chosen_on_dev": lora_chosen_on_dev(studies, checks)})
    logging.info("LoRA's learning rate chosen on dev; %s written", RESULTS)


if __name__ == "__main__":
    main()
