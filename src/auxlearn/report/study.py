"""A study: several `auxlearn run` folders side by side, e.g. one per primary task.

``auxlearn report STUDY_DIR`` on a folder without results.json but with run folders below it writes each
run's own report, then the study's: per run the baseline, control and final eval scores with the paired
t-intervals of the final model's gains and the run's verdict, and per selection method a task x task matrix
(rows: primaries, columns: candidates, cells: the score the selector gave the candidate, the selected ones
marked). The matrix shows at a glance which auxiliary tasks help which primaries, and whether that transfer
is symmetric.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from auxlearn.io import read_json
from auxlearn.report_kit import plots
from auxlearn.report_kit.blocks import Paragraph, Report, Section, Table, add_figure, fmt_gain
from auxlearn.report_kit.run_data import RunData
from auxlearn.report.method_reports import selection_report
from auxlearn.stats import CONFIDENCE
from auxlearn.report.verdict import (HEADLINE_ALT, fmt_level, fmt_p, headline_figure, interval_text, mean_text,
                                     outcome, run_gains)


def is_run(folder: Path) -> bool:
    """A folder of `auxlearn run`: its results.json has stages (a trained model's results.json has none)."""
    path = folder / "results.json"
    try:
        document = read_json(path) if path.is_file() else None
        return isinstance(document, dict) and "stages" in document
    except (OSError, ValueError):
        return False


def find_runs(folder: str | os.PathLike) -> list[Path]:
    """Run folders anywhere below ``folder`` (not inside another run), in path order; not ``folder`` itself."""
    runs = []
    for child in sorted(p for p in Path(folder).iterdir() if p.is_dir()):
        runs += [child] if is_run(child) else find_runs(child)
    return runs


def _row_label(data: RunData, study_dir: Path, duplicated: set[str]) -> str:
    """The primary's name, with the run folder when two runs of one method share a primary."""
    relative = data.run_dir.relative_to(study_dir)
    return f"{data.primary} ({relative})" if data.primary in duplicated else data.primary


def runs_table(runs: list[RunData], study_dir: Path) -> Table:
    rows = []
    for data in runs:
        stages = data.results["stages"]
        gains = run_gains(data)
        cells = [mean_text(stages[arm]["eval"]) if arm in stages else "–" for arm in ("baseline", "control", "final")]
        versus = [f"{fmt_gain(g.mean)} [{interval_text(g)}], p {fmt_p(g.p_value)}" if g else "–"
                  for g in (gains.get("baseline"), gains.get("control"))]
        rows.append([str(data.run_dir.relative_to(study_dir)), data.primary, data.selection_method,
                     ", ".join(data.results.get("selected") or []) or "none", *cells, *versus,
                     outcome(data, gains), str(min((g.n for g in gains.values()), default=0))])
    interval = f"{fmt_level(CONFIDENCE)} t-interval"
    return Table(["run", "primary", "selected by", "selected", "baseline eval", "control eval", "final eval",
                  f"final − baseline ({interval})", f"final − control ({interval})", "verdict", "seeds"], rows,
                 id="study-runs", caption="Each run's primary on its eval split: mean ± std over seeds; the gains "
                                          "are paired by seed (the control: the primary alone trained as long as "
                                          "the final model)")


def matrix_section(runs: list[RunData], study_dir: Path) -> Section:
    section = Section("Task × task: which auxiliary tasks each primary's selector favoured", "matrix")
    by_method: dict[str, list[RunData]] = defaultdict(list)
    for data in runs:
        if data.selection and data.selection.get("scores"):
            by_method[data.selection["method"]].append(data)
    if not by_method:
        section.blocks.append(Paragraph("No run of this study holds selection scores (select/selection.json)."))
        return section
    for method, group in sorted(by_method.items()):
        primaries = [d.primary for d in group]
        duplicated = {p for p in primaries if primaries.count(p) > 1}
        labels = [_row_label(d, study_dir, duplicated) for d in group]
        candidates = sorted({t for d in group for t in d.selection["scores"]})
        scores = [{t: float(v) for t, v in d.selection["scores"].items()} for d in group]
        selected = [set(d.selection.get("selected") or []) for d in group]
        report = selection_report(group[0])
        name = report.score_meaning
        table_rows = [[label, *(("–" if t not in row else f"{row[t]:+.3f}" + (" ✓" if t in chosen else ""))
                                for t in candidates)]
                      for label, row, chosen in zip(labels, scores, selected)]
        section.blocks.append(Table(["primary \\ candidate", *candidates], table_rows, id=f"matrix-{method}",
                                    caption=f"{method}: {name} of each candidate (✓ = selected)"))
        add_figure(section.blocks, f"matrix_{method}",
                   plots.task_matrix(labels, candidates, scores, selected, title=f"{method}: {name}",
                                     colour_label=name, neutral=report.neutral_score),
                   f"Task by task matrix of {method} scores",
                   "Rows: primary tasks; columns: candidate auxiliaries; boxed cells were selected.")
    return section


def build_study_report(study_dir: Path, runs: list[RunData]) -> Report:
    primaries = sorted({d.primary for d in runs})
    lead = Paragraph(f"{len(runs)} runs over {len(primaries)} primary task(s): {', '.join(primaries)}. "
                     "Each run has its own report.html in its folder.", "verdict", "Study.")
    top = Section("Runs: did the auxiliary tasks help each primary?", "study-headline",
                  [lead, runs_table(runs, study_dir)])
    for data in runs:  # each run's headline figure, as its own report draws it
        figure, caption = headline_figure(data, run_gains(data))
        relative = data.run_dir.relative_to(study_dir).as_posix()
        add_figure(top.blocks, "headline_" + relative.replace("/", "_"), figure, f"{relative}: {HEADLINE_ALT}",
                   f"{relative}: {caption}")
    seconds = [[str(d.run_dir.relative_to(study_dir)), plots.format_seconds((d.results.get("seconds") or {})
                                                                             .get("total", 0.0))] for d in runs]
    costs = Section("Costs", "costs", [Table(["run", "total time"], seconds, id="study-costs")])
    return Report(f"auxlearn study: {study_dir.name} ({', '.join(primaries)})", lead.text,
                  [top, matrix_section(runs, study_dir), costs], gains={})
