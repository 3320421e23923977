"""The report's figures: matplotlib (Agg), Okabe-Ito colours, each function returns PNG bytes.

Every function takes plain data (no file reading) and returns ``None`` when there is nothing to draw. A method's
own figures live in its report module and draw with the helpers here (``png``, ``bars``, the colours).
"""

from __future__ import annotations

import io
from typing import Any, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from auxlearn.report_kit.blocks import format_seconds  # noqa: E402  (the name the reports use)
from auxlearn.stats import CONFIDENCE, Comparison  # noqa: E402

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


def png(fig, tight: bool = True) -> bytes:
    """The figure as PNG bytes, closed; ``tight=False`` for a figure with its own layout engine."""
    buffer = io.BytesIO()
    if tight:
        fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def bars(tasks: Sequence[str], values: Sequence[float], colours: Sequence[str], labels: Sequence[str], *,
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


def score_bars(scores: dict[str, float], selected: Sequence[str], *, xlabel: str, title: str) -> Optional[bytes]:
    """Horizontal bars of one number per candidate (a selector's scores), best first."""
    if not scores:
        return None
    tasks = sorted(scores, key=lambda t: -scores[t])
    values = [scores[t] for t in tasks]
    fig, ax = bars(tasks, values, [STAGE_COLOURS["final"] if t in selected else "#999999" for t in tasks],
                    [f" {v:+.3f} " for v in values], width=6.5, xlabel=xlabel, title=title)
    ax.axvline(0, color="#333333", linewidth=0.8)
    span = max(abs(v) for v in values) or 1.0
    ax.set_xlim(min(0, min(values)) - 0.25 * span, max(0, max(values)) + 0.25 * span)
    return png(fig)


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
    return png(fig)


def ratio_bars(ratios: dict[str, float], primary: str) -> Optional[bytes]:
    if not ratios:
        return None
    tasks = list(ratios)
    total = sum(ratios.values()) or 1.0
    fig, ax = bars(tasks, [ratios[t] for t in tasks],
                    [STAGE_COLOURS["baseline"] if t == primary else STAGE_COLOURS["final"] for t in tasks],
                    [f" {ratios[t]:g} ({100 * ratios[t] / total:.0f} % of batches)" for t in tasks], width=6,
                    xlabel="mixing ratio (batches per round-robin cycle)",
                    title="Chosen mixing ratios (orange: primary)")
    ax.set_xlim(0, max(ratios.values()) * 1.6 or 1)
    return png(fig)


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
    return png(fig)


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
    return png(fig)


def headline(arms: dict[str, dict[str, float]], gains: dict[str, Comparison], *, primary: str, metric: str,
             higher_is_better: bool = True) -> Optional[bytes]:
    """The run's answer as one picture: left, every seed's eval score per arm (points, a seed's arms joined, the
    mean a bar); right, each gain of the final model with its per-seed values and t-interval, against zero."""
    if not arms:
        return None
    panels = 2 if gains else 1
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels + 0.6, 3.1), squeeze=False,
                             gridspec_kw={"width_ratios": [1.0, 1.25][:panels]})
    _seed_scores(axes[0][0], arms, f"{primary} eval {metric}")
    if gains:
        _gain_intervals(axes[0][1], gains, "better" if higher_is_better else "worse")
    return png(fig)


def _seed_scores(ax, arms: dict[str, dict[str, float]], ylabel: str) -> None:
    names = list(arms)
    seeds = sorted({seed for scores in arms.values() for seed in scores}, key=str)
    offsets = np.linspace(-0.12, 0.12, len(seeds)) if len(seeds) > 1 else [0.0]
    for seed, offset in zip(seeds, offsets):  # one seed's arms joined: the gains are paired by seed
        xs = [i + offset for i, arm in enumerate(names) if seed in arms[arm]]
        ax.plot(xs, [arms[arm][seed] for arm in names if seed in arms[arm]], color="#bbbbbb", linewidth=0.8,
                zorder=1)
    for i, arm in enumerate(names):
        scores = [arms[arm][seed] for seed in seeds if seed in arms[arm]]
        shift = [offsets[seeds.index(seed)] for seed in seeds if seed in arms[arm]]
        ax.scatter([i + s for s in shift], scores, color=STAGE_COLOURS.get(arm, colour(i)), s=26, zorder=3)
        mean = float(np.mean(scores))
        ax.hlines(mean, i - 0.3, i + 0.3, color=STAGE_COLOURS.get(arm, colour(i)), linewidth=2.5, zorder=2)
        ax.annotate(f"{mean:.4f}", (i + 0.32, mean), va="center", fontsize=9)
    ax.set_xticks(range(len(names)), labels=names)
    ax.set_xlim(-0.5, len(names) - 0.1)
    ax.set_ylabel(ylabel)
    ax.set_title("Every seed's eval score (bar: the mean)")
    ax.grid(axis="x", visible=False)


def _gain_intervals(ax, gains: dict[str, Comparison], direction: str) -> None:
    names = list(gains)
    for i, name in enumerate(names):
        gain = gains[name]
        ax.scatter(list(gain.per_seed.values()), [i] * gain.n, color="#999999", s=18, zorder=2)
        if gain.low is not None:
            ax.errorbar(gain.mean, i, xerr=[[gain.mean - gain.low], [gain.high - gain.mean]], fmt="none",
                        ecolor=STAGE_COLOURS["final"], elinewidth=2.5, capsize=5, zorder=3)
        ax.scatter([gain.mean], [i], color=STAGE_COLOURS["final"], marker="D", s=40, zorder=4)
        interval = f"[{gain.low:+.4f}, {gain.high:+.4f}]" if gain.low is not None else "(one seed: no interval)"
        ax.annotate(f"mean {gain.mean:+.4f}, interval {interval}", (0.5, i - 0.3),
                    xycoords=("axes fraction", "data"), ha="center", fontsize=9,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"})
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_yticks(range(len(names)), labels=names)
    ax.set_ylim(len(names) - 0.5, -0.75)
    ax.set_xlabel(f"gain (right of 0: the final model {direction})")
    ax.set_title(f"Gains, paired by seed: mean and {100 * CONFIDENCE:g} % t-interval")
    ax.grid(axis="y", visible=False)
