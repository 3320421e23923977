"""What the exhaustive selector shows in the report: each pair's dev gain over the primary alone."""

from __future__ import annotations

from auxlearn.report_kit.blocks import add_figure
from auxlearn.report_kit.method import SelectionReport, listing


class ExhaustiveReport(SelectionReport):
    score_column = "mean dev gain of the pair"
    score_meaning = "mean dev gain of the pair"

    def explain(self, run):
        scores, selected = run.selection_scores, run.selected
        dropped = [t for t in scores if t not in selected]
        details = run.selection_details
        seeds = len(details.get("seeds", [])) or 1
        rule = ("the lower end of its 95 % interval over " + f"{seeds} paired seeds" if seeds > 1 else
                "its one seed's dev difference")
        return (f"Exhaustive pairs trained the primary with each candidate and kept those whose dev gain over the "
                f"primary alone ({rule}) was above {details.get('min_gain', 0):g}: "
                f"{listing(selected, scores, lambda v: f'{v:+.4f}') or 'none'}"
                + (f"; dropped {listing(dropped, scores, lambda v: f'{v:+.4f}')}" if dropped else "") + ".")

    def evidence(self, run):
        from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

        blocks = []
        scores = (run.selection or {}).get("scores")
        if scores:
            add_figure(blocks, "exhaustive_gains",
                       plots.score_bars(scores, run.selection.get("selected") or [],
                                        xlabel=f"dev {run.metric} gain over the primary alone",
                                        title="Exhaustive pairs: primary + one candidate vs primary alone"),
                       "Exhaustive pair gains")
        return blocks
