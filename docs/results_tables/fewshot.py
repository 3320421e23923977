"""The tables of results/fewshot.md: few-shot adaptation after multi-task pre-training (routing.json)."""

from __future__ import annotations

from typing import Any

from .common import load, name, points, span, table, two_significant


# ----------------------------------------------------------------------------------------------------- few-shot


FEWSHOT_ARMS = {"mhr": "MHR", "mhr_z": "MHR-z", "mhr_mu": "MHR-μ", "lora": "LoRA from scratch",
                "full": "full fine-tuning"}


def fewshot_scores() -> str:
    doc = load("routing")
    rows = []
    for target, result in doc["targets"].items():
        for k, arms in result["comparison"].items():
            rows.append([name(target), k, *(f"{arms[a]['mean']:.3f} ± {arms[a]['std']:.3f}" for a in FEWSHOT_ARMS)])
    targets = doc["targets"].values()
    trained = []
    for arm in FEWSHOT_ARMS:
        counts = [t["trained_parameters"][arm] for t in targets]
        shares = [100 * min(t["trained_share_of_encoder"][arm], 1.0) for t in targets]
        count = (span(counts, lambda v: f"{v / 1e6:.1f} M") if min(counts) >= 1e6 else span(counts))
        trained.append(f"{count} ({span(shares, two_significant)} %)")
    rows.append(["trained per new task", "", *trained])
    return table(["target", "k", *FEWSHOT_ARMS.values()], rows)


def _gain_table(averages: dict[str, Any], p_digits: int) -> str:
    arms = [a for a in FEWSHOT_ARMS if a in next(iter(averages.values()))]
    rows = [[k, *(points(by_arm[a], p_digits) for a in arms)] for k, by_arm in averages.items()]
    return table(["k", *(FEWSHOT_ARMS[a] for a in arms)], rows)


def fewshot_gains() -> str:
    return _gain_table(load("routing")["average_over_targets"], 3)


def fewshot_per_target() -> str:
    doc = load("routing")
    rows = []
    for target, result in doc["targets"].items():
        for k, arms in result["comparison"].items():
            rows.append([name(target), k, *(points(arms[a]["vs_lora"]) for a in FEWSHOT_ARMS if a != "lora")])
    return table(["target", "k", *(v for a, v in FEWSHOT_ARMS.items() if a != "lora")], rows)


def fewshot_tuned_lora() -> str:
    doc = load("routing")["lora_lr_chosen_on_dev"]
    rows = []
    for target, by_k in doc["chosen"].items():
        for k, by_seed in by_k.items():
            counts = {lr: list(by_seed.values()).count(lr) for lr in doc["learning_rates"]}
            chosen = ", ".join(f"{lr:g} × {n}" for lr, n in counts.items() if n)
            rows.append([name(target), k, f"{doc['lora_mean'][target][k]:.3f}", chosen])
    picks = [lr for by_k in doc["chosen"].values() for by_seed in by_k.values() for lr in by_seed.values()]
    lowest = min(doc["learning_rates"])
    higher = sum(lr > lowest for lr in picks)
    return (table(["target", "k", "LoRA from scratch, rate chosen on dev: eval", "rates dev chose (seeds)"], rows)
            + f"\n\nDev chose a rate above {lowest:g} in {higher} of {len(picks)} cases.")


def fewshot_tuned_gains() -> str:
    return _gain_table(load("routing")["lora_lr_chosen_on_dev"]["average_over_targets"], 3)


def fewshot_tuned_per_target() -> str:
    per_target = load("routing")["lora_lr_chosen_on_dev"]["per_target"]
    arms = [a for a in FEWSHOT_ARMS if a != "lora"]
    rows = [[name(target), k, *(points(by_arm[a]) if a in by_arm else "–" for a in arms)]
            for target, by_k in per_target.items() for k, by_arm in by_k.items()]
    return table(["target", "k", *(FEWSHOT_ARMS[a] for a in arms)], rows)


def fewshot_pretrain() -> str:
    doc = load("routing")
    rows = []
    for target, result in doc["targets"].items():
        pre = result["pretrain"]
        tasks = ", ".join(f"{name(t)} {n}" for t, n in pre["task_steps"].items())
        dev = ", ".join(f"{name(t)} {s['main']:.3f}" for t, s in pre["dev_best"].items())
        rows.append([name(target), f"{pre['steps']:,}", f"{pre['seconds'] / 60:.0f} min", tasks, dev])
    return table(["target", "pre-training steps", "time", "steps per task", "best dev (chooses the checkpoint)"],
                 rows)
