"""What the AutoSeM selector shows in the report: its rule in words, each arm's utility over the rounds, the plays."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from auxlearn.report_kit.blocks import add_figure
from auxlearn.report_kit.method import SelectionReport, listing
from auxlearn.select.rules import PRIMARY


class AutoSemReport(SelectionReport):
    score_column = "utility"
    score_meaning = "bandit utility"
    neutral_score = 0.5  # the prior's utility: no evidence either way

    def explain(self, run):
        details, scores, selected = run.selection_details, run.selection_scores, run.selected
        plays = details.get("plays") or {}
        dropped = [t for t in scores if t not in selected]

        def note(task: str) -> str:
            return ", never played" if plays.get(task) == 0 else ""

        threshold = details.get("threshold")
        rule = (f"the top {details['top_k']}" if details.get("top_k") else
                "a utility above the primary arm's own" if threshold == PRIMARY else
                f"utility ≥ {threshold}" if threshold is not None else "its rule")
        text = (f"AutoSeM's Thompson-sampling bandit played {details.get('rounds', '?')} rounds of "
                f"{details.get('round_steps', '?')} steps and kept the candidates whose utility (how often training "
                f"them did not lower the primary's dev score, 0–1) passed {rule}: "
                f"{listing(selected, scores, lambda v: f'utility {v:.2f}', note) or 'none'}")
        if "primary_utility" in details:
            text += f"; the primary itself scored {details['primary_utility']:.2f}"
        if dropped:
            text += f". Dropped: {listing(dropped, scores, lambda v: f'{v:.2f}', note)}"
        return text + "."

    def evidence(self, run):
        blocks: list = []
        details = run.selection_details
        selected = (run.selection or {}).get("selected") or []
        history = details.get("history") or []
        if history:
            tasks = list((details.get("plays") or {}) or history[-1].get("alpha", {}))
            threshold = details.get("threshold")
            add_figure(blocks, "bandit_utilities",
                       utilities_plot(history, tasks, run.primary,
                                      float(threshold) if isinstance(threshold, (int, float)) else None),
                       "Bandit utility of each task after every round",
                       "Utility = posterior mean α / (α + β) of each arm; every round decays all arms toward the "
                       "prior and rewards the played arm if the primary's dev score did not drop.")
        if details.get("plays"):
            add_figure(blocks, "bandit_plays", plays_plot(details["plays"], selected, run.primary),
                       "Rounds played per task")
        return blocks


def utilities_plot(history: list[dict[str, Any]], tasks: Sequence[str], primary: str,
                   threshold: Optional[float] = None) -> Optional[bytes]:
    """Posterior mean utility alpha / (alpha + beta) of each arm after every round, one line per task; a numeric
    threshold is drawn as a line ("primary" is the primary's own curve, drawn anyway)."""
    from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

    rounds = [r for r in history if isinstance(r.get("alpha"), dict) and isinstance(r.get("beta"), dict)]
    if not rounds:
        return None
    colours = plots.task_colours(tasks)
    fig, ax = plots.plt.subplots(figsize=(7.5, 3.6))
    x = [int(r.get("round", i)) for i, r in enumerate(rounds)]
    for i, task in enumerate(tasks):
        y = [r["alpha"][task] / (r["alpha"][task] + r["beta"][task]) for r in rounds]
        ax.plot(x, y, color=colours[task], linestyle=plots.LINESTYLES[i % 4], marker="o",
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
    return plots.png(fig)


def plays_plot(plays: dict[str, int], selected: Sequence[str], primary: str) -> Optional[bytes]:
    from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

    if not plays:
        return None
    tasks = list(plays)
    colours = [plots.STAGE_COLOURS["final"] if t in selected else
               (plots.STAGE_COLOURS["baseline"] if t == primary else "#999999") for t in tasks]
    fig, ax = plots.bars(tasks, [plays[t] for t in tasks], colours, [f" {plays[t]}" for t in tasks], width=6,
                         xlabel="rounds played (count)",
                         title="Plays per arm (blue: selected, orange: primary, grey: not selected)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return plots.png(fig)
