"""What the report says, independent of its format: sections of paragraphs, tables, figures and code.

``build_report(data)`` turns a loaded run into a ``Report``; html.py and markdown.py only render it. All
numbers are formatted here (``fmt``, ``fmt_gain``), so the tests can compare the page with results.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import yaml

from auxlearn.report import plots
from auxlearn.report.data import RunData
from auxlearn.report.stats import CONFIDENCE, Comparison, mean_std, paired_t, verdict_word
from auxlearn.select.rules import PRIMARY

ARMS = ("baseline", "control", "final")  # the stages trained and scored on eval seed by seed
# verdict_word's words that outcome() treats apart (the positive ones weakest first), then outcome()'s own
POSITIVE = ("seemed to help", "helped")
TENTATIVE = ("seemed to help", "seemed to hurt")
NO_DIFFERENCE = "made no clear difference"
LONGER_TRAINING = "longer training explains the gain"
SAME_AS_BASELINE = "nothing selected: the final model is the baseline"
NOTHING_SELECTED = "nothing selected"
PROTOCOLS = {"joint": "multi-task training, primary and auxiliary batches mixed throughout",
             "sequential": "the auxiliary tasks first, then the primary alone: intermediate-task training",
             "joint_then_finetune": "joint training, then the primary alone from the best joint checkpoint"}
BUDGETS = {"equal_primary": "the final model saw as many primary batches as the baseline, its auxiliary batches on "
                            "top, so it trained for more steps in total",
           "equal_total": "the final model trained for the baseline's total steps, its auxiliary batches taking "
                          "part of the primary's"}
TOP_CANDIDATES = 3  # GradTS heatmaps: the primary and this many best-tau candidates


def fmt(value: Optional[float]) -> str:
    """A score as the report shows it (4 decimals)."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"


def fmt_gain(value: Optional[float]) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:+.4f}"


def fmt_ratio(ratios: dict[str, float]) -> str:
    return " : ".join(f"{t} {r:g}" for t, r in ratios.items())


@dataclass
class Paragraph:
    text: str
    css: str = ""
    lead: str = ""  # shown in bold before the text


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    id: str = ""
    caption: str = ""
    row_classes: list[str] = field(default_factory=list)


@dataclass
class Figure:
    name: str  # file stem for report.md's images
    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Code:
    text: str


Block = Union[Paragraph, Table, Figure, Code]


@dataclass
class Section:
    title: str
    id: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    verdict: str
    sections: list[Section]
    gains: dict[str, Comparison]  # final − each reference arm ("baseline", "control"); empty for a study


def add_figure(blocks: list[Block], name: str, png: Optional[bytes], alt: str, caption: str = "") -> None:
    if png:
        blocks.append(Figure(name, png, alt, caption))


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


def _why(data: RunData) -> str:
    selection = data.selection or {}
    method = data.selection_method
    selected = data.results.get("selected") or []
    scores = selection.get("scores") or data.results["stages"].get("select", {}).get("scores") or {}
    details = selection.get("details") or {}
    dropped = [t for t in scores if t not in selected]

    plays = details.get("plays") or {}

    def listing(tasks: list[str], fmt_score) -> str:
        return ", ".join(f"{t} ({fmt_score(scores[t])}{', never played' if plays.get(t) == 0 else ''})"
                         if t in scores else t for t in tasks)

    if method == "autosem":
        threshold = details.get("threshold")
        rule = (f"the top {details['top_k']}" if details.get("top_k") else
                "a utility above the primary arm's own" if threshold == PRIMARY else
                f"utility ≥ {threshold}" if threshold is not None else "its rule")
        text = (f"AutoSeM's Thompson-sampling bandit played {details.get('rounds', '?')} rounds of "
                f"{details.get('round_steps', '?')} steps and kept the candidates whose utility (how often training "
                f"them did not lower the primary's dev score, 0–1) passed {rule}: "
                f"{listing(selected, lambda v: f'utility {v:.2f}') or 'none'}")
        if "primary_utility" in details:
            text += f"; the primary itself scored {details['primary_utility']:.2f}"
        if dropped:
            text += f". Dropped: {listing(dropped, lambda v: f'{v:.2f}')}"
        return text + "."
    if method == "exhaustive":
        return (f"Exhaustive pairs trained the primary with each candidate and kept those that raised its dev score "
                f"over the primary alone: {listing(selected, lambda v: f'{v:+.4f}') or 'none'}"
                + (f"; dropped {listing(dropped, lambda v: f'{v:+.4f}')}" if dropped else "") + ".")
    if str(method).startswith("gradts") or data.taus:
        taus = data.taus or scores
        return (f"GradTS ranked the candidates by the Kendall τ between their attention-head importance and the "
                f"primary's, and kept {', '.join(f'{t} (τ {taus[t]:+.2f})' if t in taus else t for t in selected) or 'none'}.")
    if method == "all":
        return f"The 'all' selector kept every candidate: {', '.join(selected) or 'none'}."
    if method in ("none", "config"):
        return "No selection was run: " + (f"the config's auxiliary tasks were used ({', '.join(selected)})."
                                           if selected else "the final model is the primary alone.")
    return f"Selection method '{method}' kept {', '.join(selected) or 'no task'}."


def _protocol_text(data: RunData) -> str:
    """How the final model used its auxiliary tasks (protocol, why, and the budget); "" for older runs."""
    final = data.stage("final")
    protocol, rule, budget = final.get("protocol"), final.get("protocol_rule"), final.get("budget")
    parts = []
    if protocol:
        parts.append(f"The final model trained by the {protocol} protocol ({PROTOCOLS.get(protocol, protocol)})"
                     + (f"; {str(rule).rstrip('.')}." if rule else "."))
    if budget:
        parts.append(f"Budget {budget}: {BUDGETS.get(budget, budget)}.")
    return " ".join(parts)


def _numeric(threshold: Any) -> Optional[float]:
    """A numeric AutoSeM threshold to draw; "primary" is the primary's own utility curve, drawn anyway."""
    return float(threshold) if isinstance(threshold, (int, float)) else None


def _verdict(data: RunData, gains: dict[str, Comparison], answer: str) -> str:
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


def _context(data: RunData) -> str:
    """How the final model came about: its protocol and budget, the selection, the mixing, the cost."""
    stages, results = data.results["stages"], data.results
    parts = [] if data.same_as_baseline else [_protocol_text(data)]
    parts.append(_why(data))
    mix = stages.get("mix")
    if mix:
        trials = (data.mixture or {}).get("details", {}).get("trials") or []
        scored = [t for t in trials if t.get("score") is not None]
        best = (data.mixture or {}).get("details", {}).get("best_dev")
        extra = f" after {len(scored)} trained trials (best dev {fmt(best)})" if scored else ""
        parts.append(f"Mixing ({mix.get('method')}) chose the ratios {fmt_ratio(results.get('ratios') or {})}{extra}.")
    seconds = results.get("seconds") or {}
    if seconds:
        cost = ", ".join(f"{k} {plots.format_seconds(v)}" for k, v in seconds.items() if k != "total")
        reused = stages.get("baseline", {}).get("reused_from")
        baseline = stages["baseline"].get("reused_seconds") if reused else seconds.get("baseline")
        if reused:
            parts.append(f"The baseline was reused from {reused}, where it trained in "
                         f"{plots.format_seconds(baseline or 0)}.")
        overhead = ""
        if baseline:
            search = sum(v for k, v in seconds.items() if k not in ("total", *ARMS))
            overhead = f"; selection and mixing cost {search / baseline:.1f}× the baseline's training time"
        parts.append(f"The whole run took {plots.format_seconds(seconds.get('total', 0))} ({cost}{overhead}).")
    return " ".join(p for p in parts if p)


def _glance_table(data: RunData) -> Table:
    results, stages = data.results, data.results["stages"]
    select = stages.get("select", {})
    mix = stages.get("mix", {})
    seconds = results.get("seconds") or {}
    rows = [
        ["chosen auxiliary tasks", ", ".join(results.get("selected") or []) or "none"],
        ["chosen by", str(select.get("method", "?"))],
        ["mixing ratios", fmt_ratio(results.get("ratios") or {}) + (f" ({mix['method']})" if mix else "")],
        ["total cost", plots.format_seconds(seconds["total"]) if "total" in seconds else "?"],
    ]
    final = data.stage("final")
    if final.get("protocol") and not data.same_as_baseline:
        rows.insert(3, ["training protocol", f"{final['protocol']} (budget {final.get('budget', '?')})"])
    return Table(["question", "answer"], rows, id="glance")


def _selection_section(data: RunData) -> Section:
    section = Section("Selection evidence: which tasks, and why", "selection")
    selection = data.selection
    blocks = section.blocks
    if not selection:
        blocks.append(Paragraph("No select/selection.json in this run folder."))
        return section
    selected, details, scores = selection.get("selected") or [], selection.get("details") or {}, selection.get("scores") or {}
    blocks.append(Paragraph(_why(data)))
    if scores:
        method = selection.get("method")
        label = {"autosem": "utility", "exhaustive": "dev gain of the pair"}.get(method, "score")
        blocks.append(Table(["candidate", label, "selected"],
                            [[t, f"{v:.4f}", "yes" if t in selected else "no"]
                             for t, v in sorted(scores.items(), key=lambda kv: -kv[1])], id="selection-scores"))
    history = details.get("history") or []
    if history:
        tasks = list((details.get("plays") or {}) or history[-1].get("alpha", {}))
        add_figure(blocks, "bandit_utilities",
                    plots.bandit_utilities(history, tasks, data.primary, _numeric(details.get("threshold"))),
                    "Bandit utility of each task after every round",
                    "Utility = posterior mean α / (α + β) of each arm; every round decays all arms toward the prior "
                    "and rewards the played arm if the primary's dev score did not drop.")
    if details.get("plays"):
        add_figure(blocks, "bandit_plays", plots.plays_bars(details["plays"], selected, data.primary),
                    "Rounds played per task")
    if data.taus:
        add_figure(blocks, "gradts_taus",
                    plots.score_bars(data.taus, selected, xlabel="Kendall τ with the primary's head importance (−1 to 1)",
                                     title="GradTS: head-importance correlation per candidate"),
                    "GradTS Kendall tau per candidate")
    gradts_trials = details.get("trials") if str(selection.get("method", "")).startswith("gradts") else None
    if gradts_trials:
        blocks.append(Table(["trial", "tasks trained with the primary", f"best dev {data.metric}"],
                            [[str(t.get("k", i + 1)), ", ".join(x for x in t.get("tasks", []) if x != data.primary),
                              fmt(t.get("score"))] for i, t in enumerate(gradts_trials)], id="gradts-trials",
                            caption="GradTS-trial: candidates added in τ order until the dev score drops"))
    if data.importance:
        ranked = sorted((t for t in data.importance if t != data.primary), key=lambda t: -data.taus.get(t, -2))
        order = [data.primary, *ranked[:TOP_CANDIDATES]]
        add_figure(blocks, "gradts_importance", plots.importance_heatmaps(data.importance, order, data.taus),
                    "GradTS head-importance heatmaps", "Primary first, then the candidates with the highest τ.")
    if selection.get("method") == "exhaustive" and scores:
        add_figure(blocks, "exhaustive_gains",
                    plots.score_bars(scores, selected, xlabel=f"dev {data.metric} gain over the primary alone",
                                     title="Exhaustive pairs: primary + one candidate vs primary alone"),
                    "Exhaustive pair gains")
    if selection.get("instances"):
        kept = {t: len(ids) for t, ids in selection["instances"].items()}
        blocks.append(Paragraph("Instance selection kept " + ", ".join(f"{n} examples of {t}" for t, n in kept.items())
                                + " for mixing and the final model."))
    return section


def _mixing_section(data: RunData) -> Section:
    section = Section("Mixing: with what ratios", "mixing")
    blocks = section.blocks
    ratios = data.results.get("ratios") or {}
    mixture = data.mixture
    if not mixture:
        blocks.append(Paragraph("No mixing stage ran (nothing was selected): the final model trains the primary alone."
                                if not data.results.get("selected") else "No mix/mixture.json in this run folder."))
        return section
    blocks.append(Paragraph(f"Method {mixture.get('method')}; final sampler {mixture.get('sampler', {}).get('name')}; "
                            f"ratios {fmt_ratio(ratios)}."))
    add_figure(blocks, "ratios", plots.ratio_bars(ratios, data.primary), "Chosen mixing ratios")
    trials = (mixture.get("details") or {}).get("trials") or []
    if trials:
        tasks = list(ratios) or list(trials[0].get("ratios", {}))
        rows = [[str(t["number"]), fmt_ratio({k: t["ratios"].get(k, 0) for k in tasks if k in t.get("ratios", {})}),
                 fmt(t.get("score")), str(t.get("state")),
                 plots.format_seconds(t["seconds"]) if t.get("seconds") is not None else "–"] for t in trials]
        blocks.append(Table(["trial", "ratios", f"dev {data.metric}", "state", "time"], rows, id="trials"))
        metric = data.metric if data.higher_is_better else f"{data.metric}, negated"
        add_figure(blocks, "bo_trials", plots.bo_trials(trials, metric, str(mixture.get("method"))),
                    "Score per mixing trial and best so far")
    return section


def _lead(gains: dict[str, Comparison], answer: str) -> str:
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


def build_report(data: RunData) -> Report:
    gains = run_gains(data)
    answer = outcome(data, gains)
    verdict = _verdict(data, gains, answer)
    name = (data.results.get("config") or {}).get("name") or data.run_dir.name
    blocks: list[Block] = [Paragraph(verdict, "verdict", _lead(gains, answer)), headline_table(data, gains)]
    arms = arms_table(data)
    if arms is not None:
        blocks.append(arms)
    top = Section("Headline: did the auxiliary tasks help?", "headline-section",
                  [*blocks, Paragraph(_context(data)), _glance_table(data)])

    curves = Section("Learning curves", "curves")
    add_figure(curves.blocks, "learning_curves", plots.learning_curves(data.curves, data.metric, data.primary),
                "Primary dev metric per evaluation step",
                "The primary's dev main metric at each evaluation; selection runs use a dev subsample when "
                "reward_dev_size is set.")
    if not data.curves:
        curves.blocks.append(Paragraph("No metrics.jsonl found."))

    seconds = dict(data.results.get("seconds") or {})
    if "total" in seconds:  # what no stage accounts for: data preparation, the report's own run folder set-up
        other = seconds["total"] - sum(v for k, v in seconds.items() if k != "total")
        if other > 0.05 * seconds["total"]:
            total = seconds.pop("total")
            seconds.update({"other (data preparation)": other, "total": total})
    costs = Section("Costs", "costs", [Table(["stage", "seconds", "share of total"],
                                             [[k, f"{v:.1f}", f"{100 * v / seconds['total']:.0f} %" if seconds.get("total") else "–"]
                                              for k, v in seconds.items()], id="costs-table")])
    add_figure(costs.blocks, "costs", plots.costs(seconds), "Seconds per stage")

    versions = data.results.get("versions") or {}
    setup = Section("Configuration and versions", "setup", [
        Table(["package", "version"], [[k, str(v)] for k, v in versions.items()], id="versions"),
        Code(yaml.safe_dump(data.results.get("config") or {}, sort_keys=False)),
    ])
    sections = [top, _selection_section(data), _mixing_section(data), curves, costs, setup]
    return Report(f"auxlearn report: {name} ({data.primary})", verdict, sections, gains)


def report_numbers(report: Report) -> dict[str, Any]:
    """The headline table's cells (for tests and scripts)."""
    table = report.sections[0].blocks[1]
    assert isinstance(table, Table)
    return {"headers": table.headers, "rows": table.rows}
