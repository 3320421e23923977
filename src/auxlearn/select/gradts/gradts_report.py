"""What the GradTS selector shows in the report: the taus, the trials, and the head-importance heatmaps.

It reads the files the selector leaves in the run's ``select/`` folder: ``importance/<task>.npz`` (array
``task``, layers x heads, as ``HeadImportance.save`` writes) and the taus per candidate from ``gradts.json``
(or a plain ``taus.json``: ``{"taus": {task: tau}}`` or ``{task: tau}``), else the selection's
``details["taus"]``, else its scores.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from auxlearn.io import read_json
from auxlearn.report_kit.blocks import Table, add_figure, fmt
from auxlearn.report_kit.method import SelectionReport

IMPORTANCE_DIR = Path("select") / "importance"
TAUS_FILES = (Path("select") / "gradts.json", Path("select") / "taus.json")
TOP_CANDIDATES = 3  # heatmaps: the primary and this many best-tau candidates


class GradTSReport(SelectionReport):
    score_meaning = "Kendall τ"

    def explain(self, run):
        taus = load_taus(run.run_dir, run.selection) or run.selection_scores
        kept = ", ".join(f"{t} (τ {taus[t]:+.2f})" if t in taus else t for t in run.selected)
        return (f"GradTS ranked the candidates by the Kendall τ between their attention-head importance and the "
                f"primary's, and kept {kept or 'none'}.")

    def evidence(self, run):
        from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

        blocks: list = []
        selected = (run.selection or {}).get("selected") or []
        taus, importance = load_taus(run.run_dir, run.selection), load_importance(run.run_dir)
        if taus:
            add_figure(blocks, "gradts_taus",
                       plots.score_bars(taus, selected,
                                        xlabel="Kendall τ with the primary's head importance (−1 to 1)",
                                        title="GradTS: head-importance correlation per candidate"),
                       "GradTS Kendall tau per candidate")
        trials = run.selection_details.get("trials")
        if trials:
            blocks.append(Table(["trial", "tasks trained with the primary", f"best dev {run.metric}"],
                                [[str(t.get("k", i + 1)),
                                  ", ".join(x for x in t.get("tasks", []) if x != run.primary), fmt(t.get("score"))]
                                 for i, t in enumerate(trials)], id="gradts-trials",
                                caption="GradTS-trial: candidates added in τ order until the dev score drops"))
        if importance:
            ranked = sorted((t for t in importance if t != run.primary), key=lambda t: -taus.get(t, -2))
            order = [run.primary, *ranked[:TOP_CANDIDATES]]
            add_figure(blocks, "gradts_importance", heatmaps(importance, order, taus),
                       "GradTS head-importance heatmaps", "Primary first, then the candidates with the highest τ.")
        return blocks


def load_importance(run_dir: Path) -> dict[str, np.ndarray]:
    """Head-importance matrices by task; unreadable or malformed files are left out."""
    folder = run_dir / IMPORTANCE_DIR
    matrices: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
        try:
            with np.load(path, allow_pickle=False) as data:
                matrix = np.asarray(data["task"] if "task" in data.files else data[data.files[0]], dtype=float)
        except (OSError, ValueError, KeyError, IndexError):
            continue
        if matrix.ndim == 2 and matrix.size:
            matrices[path.stem] = matrix
    return matrices


def load_taus(run_dir: Path, selection) -> dict[str, float]:
    for relative in TAUS_FILES:
        path = run_dir / relative
        if path.is_file():
            data = read_json(path)
            data = data.get("taus", data) if isinstance(data, dict) else {}
            taus = {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
            if taus:
                return taus
    if selection:
        details = selection.get("details") or {}
        if isinstance(details.get("taus"), dict):
            return {str(k): float(v) for k, v in details["taus"].items()}
        return {str(k): float(v) for k, v in (selection.get("scores") or {}).items()}
    return {}


def heatmaps(matrices: dict[str, np.ndarray], order: Sequence[str], taus: dict[str, float]):
    """One layers x heads heatmap per task (primary first), on one shared colour scale; PNG bytes."""
    from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

    tasks = [t for t in order if t in matrices]
    if not tasks:
        return None
    shape = matrices[tasks[0]].shape
    cols = min(len(tasks), 2 if shape[1] > 8 else 4)
    rows = math.ceil(len(tasks) / cols)
    width = max(2.6, 0.28 * shape[1] + 1.2)
    fig, axes = plots.plt.subplots(rows, cols, figsize=(width * cols + 1.2, (0.3 * shape[0] + 2.4) * rows),
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
    return plots.png(fig, tight=False)
