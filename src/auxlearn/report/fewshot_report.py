"""The report of ``auxlearn adapt``: the few-shot comparison of the arms, what each trains, the routing learnt.

Read from the results.json of ``auxlearn adapt`` (``fewshot/adaptation.py``); every gain is an arm's eval score
minus LoRA from scratch's on the same seed's k-shot draw, with a paired Student-t interval (auxlearn/stats.py).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import yaml

from auxlearn.fewshot.arms import ARMS, label
from auxlearn.report_kit import plots
from auxlearn.report_kit.blocks import Code, Paragraph, Report, Section, Table, add_figure, fmt, fmt_gain
from auxlearn.stats import Comparison
from auxlearn.report.verdict import fmt_level, interval_text

REFERENCE = "lora"


def build_fewshot_report(results: dict[str, Any]) -> Report:
    primary = results["primary"]
    verdict = _verdict(results)
    sections = [
        Section(f"Few-shot: {primary} from k examples per class", "fewshot",
                [Paragraph(verdict, "verdict", "Verdict."), *_comparison(results)]),
        Section("What each arm trains", "parameters", [_parameters(results)]),
        Section("Routing: which skills each task uses", "routing", _routing(results)),
        Section("Pre-training", "pretrain", _pretraining(results)),
        Section("Configuration", "config", [Code(yaml.safe_dump(results.get("config") or {}, sort_keys=False))]),
    ]
    return Report(f"auxlearn adapt: {primary}, few-shot after pre-training on {', '.join(results['pool'])}",
                  verdict, sections, gains={})


def _gain(row: dict[str, Any]) -> Optional[Comparison]:
    gain = row.get(f"vs_{REFERENCE}")
    return Comparison(**gain) if gain else None


def _name(results: dict[str, Any], arm: str) -> str:
    return label(arm, results["splits"])


def _verdict(results: dict[str, Any]) -> str:
    """Per k, the best arm other than LoRA from scratch against it."""
    sentences = []
    for k, rows in results["comparison"].items():
        candidates = {arm: row for arm, row in rows.items() if arm != REFERENCE and _gain(row) is not None}
        if REFERENCE not in rows or not candidates:
            continue
        best = max(candidates, key=lambda arm: candidates[arm]["mean"])
        gain, reference = _gain(candidates[best]), rows[REFERENCE]
        share = _share(results, k, best)
        sentences.append(
            f"At k = {k}, {_name(results, best)} scored {fmt(candidates[best]['mean'])} against LoRA from "
            f"scratch's {fmt(reference['mean'])}: {fmt_gain(gain.mean)} ({fmt_level(gain.confidence)} "
            f"t-interval {interval_text(gain)}, {gain.n} seeds), training {100 * share:.2g} % of the encoder's "
            "parameters.")
    return " ".join(sentences) or "No arm has a score paired with LoRA from scratch yet."


def _share(results: dict[str, Any], k: str, arm: str) -> float:
    return max(run["parameters"]["share"] for run in results["runs"][k][arm].values())


def _comparison(results: dict[str, Any]) -> list:
    blocks: list = []
    interval = f"{fmt_level(0.95)} t-interval"
    for k, rows in results["comparison"].items():
        table = []
        for arm, row in rows.items():
            runs = results["runs"][k][arm].values()
            dev = [run["dev"] for run in runs if run["dev"] is not None]
            gain = _gain(row)
            table.append([_name(results, arm), fmt(row["mean"]) + f" ± {fmt(row['std'])}",
                          fmt(float(np.mean(dev))) if dev else "–",
                          "–" if gain is None else f"{fmt_gain(gain.mean)} ({interval_text(gain)})",
                          str(row["seeds"])])
        blocks.append(Table(["arm", "eval (mean ± std)", "dev (mean)", f"− LoRA from scratch ({interval})",
                             "seeds"], table, id=f"fewshot-k{k}",
                            caption=f"k = {k} examples per class: the primary's main metric on its eval split; "
                                    "dev (k per class as well) chose each run's checkpoint"))
    add_figure(blocks, "fewshot", _score_bars(results), "Eval score of every arm at every k",
               "Mean over seeds; the bars span ± one standard deviation.")
    return blocks


def _parameters(results: dict[str, Any]) -> Table:
    first = next(iter(results["runs"].values()))
    rows = []
    for arm, by_seed in first.items():
        counts = next(iter(by_seed.values()))["parameters"]
        rows.append([_name(results, arm), ARMS[arm].what, f"{counts['encoder']:,}", f"{counts['routing']:,}",
                     f"{counts['heads']:,}", f"{counts['trained']:,}", f"{100 * counts['share']:.3g} %"])
    return Table(["arm", "trains", "encoder side", "routing", "head", "total", "share of the encoder"], rows,
                 id="fewshot-parameters", caption="Parameters trained for the new task; the share is of the "
                                                  "encoder's own parameters")


def _routing(results: dict[str, Any]) -> list:
    routing = (results.get("pretrain") or {}).get("routing")
    if not routing:
        return [Paragraph("The pre-trained model has no routing.")]
    tasks, weights = list(routing["tasks"]), np.asarray(routing["mean"], dtype=float)  # [tasks, splits, skills]
    learnt = _learnt_row(results)
    if learnt is not None:
        tasks.append(f"{results['primary']} ({_name(results, 'mhr_z')}, k = {min(results['runs'], key=int)})")
        weights = np.concatenate([weights, learnt[None]], axis=0)
    skills = weights.shape[-1]
    blocks: list = [Paragraph(
        f"Weights of each skill per task, averaged over the adapted layers; each block's row sums to 1 (uniform: "
        f"{1 / skills:.3f}). Pre-trained routing ranges {weights[:len(routing['tasks'])].min():.3f} to "
        f"{weights[:len(routing['tasks'])].max():.3f}" + (
            f"; the new task's learnt row (mean over seeds) {learnt.min():.3f} to {learnt.max():.3f}."
            if learnt is not None else "."))]
    add_figure(blocks, "routing", _heatmaps(tasks, weights), "Routing weights, tasks by skills, per block",
               "One panel per routing block (split); rows: tasks, columns: skills.")
    return blocks


def _learnt_row(results: dict[str, Any]) -> Optional[np.ndarray]:
    """The new task's routing learnt by routing-only adaptation at the smallest k, averaged over seeds."""
    runs = results["runs"][min(results["runs"], key=int)].get("mhr_z", {})
    rows = [np.asarray(run["routing"]["mean"], dtype=float)[0] for run in runs.values() if run.get("routing")]
    return np.mean(rows, axis=0) if rows else None


def _pretraining(results: dict[str, Any]) -> list:
    pre = results["pretrain"]
    steps = ", ".join(f"{t} {n}" for t, n in (pre.get("task_steps") or {}).items())
    sizes = ", ".join(f"{t} {n:,}" for t, n in (pre.get("train_sizes") or {}).items())
    dev = pre.get("dev_best") or {}
    dev_text = "; ".join(f"{t} {fmt(s.get('main'))}" for t, s in dev.items())
    counts = pre.get("parameters") or {}
    return [Paragraph(
        f"Skills and routing trained on {', '.join(results['pool'])} for {pre.get('steps')} steps "
        f"({plots.format_seconds(pre.get('seconds') or 0)}): batches per task {steps}. Training examples per task "
        f"(after caps and the dev carve): {sizes}. Best dev ({results['pool'][0]} chose the checkpoint): "
        f"{dev_text or '–'}. Trained: {counts.get('encoder', 0):,} skill and {counts.get('routing', 0):,} routing "
        f"parameters, {counts.get('heads', 0):,} in the pool's heads.")]


def _score_bars(results: dict[str, Any]) -> Optional[bytes]:
    comparison = results["comparison"]
    if not comparison:
        return None
    arms = list(next(iter(comparison.values())))
    fig, ax = plots.plt.subplots(figsize=(1.6 * len(comparison) * len(arms) / 3 + 3, 3.6))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        means = [comparison[k][arm]["mean"] for k in comparison]
        stds = [comparison[k][arm]["std"] for k in comparison]
        ax.bar(np.arange(len(comparison)) + i * width, means, width, yerr=stds, color=plots.colour(i),
               label=_name(results, arm), capsize=3)
    ax.set_xticks(np.arange(len(comparison)) + 0.4 - width / 2, labels=[f"k = {k}" for k in comparison])
    ax.set_ylabel(f"{results['primary']} eval")
    ax.legend(loc="lower right", ncols=2)
    ax.set_title("Few-shot adaptation")
    return plots.png(fig)


def _heatmaps(tasks: list[str], weights: np.ndarray) -> Optional[bytes]:
    splits, skills = weights.shape[1], weights.shape[2]
    columns = min(splits, 4)
    rows = -(-splits // columns)
    fig, axes = plots.plt.subplots(rows, columns, squeeze=False, layout="constrained",
                                   figsize=(1.2 + columns * (0.35 * skills + 1.0), rows * (0.32 * len(tasks) + 1.2)))
    low, high = float(weights.min()), float(weights.max())  # near-uniform routing: the scale spans what there is
    for split, ax in enumerate(axes.flat):
        if split >= splits:
            ax.set_visible(False)
            continue
        image = ax.imshow(weights[:, split, :], cmap="viridis", vmin=low, vmax=high, aspect="auto")
        ax.set_xticks(range(skills), labels=[str(s) for s in range(skills)])
        ax.set_yticks(range(len(tasks)), labels=tasks if split % columns == 0 else [""] * len(tasks))
        ax.grid(False)
        ax.set_title(f"block {split}" if splits > 1 else "skills")
    fig.colorbar(image, ax=axes, label="routing weight", shrink=0.8)
    return plots.png(fig, tight=False)
