"""What the report says about one run: ``build_report(data)`` turns a loaded run into a ``Report``.

The headline (verdict.py), then how the final model came about: its protocol, the selection and the mixing, each
explained by its method (method_reports.py), the learning curves, the costs and the configuration.
"""

from __future__ import annotations

import yaml

from auxlearn.protocols import PROTOCOLS
from auxlearn.report_kit import plots
from auxlearn.report_kit.blocks import Block, Code, Paragraph, Report, Section, Table, add_figure, fmt_ratio
from auxlearn.report_kit.run_data import RunData
from auxlearn.report.method_reports import mixing_report, selection_report
from auxlearn.report.verdict import (ARMS, HEADLINE_ALT, arms_table, headline_figure, headline_table, lead, outcome,
                                     run_gains, verdict_text)

BUDGETS = {"equal_primary": "the final model saw as many primary batches as the baseline, its auxiliary batches on "
                            "top, so it trained for more steps in total",
           "equal_total": "the final model trained for the baseline's total steps, its auxiliary batches taking "
                          "part of the primary's"}


def _protocol_text(data: RunData) -> str:
    """How the final model used its auxiliary tasks (protocol, why, and the budget); "" for older runs."""
    final = data.stage("final")
    protocol, rule, budget = final.get("protocol"), final.get("protocol_rule"), final.get("budget")
    parts = []
    if protocol:
        summary = PROTOCOLS[protocol].summary if protocol in PROTOCOLS else ""
        parts.append(f"The final model trained by the {protocol} protocol ({summary or protocol})"
                     + (f"; {str(rule).rstrip('.')}." if rule else "."))
    if budget:
        parts.append(f"Budget {budget}: {BUDGETS.get(budget, budget)}.")
    return " ".join(parts)


def context_text(data: RunData) -> str:
    """How the final model came about: its protocol and budget, the selection, the mixing, the cost."""
    stages, results = data.results["stages"], data.results
    parts = [] if data.same_as_baseline else [_protocol_text(data)]
    parts.append(selection_report(data).explain(data))
    mix = stages.get("mix")
    if mix:
        parts.append(f"Mixing ({mix.get('method')}) chose the ratios {fmt_ratio(results.get('ratios') or {})}"
                     f"{mixing_report(data).outcome(data)}.")
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


def handover_text(data: RunData) -> str:
    """Which arm's models the run hands over, chosen on dev (``handover.py``); empty for runs made before."""
    best = data.results.get("best_model")
    if not best:
        return ""
    means = ", ".join(f"{arm} {mean:.3f}" for arm, mean in best["dev_means"].items())
    return (f"The models to keep are the {best['arm']} arm's ({best['models'][0]} and the other seeds'): the best "
            f"on dev, mean dev {data.metric} {means}. Eval, which the comparisons above report, chose nothing.")


def convergence_text(data: RunData) -> str:
    """Whether the primary alone had stopped improving on dev, attempt by attempt (``convergence.py``)."""
    record = data.results["stages"]["baseline"].get("convergence") or {}
    if not record.get("checked"):
        return ""
    attempts = "; ".join(f"after {a['steps']} steps its best dev evaluation was among the last "
                         f"{record['last_evaluations']} in {a['rising_seeds']} of {len(a['seeds'])} seeds"
                         for a in record["attempts"])
    if record["extended"]:
        return (f"Baseline: {data.primary} alone was still improving on dev after the recipe's "
                f"{record['recipe_steps']} steps, so it trained again with more ({attempts}); every arm of the run "
                f"then trained with {record['steps']} steps. Verdict: {record['verdict']}.")
    return f"Baseline: {record['verdict']} at {record['steps']} steps ({attempts})."


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
    report = selection_report(data)
    selected, scores = selection.get("selected") or [], selection.get("scores") or {}
    blocks.append(Paragraph(report.explain(data)))
    if scores:
        blocks.append(Table(["candidate", report.score_column, "selected"],
                            [[t, f"{v:.4f}", "yes" if t in selected else "no"]
                             for t, v in sorted(scores.items(), key=lambda kv: -kv[1])], id="selection-scores"))
    blocks += report.evidence(data)
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
    blocks += mixing_report(data).evidence(data)
    return section


def _costs_section(data: RunData) -> Section:
    """Seconds per stage, beside the plan's estimate of them when the run printed one (a stage the plan counted
    that did not run, as when the selection kept nothing, shows its estimate alone)."""
    seconds = dict(data.results.get("seconds") or {})
    if "total" in seconds:  # what no stage accounts for: data preparation, the report's own run folder set-up
        other = seconds["total"] - sum(v for k, v in seconds.items() if k != "total")
        if other > 0.05 * seconds["total"]:
            total = seconds.pop("total")
            seconds.update({"other (data preparation)": other, "total": total})
    total = seconds.get("total")
    plan = data.results.get("plan") or {}
    estimated = plan.get("estimated_seconds") or {}
    names = list(dict.fromkeys([*(k for k in estimated if k != "total"), *seconds]))  # the stages in order
    rows = [[k, f"{seconds[k]:.1f}" if k in seconds else "not run", _seconds(estimated.get(k)),
             f"{100 * seconds[k] / total:.0f} %" if total and k in seconds else "–"] for k in names]
    header = ["stage", "seconds", "estimated before training" if plan else "estimated", "share of total"]
    costs = Section("Costs", "costs", [Table(header, rows, id="costs-table")])
    if plan and estimated.get("total") and total:
        costs.blocks.append(Paragraph(
            f"Before training, the run planned {plots.format_seconds(estimated['total'])} of training from a timed "
            f"warm-up on this machine; it took {plots.format_seconds(total)} in all "
            f"({total / estimated['total']:.2f}× the estimate, data preparation included). The plan counts every "
            "step a training may take and the most tasks the selection may keep, so early stopping and a smaller "
            "selection make a run shorter than planned."))
    add_figure(costs.blocks, "costs", plots.costs(seconds), "Seconds per stage")
    return costs


def _seconds(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def build_report(data: RunData) -> Report:
    gains = run_gains(data)
    answer = outcome(data, gains)
    verdict = verdict_text(data, gains, answer)
    name = (data.results.get("config") or {}).get("name") or data.run_dir.name
    figure, caption = headline_figure(data, gains)
    blocks: list[Block] = [Paragraph(verdict, "verdict", lead(gains, answer))]
    add_figure(blocks, "headline", figure, HEADLINE_ALT, caption)  # on the first screen, above the numbers
    blocks.append(headline_table(data, gains))
    arms = arms_table(data)
    if arms is not None:
        blocks.append(arms)
    handover = handover_text(data)
    if handover:
        blocks.append(Paragraph(handover, "handover"))
    top = Section("Headline: did the auxiliary tasks help?", "headline-section",
                  [*blocks, Paragraph(context_text(data)), _glance_table(data)])

    curves = Section("Learning curves", "curves")
    add_figure(curves.blocks, "learning_curves", plots.learning_curves(data.curves, data.metric, data.primary),
                "Primary dev metric per evaluation step",
                "The primary's dev main metric at each evaluation; selection runs use a dev subsample when "
                "reward_dev_size is set.")
    if not data.curves:
        curves.blocks.append(Paragraph("No metrics.jsonl found."))
    convergence = convergence_text(data)
    if convergence:
        curves.blocks.append(Paragraph(convergence, "convergence"))

    costs = _costs_section(data)
    versions = data.results.get("versions") or {}
    setup = Section("Configuration and versions", "setup", [
        Table(["package", "version"], [[k, str(v)] for k, v in versions.items()], id="versions"),
        Code(yaml.safe_dump(data.results.get("config") or {}, sort_keys=False)),
    ])
    sections = [top, _selection_section(data), _mixing_section(data), curves, costs, setup]
    return Report(f"auxlearn report: {name} ({data.primary})", verdict, sections, gains)
