"""What the report says, independent of its format: sections of paragraphs, tables, figures and code.

``build_report(data)`` turns a loaded run into a ``Report``; html.py and markdown.py only render it. All
numbers are formatted here (``fmt``, ``fmt_gain``), so the tests can compare the page with results.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import yaml

from auxlearn.report import plots
from auxlearn.report.data import RunData
from auxlearn.report.stats import Gain, mean_std, paired_bootstrap, verdict_word

BOOTSTRAP_SEED = 0
BOOTSTRAP_RESAMPLES = 10_000
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
    gain: Optional[Gain]  # None for a study of several runs


def add_figure(blocks: list[Block], name: str, png: Optional[bytes], alt: str, caption: str = "") -> None:
    if png:
        blocks.append(Figure(name, png, alt, caption))


def run_gain(data: RunData) -> Gain:
    """The final model's gain over the baseline on the primary's eval score, per seed, with its interval."""
    stages = data.results["stages"]
    return paired_bootstrap(stages.get("baseline", {}).get("eval", {}), stages.get("final", {}).get("eval", {}),
                            n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)


def headline_table(data: RunData, gain: Gain) -> Table:
    stages, seeds = data.results["stages"], data.seeds
    rows, classes = [], []
    for name in data.scored_stages():
        stage = stages[name]
        tasks = stage.get("tasks") or [data.primary]
        auxiliary = [t for t in tasks if t != data.primary]
        mean, std = mean_std(stage["eval"].values())
        rows.append([name, ", ".join(auxiliary) or "none (primary alone)",
                     *[fmt(stage["eval"].get(s)) for s in seeds], f"{fmt(mean)} ± {fmt(std)}"])
        classes.append(f"stage-{name}")
    if "baseline" in stages and "final" in stages:
        interval = (f" (95 % CI {fmt_gain(gain.low)} to {fmt_gain(gain.high)})" if gain.low is not None
                    else " (one seed: no interval)")
        rows.append(["gain: final − baseline", "", *[fmt_gain(gain.per_seed.get(s)) for s in seeds],
                     f"{fmt_gain(gain.mean)} ± {fmt(gain.std)}{interval}"])
        classes.append("gain")
    return Table(["stage", "auxiliary tasks", *[f"seed {s}" for s in seeds], "mean ± std"], rows, id="headline",
                 caption=f"{data.primary}: {data.metric} on the eval split (never seen by selection or mixing)",
                 row_classes=classes)


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
        rule = (f"the top {details['top_k']}" if details.get("top_k") else
                f"utility ≥ {details.get('threshold')}" if details.get("threshold") is not None else "its rule")
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


def _verdict(data: RunData, gain: Gain) -> str:
    stages, results = data.results["stages"], data.results
    selected = results.get("selected") or []
    n = len(gain.per_seed)
    parts = []
    if "final" in stages and "baseline" in stages:
        word = verdict_word(gain, data.higher_is_better)
        b_mean, b_std = mean_std(stages["baseline"]["eval"].values())
        f_mean, f_std = mean_std(stages["final"]["eval"].values())
        interval = (f"95 % paired bootstrap interval {fmt_gain(gain.low)} to {fmt_gain(gain.high)} over {n} seeds"
                    if gain.low is not None else "a single seed, so no interval")
        if not selected:
            parts.append(f"No auxiliary task was selected, so the final model is the primary {data.primary} alone, "
                         f"retrained: {fmt(f_mean)} ± {fmt(f_std)} vs {fmt(b_mean)} ± {fmt(b_std)} "
                         f"({data.metric} on eval; gain {fmt_gain(gain.mean)}, {interval}).")
        else:
            parts.append(f"The auxiliary tasks {word}: on {data.primary} ({data.metric}, eval split), the final model "
                         f"scored {fmt(f_mean)} ± {fmt(f_std)} against {fmt(b_mean)} ± {fmt(b_std)} for the primary "
                         f"alone, a gain of {fmt_gain(gain.mean)} ({interval}).")
            if n < 5 and gain.low is not None:
                parts.append(f"With {n} seeds the interval is rough; more seeds (the config's seeds) tighten it.")
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
            search = sum(v for k, v in seconds.items() if k not in ("total", "baseline", "final"))
            overhead = f"; selection and mixing cost {search / baseline:.1f}× the baseline's training time"
        parts.append(f"The whole run took {plots.format_seconds(seconds.get('total', 0))} ({cost}{overhead}).")
    return " ".join(parts)


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
                    plots.bandit_utilities(history, tasks, data.primary, details.get("threshold")),
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


def build_report(data: RunData) -> Report:
    gain = run_gain(data)
    verdict = _verdict(data, gain)
    name = (data.results.get("config") or {}).get("name") or data.run_dir.name

    answers = {"helped": "Yes.", "hurt": "No, they hurt.",
               "seemed to help": f"Perhaps ({gain.n} seed{'s' if gain.n != 1 else ''}: too few for a firm answer).",
               "seemed to hurt": f"Perhaps not ({gain.n} seed{'s' if gain.n != 1 else ''}: too few for a firm answer).",
               "made no clear difference": "Not clearly: the gain is within seed-to-seed noise."}
    lead = "Did the auxiliary tasks help? " + (answers[verdict_word(gain, data.higher_is_better)]
                                               if data.results.get("selected") else "None was selected.")
    top = Section("Headline: did the auxiliary tasks help?", "headline-section",
                  [Paragraph(verdict, "verdict", lead), headline_table(data, gain), _glance_table(data)])

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
    return Report(f"auxlearn report: {name} ({data.primary})", verdict, sections, gain)


def report_numbers(report: Report) -> dict[str, Any]:
    """The headline table's cells (for tests and scripts)."""
    table = report.sections[0].blocks[1]
    assert isinstance(table, Table)
    return {"headers": table.headers, "rows": table.rows}
