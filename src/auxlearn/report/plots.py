"""The report's figures: matplotlib (Agg), Okabe-Ito colours, each function returns PNG bytes.

Every function takes plain data (no file reading) and returns ``None`` when there is nothing to draw.
"""

from __future__ import annotations

import io
import math
from typing import Any, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

# Okabe & Ito (2008), the colour-blind-safe qualitative palette; black last.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
STAGE_COLOURS = {"baseline": "#E69F00", "control": "#D55E00", "final": "#0072B2", "select": "#009E73",
                 "mix": "#CC79A7"}
LINESTYLES = ["-", "--", ":", "-."]
DPI = 110

plt.rcParams.update({
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "figure.dpi": DPI,
})


def colour(i: int) -> str:
    return OKABE_ITO[i % len(OKABE_ITO)]


def task_colours(tasks: Sequence[str]) -> dict[str, str]:
    return {task: colour(i) for i, task in enumerate(tasks)}


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def bandit_utilities(history: list[dict[str, Any]], tasks: Sequence[str], primary: str,
                     threshold: Optional[float] = None) -> Optional[bytes]:
    """Posterior mean utility alpha / (alpha + beta) of each arm after every round, one line per task."""
    rounds = [r for r in history if isinstance(r.get("alpha"), dict) and isinstance(r.get("beta"), dict)]
    if not rounds:
        return None
    colours = task_colours(tasks)
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    x = [int(r.get("round", i)) for i, r in enumerate(rounds)]
    for i, task in enumerate(tasks):
        y = [r["alpha"][task] / (r["alpha"][task] + r["beta"][task]) for r in rounds]
        ax.plot(x, y, color=colours[task], linestyle=LINESTYLES[i % 4], marker="o",
                markersize=3, linewidth=2.2 if task == primary else 1.5,
                label=f"{task} (primary)" if task == primary else task)
        played = [xi for xi, r in zip(x, rounds) if r.get("arm") == task]
        ax.plot(played, [y[x.index(p)] for p in played], linestyle="none", marker="o", markersize=7,
                markerfacecolor="none", markeredgecolor=colours[task])
    if threshold is not None:
        ax.axhline(threshold, color="#555555", linestyle=":", linewidth=1, label=f"threshold {threshold:g}")
    ax.set_xlabel("bandit round (one round = one block of training steps on the played task)")
    ax.set_ylabel("utility (posterior mean, 0–1)")
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("AutoSeM bandit: task utility after each round (ring = task played that round)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return _png(fig)


def _bars(tasks: Sequence[str], values: Sequence[float], colours: Sequence[str], labels: Sequence[str], *,
          width: float, xlabel: str, title: str):
    """One horizontal bar per task, top to bottom in the given order, each with its label at the bar's end."""
    fig, ax = plt.subplots(figsize=(width, 0.45 * len(tasks) + 1.2))
    ax.barh(tasks, values, color=colours)
    ax.invert_yaxis()
    for i, (value, label) in enumerate(zip(values, labels)):
        ax.text(value, i, label, va="center", ha="left" if value >= 0 else "right")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    return fig, ax


def plays_bars(plays: dict[str, int], selected: Sequence[str], primary: str) -> Optional[bytes]:
    if not plays:
        return None
    tasks = list(plays)
    colours = [STAGE_COLOURS["final"] if t in selected else (STAGE_COLOURS["baseline"] if t == primary else "#999999")
               for t in tasks]
    fig, ax = _bars(tasks, [plays[t] for t in tasks], colours, [f" {plays[t]}" for t in tasks], width=6,
                    xlabel="rounds played (count)",
                    title="Plays per arm (blue: selected, orange: primary, grey: not selected)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def score_bars(scores: dict[str, float], selected: Sequence[str], *, xlabel: str, title: str) -> Optional[bytes]:
    """Horizontal bars of one number per candidate (GradTS tau, exhaustive pair gain), best first."""
    if not scores:
        return None
    tasks = sorted(scores, key=lambda t: -scores[t])
    values = [scores[t] for t in tasks]
    fig, ax = _bars(tasks, values, [STAGE_COLOURS["final"] if t in selected else "#999999" for t in tasks],
                    [f" {v:+.3f} " for v in values], width=6.5, xlabel=xlabel, title=title)
    ax.axvline(0, color="#333333", linewidth=0.8)
    span = max(abs(v) for v in values) or 1.0
    ax.set_xlim(min(0, min(values)) - 0.25 * span, max(0, max(values)) + 0.25 * span)
    return _png(fig)


def importance_heatmaps(matrices: dict[str, np.ndarray], order: Sequence[str],
                        taus: dict[str, float]) -> Optional[bytes]:
    """One layers x heads heatmap per task (primary first), on one shared colour scale."""
    tasks = [t for t in order if t in matrices]
    if not tasks:
        return None
    shape = matrices[tasks[0]].shape
    cols = min(len(tasks), 2 if shape[1] > 8 else 4)
    rows = math.ceil(len(tasks) / cols)
    width = max(2.6, 0.28 * shape[1] + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols + 1.2, (0.3 * shape[0] + 2.4) * rows),
                             squeeze=False, layout="constrained")
    vmax = max(float(np.max(matrices[t])) for t in tasks) or 1.0
    image = None
    for ax, task in zip(axes.flat, tasks):
        m = matrices[task]
        image = ax.imshow(m, cmap="viridis", vmin=0, vmax=vmax, aspect="auto", interpolation="nearest")
        title = f"{task} (primary)" if task == order[0] else f"{task}, τ = {taus[task]:+.2f}" if task in taus else task
        ax.set_title(title)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(m.shape[1]))
        ax.set_yticks(range(m.shape[0]))
        ax.grid(False)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.colorbar(image, ax=axes, label="head importance (normalised)", shrink=0.9)
    fig.suptitle("GradTS head importance (layers × heads)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def task_matrix(rows: Sequence[str], columns: Sequence[str], scores: Sequence[dict[str, float]],
                selected: Sequence[set[str]], *, title: str, colour_label: str,
                neutral: float = 0.0) -> Optional[bytes]:
    """Primaries x candidates heatmap of selection scores, centred on ``neutral``; selected cells boxed.

    PuOr is diverging and colour-blind safe; a cell without a score (the primary itself) stays blank.
    """
    if not rows or not columns:
        return None
    values = np.array([[row.get(c, np.nan) for c in columns] for row in scores], dtype=float)
    span = float(np.nanmax(np.abs(values - neutral))) if np.isfinite(values).any() else 0.0
    span = span or 1.0
    fig, ax = plt.subplots(figsize=(1.0 * len(columns) + 3.0, 0.55 * len(rows) + 1.8))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="PuOr", vmin=neutral - span, vmax=neutral + span,
                      aspect="auto")
    for i, j in zip(*np.nonzero(np.isfinite(values))):
        ax.text(j, i, f"{values[i, j]:+.2f}", ha="center", va="center", fontsize=9,
                color="white" if abs(values[i, j] - neutral) > 0.6 * span else "black")
        if columns[j] in selected[i]:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), labels=rows)
    ax.set_xlabel("candidate auxiliary task")
    ax.set_ylabel("primary task")
    ax.grid(False)
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=colour_label, shrink=0.9)
    return _png(fig)


def ratio_bars(ratios: dict[str, float], primary: str) -> Optional[bytes]:
    if not ratios:
        return None
    tasks = list(ratios)
    total = sum(ratios.values()) or 1.0
    fig, ax = _bars(tasks, [ratios[t] for t in tasks],
                    [STAGE_COLOURS["baseline"] if t == primary else STAGE_COLOURS["final"] for t in tasks],
                    [f" {ratios[t]:g} ({100 * ratios[t] / total:.0f} % of batches)" for t in tasks], width=6,
                    xlabel="mixing ratio (batches per round-robin cycle)",
                    title="Chosen mixing ratios (orange: primary)")
    ax.set_xlim(0, max(ratios.values()) * 1.6 or 1)
    return _png(fig)


def bo_trials(trials: list[dict[str, Any]], metric: str, method: str) -> Optional[bytes]:
    """Score per trial and best so far (the layout of optuna's plot_optimization_history).

    Drawn from mixture.json rather than the Optuna study: proposals without an active auxiliary are told to
    the study with the worst score seen (they were never trained), and optuna's plot would count them as trials.
    """
    scored = [t for t in trials if t.get("score") is not None]
    if not scored:
        return None
    numbers = [int(t["number"]) for t in scored]
    scores = [float(t["score"]) for t in scored]
    best = list(np.maximum.accumulate(scores))
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(numbers, scores, linestyle="none", marker="o", color=STAGE_COLOURS["final"], label="trial (dev score)")
    ax.step(numbers, best, where="post", color=STAGE_COLOURS["mix"], linewidth=2, label="best so far")
    infeasible = [int(t["number"]) for t in trials if t.get("state") == "INFEASIBLE"]
    if infeasible:
        ax.plot(infeasible, [min(scores)] * len(infeasible), linestyle="none", marker="x", color="#999999",
                label="no auxiliary (not trained)")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"primary dev {metric} (best over training)")
    ax.set_title(f"Mixing-ratio search ({method}): score per trial and best so far")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, loc="lower right")
    return _png(fig)


def learning_curves(curves: list[Any], metric: str, primary: str) -> Optional[bytes]:
    """Left: baseline, control and final (the scored arms) per seed; right: selection and mixing runs."""
    if not curves:
        return None
    main = [c for c in curves if c.group not in ("select", "mix")]
    side = [c for c in curves if c.group in ("select", "mix")]
    panels = [p for p in (main, side) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 3.8), squeeze=False)
    for ax, group in zip(axes[0], panels):
        seen: dict[str, int] = {}
        for curve in group:
            k = seen.setdefault(curve.group, 0)
            seen[curve.group] += 1
            c = STAGE_COLOURS.get(curve.group, colour(len(seen) + 3))
            ax.plot(curve.steps, curve.values, color=c, linestyle=LINESTYLES[k % 4], marker="o", markersize=3,
                    alpha=1.0 if group is main else 0.85, label=curve.label)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{primary} dev {metric}")
        arms = " vs ".join(dict.fromkeys(c.group for c in main))
        ax.set_title(f"{arms}, per seed" if group is main else "selection and mixing runs")
        ax.legend(frameon=False, fontsize=8, ncol=1 if len(group) <= 8 else 2)
    return _png(fig)


def costs(seconds: dict[str, float]) -> Optional[bytes]:
    stages = {k: float(v) for k, v in seconds.items() if k != "total" and v is not None}
    if not stages:
        return None
    names = list(stages)
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(names) + 1.3))
    scale, unit = ((1, "seconds") if max(stages.values()) < 120 else (60, "minutes")
                   if max(stages.values()) < 7200 else (3600, "hours"))
    ax.barh(names, [stages[n] / scale for n in names], color=[STAGE_COLOURS.get(n, "#999999") for n in names])
    ax.invert_yaxis()
    for i, n in enumerate(names):
        ax.text(stages[n] / scale, i, f" {format_seconds(stages[n])}", va="center")
    ax.set_xlim(0, max(stages.values()) / scale * 1.35 or 1)
    ax.set_xlabel(f"wall-clock time ({unit})")
    total = seconds.get("total")
    ax.set_title("Cost per stage" + (f" (total {format_seconds(total)})" if total is not None else ""))
    ax.grid(axis="y", visible=False)
    return _png(fig)


def format_seconds(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
