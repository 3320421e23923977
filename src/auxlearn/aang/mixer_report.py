"""What the AANG mixers (``mixer.py``) show in the report: the weights learned per factor over training, the final
weight of every objective, the primary/auxiliary split, and what the meta steps cost over static weighting.

The weights live in each final seed's search phase (``final/seed_*/phase1_joint/results.json``, its
``weighting``), since the final fine-tuning phase trains the primary alone.
"""

from __future__ import annotations

from statistics import fmean, pstdev
from typing import Any, Optional

from auxlearn.io import read_json_mapping
from auxlearn.report_kit.blocks import Paragraph, Table, add_figure, fmt
from auxlearn.report_kit.method import MixingReport

FACTOR_TITLES = {"input": "input text I", "transform": "input transform T", "attention": "attention pattern R",
                 "output": "output O"}


def searched(run) -> list[dict[str, Any]]:
    """The ``weighting`` of each final seed's joint (search) phase, where the run folder holds it."""
    found = []
    for seed in run.seeds:
        folder = run.run_dir / "final" / f"seed_{seed}"
        for path in sorted(folder.glob("phase*_joint/results.json")) or [folder / "results.json"]:
            if path.is_file():
                weighting = read_json_mapping(path).get("weighting") or {}
                if "objective_weights" in weighting:
                    found.append(weighting)
    return found


class AangReport(MixingReport):
    def outcome(self, run):
        details = (run.mixture or {}).get("details") or {}
        objectives = details.get("objectives") or []
        return (f" as initial loss weights over the primary and {len(objectives)} generated objectives; the weights "
                "learned while the final model trained are below")

    def evidence(self, run):
        weightings = searched(run)
        if not weightings:
            return []
        blocks: list = []
        if any(w.get("history") for w in weightings):
            add_figure(blocks, "aang_weights", factor_plot(weightings),
                       "Learned weight of each factor value over training",
                       "Softmax of each factor's logits after every weight update, mean over the final seeds: one "
                       "line per factor value (a factor with one value is left out); the last panel is the "
                       "primary/auxiliary split.")
        blocks.append(objective_table(weightings))
        blocks.append(Paragraph(split_and_cost(weightings), lead="Primary/auxiliary split and cost. "))
        return blocks


def objective_table(weightings: list[dict[str, Any]]) -> Table:
    """Each objective's final weight (its probability under the factored model), mean ± sd over seeds."""
    names = list(weightings[0]["objective_weights"])
    rows = []
    for name in names:
        values = [w["objective_weights"][name] for w in weightings if name in w["objective_weights"]]
        rewards = [h["rewards"][name] for w in weightings for h in w.get("history") or [] if name in h["rewards"]]
        rows.append((fmean(values), [name, f"{fmean(values):.4f} ± {pstdev(values):.4f}",
                                     fmt(fmean(rewards)) if rewards else "–", str(len(rewards))]))
    rows.sort(key=lambda row: -row[0])
    return Table(["objective (input/transform/attention/output)", "final weight (mean ± sd over seeds)",
                  "mean cosine with the dev gradient", "measurements"], [r for _, r in rows], id="objectives")


def split_and_cost(weightings: list[dict[str, Any]]) -> str:
    primary = fmean(w["split"]["primary"] for w in weightings)
    text = (f"At the end of the search the primary's loss weighed {primary:.3f} and the objectives together "
            f"{1 - primary:.3f} (mean over {len(weightings)} seeds; both start at 0.5).")
    costs = [w["meta_cost"] for w in weightings if (w.get("meta_cost") or {}).get("extra_seconds") is not None]
    if costs:
        per_meta = fmean(c["seconds_per_meta_step"] for c in costs)
        per_plain = fmean(c["seconds_per_plain_step"] for c in costs)
        extra = fmean(c["extra_seconds"] for c in costs)
        text += (f" A meta step's backward and measuring took {per_meta:.3f} s against {per_plain:.3f} s for a "
                 f"plain step's backward, {per_meta / per_plain:.1f}×: {extra:.0f} s per seed over static weighting "
                 f"for {fmean(c['meta_steps'] for c in costs):.0f} meta steps.")
    else:
        text += " Static weighting: no meta steps, nothing paid for measuring."
    return text


def factor_plot(weightings: list[dict[str, Any]]) -> Optional[bytes]:
    from auxlearn.report_kit import plots  # when drawing: importing it sets matplotlib's backend

    histories = [w["history"] for w in weightings if w.get("history")]
    panels = [*(f for f in FACTOR_TITLES if len(_values(histories, f)) > 1), "split"]  # a lone value stays at 1
    fig, axes = plots.plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, panel in zip(axes, panels):
        values = _values(histories, panel)
        for index, value in enumerate(values):
            steps = sorted({record["step"] for h in histories for record in h})
            means = [fmean(_panel(r, panel)[value] for h in histories for r in h
                           if r["step"] == step and value in _panel(r, panel)) for step in steps]
            ax.plot(steps, means, color=plots.colour(index), label=value)
        ax.set_title(FACTOR_TITLES.get(panel, "primary / auxiliary"))
        ax.set_xlabel("step")
        ax.legend(frameon=False, fontsize="small")
    axes[0].set_ylabel("weight (softmax)")
    return plots.png(fig)


def _values(histories: list[list[dict[str, Any]]], panel: str) -> list[str]:
    return sorted({v for h in histories for record in h for v in _panel(record, panel)})


def _panel(record: dict[str, Any], panel: str) -> dict[str, float]:
    return record["split"] if panel == "split" else record["factor_weights"][panel]
