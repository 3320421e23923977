"""What the ratio-search mixers (gp-bo, random) show in the report: every trial, and the score per trial."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from auxlearn.report_kit.blocks import Table, add_figure, fmt, fmt_ratio
from auxlearn.report_kit.method import MixingReport


def _trials(run) -> list[dict[str, Any]]:
    return ((run.mixture or {}).get("details") or {}).get("trials") or []


class RatioSearchReport(MixingReport):
    def outcome(self, run):
        scored = [t for t in _trials(run) if t.get("score") is not None]
        best = (run.mixture or {}).get("details", {}).get("best_dev")
        return f" after {len(scored)} trained trials (best dev {fmt(best)})" if scored else ""

    def evidence(self, run):
        from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

        blocks: list = []
        trials = _trials(run)
        if trials:
            tasks = list(run.results.get("ratios") or {}) or list(trials[0].get("ratios", {}))
            rows = [[str(t["number"]), fmt_ratio({k: t["ratios"].get(k, 0) for k in tasks if k in t.get("ratios", {})}),
                     fmt(t.get("score")), str(t.get("state")),
                     plots.format_seconds(t["seconds"]) if t.get("seconds") is not None else "–"] for t in trials]
            blocks.append(Table(["trial", "ratios", f"dev {run.metric}", "state", "time"], rows, id="trials"))
            metric = run.metric if run.higher_is_better else f"{run.metric}, negated"
            add_figure(blocks, "bo_trials", trials_plot(trials, metric, str(run.mixture.get("method"))),
                       "Score per mixing trial and best so far")
        return blocks


def trials_plot(trials: list[dict[str, Any]], metric: str, method: str) -> Optional[bytes]:
    """Score per trial and best so far (the layout of optuna's plot_optimization_history).

    Drawn from mixture.json rather than the Optuna study: proposals without an active auxiliary are told to
    the study with the worst score seen (they were never trained), and optuna's plot would count them as trials.
    """
    from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

    scored = [t for t in trials if t.get("score") is not None]
    if not scored:
        return None
    numbers = [int(t["number"]) for t in scored]
    scores = [float(t["score"]) for t in scored]
    best = list(np.maximum.accumulate(scores))
    fig, ax = plots.plt.subplots(figsize=(7, 3.4))
    ax.plot(numbers, scores, linestyle="none", marker="o", color=plots.STAGE_COLOURS["final"],
            label="trial (dev score)")
    ax.step(numbers, best, where="post", color=plots.STAGE_COLOURS["mix"], linewidth=2, label="best so far")
    infeasible = [int(t["number"]) for t in trials if t.get("state") == "INFEASIBLE"]
    if infeasible:
        ax.plot(infeasible, [min(scores)] * len(infeasible), linestyle="none", marker="x", color="#999999",
                label="no auxiliary (not trained)")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"primary dev {metric} (best over training)")
    ax.set_title(f"Mixing-ratio search ({method}): score per trial and best so far")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, loc="lower right")
    return plots.png(fig)
