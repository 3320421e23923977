"""The tables of the "Measured results" pages, built from ``bench/results/*.json``, so that no figure is typed twice.

A page marks where a table goes with an HTML comment alone on its line, ``<!-- table: demo -->``. This file is a
MkDocs hook (``hooks:`` in mkdocs.yml): when the site builds, ``on_page_markdown`` replaces every marker with the
table built from the JSON files, as they are at that moment (``bench/results/atlas.json`` grows while the atlas is
computed). A marker of no known table, or a missing or damaged JSON file, is a warning, so ``mkdocs build --strict``
fails on it; only ``selectors.json`` may be absent (its evaluation waits for the atlas), and the page says so.

Run it alone to print the tables: ``.venv/bin/python docs/gen_results.py [name ...]``.

It reads JSON only and imports nothing of auxlearn (whose modules may move, and import torch). Words that describe
a table (labels, which machine ran what) are written here; every figure comes from a JSON file, or, for a bench's
settings, from the example file it ran.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MARKER = re.compile(r"^<!-- table: ([\w-]+) -->[ \t]*$", re.MULTILINE)
MINUS = "\u2212"

log = logging.getLogger("mkdocs.hooks.gen_results")

NAMES = {  # how the tables write task names
    "rte": "RTE", "mrpc": "MRPC", "stsb": "STS-B", "sst2": "SST-2", "cola": "CoLA", "mnli": "MNLI", "qqp": "QQP",
    "qnli": "QNLI", "wnli": "WNLI", "citation_intent": "citation intent", "conll2003_ner": "CoNLL-2003 NER",
    "conll2003_pos": "CoNLL-2003 POS", "ag_news": "AG News", "rct": "PubMed RCT",
}


class MissingResults(Exception):
    """A table's JSON file is absent or unreadable."""


# --------------------------------------------------------------------------------------------------- formatting


def name(task: str) -> str:
    return NAMES.get(task, task)


def signed(value: float, digits: int) -> str:
    text = f"{value:+.{digits}f}"
    if float(text) == 0:
        text = f"+{abs(value):.{digits}f}"  # +0.0 rather than -0.0
    return text.replace("-", MINUS)


def number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace("-", MINUS)


def mean_std(values: Iterable[float], digits: int = 3) -> str:
    """Mean ± sample standard deviation; one value alone."""
    values = list(values)
    if len(values) == 1:
        return number(values[0], digits)
    return f"{number(statistics.mean(values), digits)} ± {statistics.stdev(values):.{digits}f}"


def interval(test: dict[str, Any], scale: float = 1.0, digits: int = 3, p_digits: Optional[int] = None) -> str:
    """A paired test's mean (low to high), optionally with its p value."""
    text = signed(scale * test["mean"], digits)
    if test.get("low") is not None and test.get("high") is not None:
        text += f" ({signed(scale * test['low'], digits)} to {signed(scale * test['high'], digits)})"
    if p_digits is not None and test.get("p_value") is not None:
        text += f", p {test['p_value']:.{p_digits}f}"
    return text


def points(test: dict[str, Any], p_digits: Optional[int] = None) -> str:
    return interval(test, 100, 1, p_digits)


def span(values: Iterable[float], fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> str:
    values = sorted(values)
    low, high = fmt(values[0]), fmt(values[-1])
    return low if low == high else f"{low}–{high}"


def two_significant(value: float) -> str:
    """2.6, 0.33, 0.010, 100: a share in percent to two significant figures."""
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.{max(1 - math.floor(math.log10(value)), 0)}f}"


def table(header: list[str], rows: Iterable[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


# ------------------------------------------------------------------------------------------------------ reading


def load(stem: str) -> dict[str, Any]:
    path = RESULTS / f"{stem}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingResults(f"{path.relative_to(ROOT)} not found") from None
    except (OSError, ValueError) as error:
        raise MissingResults(f"{path.relative_to(ROOT)}: {error}") from None


def example_steps(example: str) -> int:
    """``train.steps`` of an example experiment (the recipe a bench ran)."""
    return yaml.safe_load((ROOT / "examples" / example).read_text(encoding="utf-8"))["train"]["steps"]


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            result[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return result


def spearman(a: list[float], b: list[float]) -> float:
    return statistics.correlation(ranks(a), ranks(b))


# ------------------------------------------------------------------------------------------ make demo, precision


def demo() -> str:
    doc = load("demo")
    rows = []
    for run in doc["runs"]:
        config = run.get("config") or {}
        ratios = run.get("ratios") or config.get("mix", {}).get("ratios")
        steps = config.get("train", {}).get("steps") or example_steps("demo.yaml")
        where = DEMO_MACHINES.get(run["date"], run.get("note", ""))
        final, base, control = (list(run["eval"][arm].values()) for arm in ("final", "baseline", "control"))
        gain, versus = run["final_vs_baseline"], run["final_vs_control"]
        improved = round(gain["improved"] * len(gain["per_seed"]))
        rows.append([f"{run['date']}: {where}", f"{ratios['mnli'] * steps} ({ratios['mnli']}:{ratios['rte']})",
                     minutes(run["wall_seconds"]), mean_std(final), mean_std(base), mean_std(control),
                     f"{interval(gain)}, {improved} of {len(gain['per_seed'])}", interval(versus)])
    choice = f"\n\nThe ratio of `examples/demo.yaml`, as `bench/demo.py` recorded: {doc['choice']}." if doc.get(
        "choice") else ""
    return table(["run: machine", "MNLI batches (MNLI:RTE)", "wall time", "final, RTE eval accuracy",
                  "RTE alone", "control", "final − alone (95 % t-interval), seeds improved",
                  "final − control (95 % t-interval)"], rows) + choice


# The demo runs' machines, by date (demo.json records the machine of its later runs only by its platform string).
DEMO_MACHINES = {
    "2026-11-29": "AVX-512 BF16 EPYC (bf16), warm tokenization cache",
    "2026-12-03 13:08": "AVX2-only EPYC (fp32), cold cache",
}


def precision() -> str:
    doc = load("precision_parity")
    rows = []
    for task, summary in doc["summary"].items():
        example = f"{task}_single.yaml"
        bf16, fp32 = summary["auto"], summary["fp32"]
        seeds = summary["seeds"]
        rows.append([f"`examples/{example}` ({example_steps(example)} steps)",
                     f"{seeds[0]}–{seeds[-1]}",
                     f"{bf16['train_seconds_mean'] / 60:.1f} / {fp32['train_seconds_mean'] / 60:.1f}",
                     f"{summary['train_speedup']:.2f}×",
                     f"{bf16['eval_mean']:.3f} ± {bf16['eval_std']:.3f}",
                     f"{fp32['eval_mean']:.3f} ± {fp32['eval_std']:.3f}"])
    return table(["recipe", "seeds", "minutes of training, bf16 / fp32", "bf16 speed-up",
                  "eval main metric, bf16", "eval main metric, fp32"], rows)


# ------------------------------------------------------------------------------------------------------- speed


def training_speed() -> str:
    doc = load("throughput")
    rows = []
    for variant, result in doc["training"].items():
        compiled = result.get("compile_seconds")
        note = f" after {compiled:.0f} s of compiling" if compiled else ""
        rows.append([variant, f"{result['examples_per_s']:.0f}", f"{result['vs_before']:.2f}×{note}"])
    return table([f"training, RTE + MRPC + SST-2 batches of {doc['batch_size']} ({doc['steps']} steps, median of "
                  f"{doc['repeats']})", "examples/s", "vs fp32 with multi-tensor AdamW"], rows)


def speed() -> str:
    doc = load("throughput")
    ev, conc, plain, pad, flops = (doc[k] for k in ("evaluation", "concurrency", "trainer_vs_plain",
                                                    "dynamic_vs_pad128", "flops"))
    peak = flops["matmul_peak_flop_per_s"]
    rows = [
        ["1024³ matrix multiply", f"bf16 {peak['bf16'] / 1e9:.0f} GFLOP/s, fp32 {peak['fp32'] / 1e9:.0f} "
                                  f"({peak['bf16'] / peak['fp32']:.1f}×)"],
        [f"dev evaluation (RTE + MRPC + SST-2 dev sets, {ev['examples']:,} examples)",
         f"{ev['default_examples_per_s']:.0f} vs {ev['before_examples_per_s']:.0f} examples/s "
         f"({ev['speedup']:.2f}×): {ev['default']}; before: {ev['before']}".replace("<=", "≤")],
        [f"two training processes at once on the {conc['cores']} cores, each vs one alone",
         f"{conc['two_shared_ratio']:.2f}× with auxlearn's thread share, {conc['two_all_cores_ratio']:.2f}× with a "
         "thread per core in each (PyTorch's default)"],
        ["trainer vs a plain PyTorch loop over the same batches (both bf16 + fused AdamW)",
         f"{plain['ratio']:.2f}× examples/s"],
        ["dynamic padding + length grouping vs padding to 128", f"{pad['speedup']:.1f}× examples/s"],
        ["training FLOP/s vs the matmul peaks", f"{flops['achieved_training_flop_per_s'] / 1e9:.0f} GFLOP/s: "
                                                f"{flops['share_of_bf16_peak']:.0%} of the bf16 peak, "
                                                f"{flops['share_of_fp32_peak']:.0%} of the fp32 peak"],
    ]
    return table(["what (`bench/throughput.py`)", "figure"], rows).replace("%", " %")


def weighting_costs() -> str:
    doc = load("weightings")
    rows = []
    for weighting, result in doc["weightings"].items():
        per_step = result["task_batches"] / result["steps"]
        rows.append([f"`{weighting}`", f"{result['seconds_per_step']:.2f} s", f"{per_step:.0f}",
                     f"{result['vs_static']:.1f}×"])
    tasks = " + ".join(name(t) for t in doc["tasks"])
    precision = next(iter(doc["weightings"].values()))["precision"]
    return table([f"`train.weighting` ({tasks}, batch {doc['batch_size']}, {precision})", "seconds per step",
                  "task batches per step", "vs `static`"], rows)


# ------------------------------------------------------------------------------------------- costs, robustness


def stage_costs() -> str:
    autosem, gradts, compare = load("autosem"), load("gradts"), load("gradts_compare")
    seconds = {method: [compare["results"][p][method]["select_seconds"] for p in compare["results"]]
               for method in ("gradts", "autosem", "exhaustive")}
    primaries = " / ".join(name(p) for p in compare["results"])
    candidates = len(next(iter(compare["results"].values()))["gradts"]["scores"])
    rows = [
        [f"AutoSeM stage 1 vs the single-task baseline, same steps ({autosem['a']['steps']})",
         f"{autosem['a']['ratio']:.2f}× wall time"],
        [f"GradTS head importance ({name(gradts['primary'])} + {len(gradts['candidates'])} candidates) vs one "
         f"{name(gradts['primary'])} baseline", f"{gradts['ratio']:.2f}× wall time"],
        [f"selection on {primaries}, {candidates} candidates, {compare['steps']}-step runs "
         "(`bench/gradts.py --compare`)",
         f"GradTS {span(seconds['gradts'])} s, AutoSeM {span(seconds['autosem'])} s, exhaustive pairs "
         f"{span(seconds['exhaustive'])} s"],
    ]
    return table(["what", "figure"], rows)


def robustness() -> str:
    kill, ckpt = load("kill_resume"), load("checkpoint_overhead")
    summary = kill["summary"]
    stages = ", ".join(f"{count} {KILL_STAGES.get(stage, stage)}" for stage, count in summary["stages"].items()
                       if count)
    rows = [
        [f"`kill -9` at {summary['kills']} random moments of a small `run` (`bench/kill_resume.py`: a tiny BERT, RTE "
         f"with MRPC and STS-B, 2 seeds, exhaustive selection, GP-BO mixing, final, control; "
         f"{kill['reference_seconds']:.1f} s uninterrupted), then re-run into its folder",
         f"{summary['identical']} of {summary['kills']} resumed runs end with the uninterrupted `results.json` "
         f"(timings aside); {summary['with_rewritten_training'] or 'none'} retrained a finished seed, trial, phase or "
         f"stage; {summary['resumed_from_checkpoint']} went on from a mid-arm checkpoint (the kills landed in: "
         f"{stages})"],
        [f"checkpoints at the default interval (`bench/checkpoint_overhead.py`: `examples/rte_single.yaml`, "
         f"{ckpt['steps']} steps, a checkpoint every {ckpt['checkpoint_every']}), {ckpt['precision']}",
         f"{ckpt['seconds_per_checkpoint']:.2f} s per checkpoint ({ckpt['checkpoint_megabytes']:.0f} MB: model, "
         f"AdamW moments, best weights so far, generators) against {ckpt['seconds_per_step']:.2f} s per training "
         f"step: {ckpt['overhead_percent']:.2f} % of the training time"],
    ]
    return table(["what (AVX2-only EPYC)", "figure"], rows)


KILL_STAGES = {"started": "before the baseline folder", "preparing": "while preparing data", "select": "selection",
               "mix": "mixing"}


def workers() -> str:
    doc = load("workers")
    settings = doc["settings"]
    rows = []
    for case in ("together", "killed"):
        result = doc[case]
        study = result["study"]
        states = ", ".join(f"{n} {state.lower()}" for state, n in study["states"].items())
        rows.append([case, f"{study['scored']} ({states})", study["distinct_scored_params"], study["duplicate_params"],
                     len(study["reruns"]), " / ".join(str(n) for n in study["scored_by_worker"].values()),
                     f"{result['seconds']:.0f} s", "yes" if result["met"] else "no"])
    return table([f"{settings['workers']} PostgreSQL workers, {settings['trials']} `{settings['method']}` trials",
                  "trials scored (states)", "distinct ratios", "duplicates", "reruns", "scored by each worker",
                  "seconds", "all checks met"], rows)


# ---------------------------------------------------------------------------------------------- RTE recipes


def rte_recipes() -> str:
    doc = load("rte_single")
    chosen = doc["choices"][-1]
    rows = []
    for variant, result in doc["variants"].items():
        runs = result["runs"]
        label = f"**{variant}** (dev's choice)" if variant == chosen["variant"] else variant
        finalist = "yes" if variant in chosen["among"] else ""
        rows.append([label, ", ".join(f"`{o}`" for o in result["overrides"]) or "(as shipped)",
                     f"{runs[0]['seed']}–{runs[-1]['seed']}" if len(runs) > 1 else str(runs[0]["seed"]),
                     f"{result['dev_mean']:.3f}", mean_std(r["eval"] for r in runs), finalist])
    every = [r for result in doc["variants"].values() for r in result["runs"]]
    rho = spearman([r["dev"] for r in every], [r["eval"] for r in every])
    return (table(["recipe (`bench/rte_single.py`)", "overrides", "seeds", "dev mean", "eval accuracy",
                   f"finalist (seeds {chosen['seeds'][0]}–{chosen['seeds'][-1]})"], rows)
            + f"\n\n{len(doc['variants'])} recipes, {len(every)} runs; Spearman's ρ between dev and eval over the "
              f"runs: {rho:.2f}.")


def rte_probe() -> str:
    doc = load("rte_frozen_probe")
    cosine, logistic = doc["cosine_threshold"], doc["logistic_regression"]
    rows = [[f"cosine threshold ({cosine['threshold']:.3f})", *(f"{cosine[s]:.3f}" for s in ("train", "dev", "eval"))]]
    for probe in logistic["grid"]:
        chosen = " (dev's choice)" if probe["C"] == logistic["chosen_by_dev"]["C"] else ""
        rows.append([f"logistic regression, C = {probe['C']:g}{chosen}",
                     *(f"{probe[s]:.3f}" for s in ("train", "dev", "eval"))])
    sizes = doc["sizes"]
    return table(["probe on frozen embeddings (`bench/rte_frozen_probe.py`)", f"train ({sizes['train']:,})",
                  f"dev ({sizes['dev']})", f"eval ({sizes['eval']})"], rows)


# --------------------------------------------------------------------------------------------------- transfer


TRANSFER_ARMS = {  # an arm key of transfer.json (after "<candidate>:") -> its label
    "alone": "{P} alone",
    "joint_equal_total": "joint, equal total",
    "joint_equal_primary": "joint, equal primary",
    "sequential": "sequential ({C}, then {P})",
    "joint_then_finetune": "joint, then {P} alone",
}
# Seeds of transfer.json that ran on another machine (an AVX2-only CPU in fp32, 2-3x slower): left out of seconds.
TRANSFER_OTHER_MACHINE_SEEDS = {"3"}


def _transfer_label(arm: str, primary: str) -> str:
    if arm.startswith("control_"):
        return f"control: {name(primary)} alone, {arm.split('_')[1]} steps allowed"
    candidate, _, protocol = arm.rpartition(":")
    return TRANSFER_ARMS[protocol].format(P=name(primary), C=name(candidate))


def transfer_arms() -> str:
    doc = load("transfer")
    parts = []
    for primary, summary in doc["summary"].items():
        rows = []
        for arm, result in summary["arms"].items():
            if arm.startswith("pair:"):
                continue
            key = "alone" if arm == "alone" else arm
            cells = {seed: c for seed, c in ((k.rsplit("/", 1)[1], c) for k, c in doc["cells"].items()
                                              if k.rsplit("/", 1)[0] == f"{primary}/{key}")}
            seconds = [c["seconds"] for seed, c in cells.items() if seed not in TRANSFER_OTHER_MACHINE_SEEDS]
            rows.append([_transfer_label(arm, primary), f"{result['primary_steps']:.0f}", result["planned_steps"],
                         f"{result['mean']:.3f} ± {result['std']:.3f}",
                         points(result["vs_alone"], 2) if "vs_alone" in result else "–",
                         points(result["vs_control"], 2) if "vs_control" in result else "–",
                         f"{statistics.mean(seconds):.0f}"])
        parts.append(table([f"arm ({name(primary)}, {len(summary['arms']['alone']['eval'])} paired seeds)",
                            f"{name(primary)} batches", "steps allowed", "eval main metric, mean ± std",
                            "vs alone, points (95 % CI)", "vs the control as long", "seconds"], rows))
    return "\n\n".join(parts)


def transfer_pairs() -> str:
    doc = load("transfer")
    parts = []
    for primary, summary in doc["summary"].items():
        selectors = {k.split(":", 1)[1]: c for k, c in doc["cells"].items() if k.startswith(f"{primary}/selector:")}
        pairs = {arm.split(":", 1)[1]: r for arm, r in summary["arms"].items() if arm.startswith("pair:")}
        rows = []
        for candidate, result in sorted(pairs.items(), key=lambda kv: -kv[1]["vs_alone"]["mean"]):
            batches = [c["primary_steps"] for k, c in doc["cells"].items()
                       if k.rsplit("/", 1)[0] == f"{primary}/pair:{candidate}"]
            rows.append([name(candidate), points(result["vs_alone"]), span(batches),
                         *(f"{selectors[s]['scores'][candidate]:.3f}" if s in selectors else "–"
                           for s in ("autosem", "gradts"))])
        parts.append(table(["candidate", f"pair gain over {name(primary)} alone, points (95 % CI)",
                            f"{name(primary)} batches before early stopping", "AutoSeM utility",
                            "GradTS correlation"], rows))
        picks = []
        for selector, ranking in summary.get("selector_spearman", {}).items():
            cell = selectors.get(selector, {})
            picks.append([SELECTOR_NAMES.get(selector, selector),
                          ", ".join(name(t) for t in ranking["selected"]) or "none",
                          number(ranking["spearman"], 1),
                          f"{cell['seconds']:.0f}" if "seconds" in cell else "–"])
        if picks:
            parts.append(table(["selector (on dev)", "kept, best first", "Spearman ρ with the pair gains",
                                "seconds"], picks))
    return "\n\n".join(parts)


SELECTOR_NAMES = {"autosem": "AutoSeM", "gradts": "GradTS", "exhaustive": "exhaustive pairs"}


def selection_compare() -> str:
    doc = load("gradts_compare")
    rows = []
    for primary, methods in doc["results"].items():
        for method, result in methods.items():
            rho = result.get("spearman_vs_pair_gain")
            rows.append([name(primary), SELECTOR_NAMES.get(method, method),
                         ", ".join(name(t) for t in result["selected"]) or "none",
                         f"{result['select_seconds']:.0f}", signed(result["gain"]["mean"], 3),
                         "–" if rho is None else signed(rho, 2)])
    mean = ", ".join(f"{SELECTOR_NAMES.get(m, m)} {signed(g, 3)}" for m, g in doc["mean_gain"].items())
    return (table(["primary", "selector", "kept", "selection seconds",
                   f"eval gain, mean of seeds {doc['seeds'][0]}–{doc['seeds'][-1]}",
                   "Spearman ρ with the pair gains"], rows)
            + f"\n\nMean gain over the three primaries: {mean}.")


# -------------------------------------------------------------------------------------------------------- AANG


AANG_ARMS = {"alone": "primary alone (2S)", "tapt": "TAPT", "static": "`aang_static`", "aang": "`aang`"}


def aang() -> str:
    doc = load("aang")
    rows = []
    for arm, label in AANG_ARMS.items():
        runs, summary = doc["runs"][arm], doc["arms"][arm]
        gain = doc["gains"].get(f"{arm} - alone")
        seconds = f"{summary['seconds']:,.0f}"
        if arm == "aang":
            seconds += f" ({doc['aang_time_vs_alone']:.1f}×)"
        rows.append([label, ", ".join(f"{runs[s]['eval']:.3f}" for s in sorted(runs)),
                     ", ".join(f"{runs[s]['dev']:.3f}" for s in sorted(runs)), seconds,
                     interval(gain) if gain else ""])
    seeds = ", ".join(sorted(doc["runs"]["alone"]))
    return table(["arm", f"macro-F1, eval (seeds {seeds})", "dev", "seconds per seed",
                  "vs alone (95 % interval)"], rows)


def aang_weights() -> str:
    doc = load("aang")
    rows = []
    for arm in ("aang", "static"):
        for seed, run in sorted(doc["runs"][arm].items()):
            top = "; ".join(f"`{objective.split('/', 1)[1]}` {weight:.3f}" for objective, weight in
                            run["top_objectives"][:3])
            cost = run.get("meta_cost")
            meta = (f"{cost['seconds_per_meta_step']:.2f} s vs {cost['seconds_per_plain_step']:.2f} s "
                    f"({cost['meta_steps']} of {cost['meta_steps'] + cost['plain_steps']} steps)") if cost else "–"
            split = run["split"]
            rows.append([AANG_ARMS[arm], seed, f"{split['primary']:.2f} / {split['auxiliary']:.2f}", top, meta])
    return table(["arm", "seed", "primary / auxiliary split", "heaviest objectives (weight)",
                  "meta step vs plain step"], rows)


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


# ------------------------------------------------------------------------------------------------------- atlas


def atlas_progress() -> str:
    doc = load("atlas")
    settings = doc["settings"]
    seeds = settings["seeds"]
    by_cpu = "; ".join(f"{cpu}: {s / 3600:.1f} h" for cpu, s in doc["seconds"]["by_cpu"].items())
    rows = [
        ["encoder", f"`{doc['encoder']}` ({doc['pooling']} pooling)"],
        ["primaries × candidates", f"{len(doc['primaries'])} × {len(doc['candidates'])}"],
        ["cells done", f"{doc['cells_done']} of {doc['cells_planned']} planned"
                       + (" (complete)" if doc["complete"] else " (being computed)")],
        ["seeds per pair", f"{seeds['initial']}, widened one at a time up to {seeds['max']} while the interval "
                           f"straddles zero and the mean gain is at least {seeds['widen_at']} from it"],
        ["both protocols for", ", ".join(name(p) for p in settings["both_protocols"]) or "none"],
        ["protocol, budget", f"`{settings['experiment']['transfer']['protocol']}`, "
                             f"`{settings['experiment']['transfer']['budget']}`"],
        ["training time so far", f"{doc['seconds']['total'] / 3600:.1f} h ({by_cpu})"],
    ]
    return table(["`bench/results/atlas.json`", "so far"], rows)


def _atlas_cell(pair: Optional[dict[str, Any]]) -> str:
    if pair is None:
        return ""
    gain = pair.get("gain")
    if not gain or not pair.get("n"):
        return "·"
    text = f"{signed(100 * gain['mean'], 1)} ({pair['n']})"
    low, high = gain.get("low"), gain.get("high")
    if low is not None and high is not None and (low > 0 or high < 0):
        text = f"**{text}**"
    return text


def atlas_gains() -> str:
    doc = load("atlas")
    rows = []
    for primary in doc["primaries"]:
        row = doc["rows"][primary]
        alone = row["alone"]
        score = f"{alone['mean']:.3f} ({alone['n']})" if alone.get("n") else "·"
        metric = row.get("metric") or ""
        rows.append([f"{name(primary)}", metric, score,
                     *(_atlas_cell(row["pairs"].get(c)) if c != primary else "" for c in doc["candidates"])])
    return table(["primary", "metric", "alone (seeds)", *(name(c) for c in doc["candidates"])], rows)


def atlas_other_protocol() -> str:
    doc = load("atlas")
    rows = []
    for primary in doc["settings"]["both_protocols"]:
        for candidate, pair in doc["rows"][primary]["pairs"].items():
            for protocol, other in (pair.get("protocols") or {}).items():
                if other.get("n"):
                    rows.append([name(primary), name(candidate), protocol, _atlas_cell(other),
                                 _atlas_cell(pair)])
    if not rows:
        return "No pair has been measured under its second protocol yet."
    return table(["primary", "candidate", "other protocol", "gain, points (seeds)", "under `auto`"], rows)


# --------------------------------------------------------------------------------------------------- selectors


def selectors() -> str:
    try:
        doc = load("selectors")
    except MissingResults:
        return ("!!! note \"Pending\"\n    The selector evaluation is pending: `bench/results/selectors.json` does "
                "not exist yet. `bench/selectors_vs_atlas.py` writes it once the atlas has complete rows (every pair "
                "of a primary at its initial seeds); the table then appears here.")
    summary, atlas = doc["summary"], doc["atlas"]
    best = summary.get("best")
    rows = []
    for selector, row in sorted(summary["selectors"].items(), key=lambda kv: kv[1]["regret_points"]):
        versus = row.get(f"regret_minus_{best}")
        compared = "–"
        if versus:
            compared = signed(versus["mean"], 1)
            if versus.get("low") is not None:
                compared += f" ({signed(versus['low'], 1)} to {signed(versus['high'], 1)})"
        rho = row.get("spearman")
        rows.append([f"`{selector}`", f"{row['regret_points']:.2f}", row["harmful_picks"],
                     "–" if rho is None else signed(rho, 2), f"{row['baseline_runs']:.2f}", compared])
    scored = atlas["primaries_scored"]
    head = (f"Scored on {len(scored)} primaries ({', '.join(name(p) for p in scored)}), the atlas at "
            f"{atlas['cells_done']} of {atlas['cells_planned']} cells.")
    overview = table(["selector", "mean regret@1, points", "harmful picks", "mean Spearman ρ",
                      "cost, baseline runs", f"regret − {best}'s, points (95 % CI over primaries)"], rows)
    names = sorted(doc["scores"])
    per_primary = []
    for primary in scored:
        cells = []
        for selector in names:
            s = doc["scores"][selector].get(primary)
            kept = "expected" if selector == "random_k" else ", ".join(name(t) for t in s["selected"][:2]) or "none"
            cells.append("–" if s is None else f"{kept} ({100 * s['regret']:.1f})")
        exhaustive = doc["scores"].get("exhaustive", {}).get(primary, {})
        top = (f"{name(exhaustive['best'])} ({signed(100 * exhaustive['best_gain'], 1)})"
               if "best" in exhaustive else "–")
        per_primary.append([name(primary), top, *cells])
    detail = table(["primary", "best candidate (gain)", *(f"`{n}`: kept (regret)" for n in names)], per_primary)
    return "\n\n".join([head, overview, detail])


# ---------------------------------------------------------------------------------------------------- the hook


TABLES: dict[str, Callable[[], str]] = {
    "demo": demo, "precision": precision, "training-speed": training_speed, "speed": speed,
    "weighting-costs": weighting_costs, "stage-costs": stage_costs, "robustness": robustness, "workers": workers,
    "rte-recipes": rte_recipes, "rte-probe": rte_probe, "transfer-arms": transfer_arms,
    "transfer-pairs": transfer_pairs, "selection-compare": selection_compare, "aang": aang,
    "aang-weights": aang_weights, "fewshot-scores": fewshot_scores, "fewshot-gains": fewshot_gains,
    "fewshot-per-target": fewshot_per_target, "fewshot-tuned-lora": fewshot_tuned_lora,
    "fewshot-tuned-gains": fewshot_tuned_gains, "fewshot-tuned-per-target": fewshot_tuned_per_target,
    "fewshot-pretrain": fewshot_pretrain,
    "atlas-progress": atlas_progress, "atlas-gains": atlas_gains, "atlas-other-protocol": atlas_other_protocol,
    "selectors": selectors,
}


def render(key: str, where: str = "") -> str:
    build = TABLES.get(key)
    if build is None:
        log.warning("%s: no generated table is named %r (docs/gen_results.py knows: %s)", where, key,
                    ", ".join(TABLES))
        return f"*(no table named {key})*"
    try:
        return build()
    except MissingResults as error:
        log.warning("%s: table %r: %s", where, key, error)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as error:
        log.warning("%s: table %r: its JSON lacks what it reads (%s: %s)", where, key, type(error).__name__, error)
    return f"*(table {key} unavailable)*"


def on_page_markdown(markdown: str, page, **_: Any) -> str:
    """MkDocs hook: replace each ``<!-- table: name -->`` line with its table."""
    return MARKER.sub(lambda m: render(m.group(1), page.file.src_path), markdown)


if __name__ == "__main__":
    logging.basicConfig(format="%(levelname)s %(message)s")
    for key in sys.argv[1:] or TABLES:
        print(f"## {key}\n\n{render(key, 'command line')}\n")
