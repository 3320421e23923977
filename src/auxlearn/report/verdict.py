"""The run's answer: each gain of the final model with its paired t-analysis, in a table and in words.

``outcome`` turns the gains into a few words (``verdict_word``, corrected by the control arm), ``verdict_text``
into the evidence paragraph, ``lead`` into the bold one-line answer; ``headline_table`` and ``arms_table`` hold
the numbers behind them.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from auxlearn.report_kit import plots
from auxlearn.report_kit.blocks import Table, fmt, fmt_gain
from auxlearn.report_kit.run_data import RunData
from auxlearn.stats import CONFIDENCE, Comparison, mean_std, paired_t, verdict_word

ARMS = ("baseline", "control", "final")  # the stages trained and scored on eval seed by seed
# verdict_word's words that outcome() treats apart (the positive ones weakest first), then outcome()'s own
POSITIVE = ("seemed to help", "helped")
TENTATIVE = ("seemed to help", "seemed to hurt")
NO_DIFFERENCE = "made no clear difference"
LONGER_TRAINING = "longer training explains the gain"
SAME_AS_BASELINE = "nothing selected: the final model is the baseline"
NOTHING_SELECTED = "nothing selected"
HEADLINE_ALT = f"Every seed's eval score per arm, and the gains' {100 * CONFIDENCE:g} % t-intervals"


def compare(data: RunData, reference: str, candidate: str = "final") -> Optional[Comparison]:
    """``candidate`` − ``reference`` on the primary's eval score, seed by seed (paired t), or None when the run
    lacks either arm."""
    stages = data.results["stages"]
    if reference not in stages or candidate not in stages:
        return None
    return paired_t(stages[reference].get("eval", {}), stages[candidate].get("eval", {}),
                    higher_is_better=data.higher_is_better)


def run_gains(data: RunData) -> dict[str, Comparison]:
    """The final model against each reference arm the run has: ``{"baseline": ..., "control": ...}``."""
    gains = {reference: compare(data, reference) for reference in ("baseline", "control")}
    return {reference: gain for reference, gain in gains.items() if gain is not None}


def outcome(data: RunData, gains: dict[str, Comparison]) -> str:
    """The run's answer in a few words: ``verdict_word`` of final − baseline, except that a gain the control
    (the primary alone trained as long as the final model) does not confirm is ``LONGER_TRAINING``, and a firm
    gain over the baseline with only a tentative one over the control is tentative too."""
    if data.same_as_baseline:
        return SAME_AS_BASELINE
    if not data.results.get("selected"):
        return NOTHING_SELECTED
    word = verdict_word(gains["baseline"], data.higher_is_better) if "baseline" in gains else NO_DIFFERENCE
    if "control" not in gains or word not in POSITIVE:
        return word
    versus_control = verdict_word(gains["control"], data.higher_is_better)
    return min(word, versus_control, key=POSITIVE.index) if versus_control in POSITIVE else LONGER_TRAINING


def interval_text(gain: Comparison) -> str:
    return f"{fmt_gain(gain.low)} to {fmt_gain(gain.high)}" if gain.low is not None else "–"


def fmt_level(confidence: float) -> str:
    return f"{100 * confidence:g} %"


def fmt_p(p: Optional[float]) -> str:
    return "< 0.0001" if p is not None and p < 1e-4 else fmt(p)


def fmt_share(gain: Comparison) -> str:
    """The seeds on which the candidate was better, e.g. "4 of 5"."""
    return f"{round(gain.improved * gain.n)} of {gain.n}" if gain.n else "–"


def mean_text(scores: dict[str, float]) -> str:
    mean, std = mean_std(scores.values())
    return f"{fmt(mean)} ± {fmt(std)}"


def _gain_stats(gain: Comparison) -> str:
    """The evidence behind a gain in words: its t-interval, p-value and the seeds it improved."""
    if gain.low is None:
        return "a single seed, so no interval"
    return (f"{fmt_level(gain.confidence)} t-interval {interval_text(gain)}, p = {fmt_p(gain.p_value)}, "
            f"better on {fmt_share(gain)} seeds")


def headline_table(data: RunData, gains: dict[str, Comparison]) -> Table:
    stages, seeds = data.results["stages"], data.seeds
    rows, classes = [], []
    for name in data.scored_stages():
        stage = stages[name]
        tasks = stage.get("tasks") or [data.primary]
        auxiliary = [t for t in tasks if t != data.primary]
        scores = list(stage["eval"].values())
        alone = "none: the baseline itself" if name == "final" and data.same_as_baseline else "none"
        rows.append([name, ", ".join(auxiliary) or alone, *[fmt(stage["eval"].get(s)) for s in seeds],
                     mean_text(stage["eval"]), fmt(float(np.median(scores)) if scores else None), "", "", ""])
        classes.append(f"stage-{name}")
    for reference, gain in gains.items():
        rows.append([f"gain: final − {reference}", "", *[fmt_gain(gain.per_seed.get(s)) for s in seeds],
                     f"{fmt_gain(gain.mean)} ± {fmt(gain.std)}", fmt_gain(gain.median), interval_text(gain),
                     fmt_p(gain.p_value), fmt_share(gain)])
        classes.append("gain")
    return Table(["arm", "auxiliary tasks", *[f"seed {s}" for s in seeds], "mean ± std", "median",
                  f"{fmt_level(CONFIDENCE)} t-interval", "p-value", "seeds improved"], rows,
                 id="headline", caption=f"{data.primary}: {data.metric} on the eval split (never seen by selection "
                                        f"or mixing); gains are paired by seed", row_classes=classes)


def headline_figure(data: RunData, gains: dict[str, Comparison]) -> tuple[Optional[bytes], str]:
    """The answer as a picture (every seed's eval score per arm, the gains' t-intervals) and its caption, which
    says the gains in words for a reader who cannot see it."""
    arms = {arm: data.stage(arm)["eval"] for arm in data.scored_stages() if arm in ARMS}
    named = {f"final − {reference}": gain for reference, gain in gains.items()}
    figure = plots.headline(arms, named, primary=data.primary, metric=data.metric,
                            higher_is_better=data.higher_is_better)
    said = "; ".join(f"{name} {fmt_gain(gain.mean)} (" + (f"{fmt_level(gain.confidence)} t-interval "
                     f"{interval_text(gain)}" if gain.low is not None else "one seed: no interval") + ")"
                     for name, gain in named.items())
    return figure, (f"{data.primary}, {data.metric} on eval: each point is one seed, the bar each arm's mean"
                    + (f"; {said}" if said else "") + ".")


def _runs_of(stage: dict[str, Any], key: str) -> Optional[float]:
    """The mean over seeds of one number of the stage's per-seed runs (None when no run records it)."""
    values = [run[key] for run in (stage.get("runs") or {}).values() if run.get(key) is not None]
    return float(np.mean(values)) if values else None


def degenerate_runs(data: RunData) -> dict[str, str]:
    """Per arm with per-seed runs, how many predicted one class for every eval example ("1 of 5"); {} when none."""
    counts = {arm: (sum(bool(run.get("degenerate")) for run in runs.values()), len(runs))
              for arm in ARMS if (runs := data.stage(arm).get("runs"))}
    return {arm: f"{k} of {n}" for arm, (k, n) in counts.items()} if any(k for k, _ in counts.values()) else {}


def _count(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _seconds(value: Optional[float]) -> str:
    return "–" if value is None else plots.format_seconds(value)


def arms_table(data: RunData) -> Optional[Table]:
    """Each arm's training budget (mean over seeds) and time; degenerate runs when any arm had one."""
    arms = [a for a in ARMS if a in data.results["stages"]]
    if not any(data.stage(a).get("runs") for a in arms):
        return None
    degenerate = degenerate_runs(data)
    rows = []
    for arm in arms:
        stage = data.stage(arm)
        rows.append([arm, *[_count(_runs_of(stage, key)) for key in ("primary_steps", "steps", "best_step")],
                     _seconds(_runs_of(stage, "seconds")), _seconds(stage.get("reused_seconds", stage.get("seconds"))),
                     *([degenerate.get(arm, "–")] if degenerate else [])])
    headers = ["arm", "primary steps", "total steps", "best step", "time per seed", "time, all seeds"]
    return Table(headers + (["degenerate runs"] if degenerate else []), rows, id="arms",
                 caption="Training budget per arm, mean over seeds: primary steps = batches of the primary; a "
                         "degenerate run predicted one class for every eval example")


def verdict_text(data: RunData, gains: dict[str, Comparison], answer: str) -> str:
    """The answer's evidence: each gain of the final model with its t-analysis, and degenerate runs."""
    stages = data.results["stages"]
    parts = []
    if "baseline" in gains:
        gain = gains["baseline"]
        baseline, final = mean_text(stages["baseline"]["eval"]), mean_text(stages["final"]["eval"])
        if answer == SAME_AS_BASELINE:
            parts.append(f"No candidate beat the primary alone on the selector's own evidence, so the final model is "
                         f"the baseline itself: {data.primary} alone scored {baseline} ({data.metric} on eval).")
        elif answer == NOTHING_SELECTED:
            parts.append(f"No auxiliary task was selected, so the final model is the primary {data.primary} alone, "
                         f"retrained: {final} vs {baseline} ({data.metric} on eval; gain {fmt_gain(gain.mean)}, "
                         f"{_gain_stats(gain)}).")
        else:
            phrase = "did not help beyond longer training" if answer == LONGER_TRAINING else answer
            parts.append(f"The auxiliary tasks {phrase}: on {data.primary} ({data.metric}, eval split), the final "
                         f"model scored {final} against {baseline} for the primary alone, a gain of "
                         f"{fmt_gain(gain.mean)} ({_gain_stats(gain)}).")
        control = gains.get("control")
        if control is not None and answer != SAME_AS_BASELINE:
            planned = stages["control"].get("planned_steps") or stages["final"].get("planned_steps")
            steps = _count(_runs_of(stages["control"], "steps"))
            allowed = f" allowed the final model's {planned} steps (early stopping ended it after {steps} on average)"
            parts.append(f"The control, the primary alone{allowed if planned else f' trained for {steps} steps'}, "
                         f"scored {mean_text(stages['control']['eval'])}: final − control "
                         f"{fmt_gain(control.mean)} ({_gain_stats(control)}).")
            if answer == LONGER_TRAINING:
                parts.append("The gain over the baseline is explained by longer training, so it is not credited to "
                             "the auxiliary tasks.")
        if answer in TENTATIVE:
            n = min(g.n for g in gains.values())
            parts.append(f"With {n} seeds the t-interval is wide; more seeds (the config's seeds) tighten it.")
    degenerate = degenerate_runs(data)
    if degenerate:
        parts.append("Degenerate runs (one class predicted for every eval example): "
                     + ", ".join(f"{arm} {count}" for arm, count in degenerate.items()) + ".")
    return " ".join(parts)


def lead(gains: dict[str, Comparison], answer: str) -> str:
    """The one-line answer in bold before the verdict."""
    n = min((g.n for g in gains.values()), default=0)
    few = f"{n} seed{'s' if n != 1 else ''}: too few for a firm answer"
    answers = {"helped": "Yes.", "hurt": "No, they hurt.", "seemed to help": f"Perhaps ({few}).",
               "seemed to hurt": f"Perhaps not ({few}).",
               NO_DIFFERENCE: "Not clearly: the gain is within seed-to-seed noise.",
               LONGER_TRAINING: "No: the final model beat the baseline but not the control (the primary alone trained "
                                "as long); the gain is explained by longer training.",
               SAME_AS_BASELINE: "No candidate beat the primary alone on the selector's own evidence, so the final "
                                 "model is the baseline.",
               NOTHING_SELECTED: "None was selected."}
    return "Did the auxiliary tasks help? " + answers[answer]
