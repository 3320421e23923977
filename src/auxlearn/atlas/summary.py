"""``atlas.json``: every cell's per-seed runs, and per (primary, candidate) the gain over the primary alone and
over the control as long, each with its paired 95 % t-interval.

Scores are signed ("higher is better", ``score``) for the gains; ``eval`` keeps the metric as it is. The runs
list is what a worker imports back (see ``worker``): the file is both the summary and the atlas's resume point.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict
from typing import Any, Mapping, Optional

from auxlearn.atlas.config import Atlas, Cell
from auxlearn.atlas.plan import plan_cells
from auxlearn.atlas.table import FORMAT
from auxlearn.stats import paired_t

VERSION = 1


def summarise(atlas: Atlas, done: Mapping[str, Mapping[str, Any]], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The atlas document from the done cells (key -> result). ``meta``: encoder, versions, machine."""
    planned = plan_cells(atlas, done)
    missing = [c for c in planned if c.key not in done]
    rows: dict[str, Any] = {}
    for primary in atlas.config.primaries:
        alone_cells = [c for c in planned if c.primary == primary and c.kind == "alone"]
        alone = _scores(done, alone_cells)
        first = next((done[c.key] for c in planned if c.primary == primary and c.key in done), None)
        controls: dict[int, list[Cell]] = {}
        for cell in planned:
            if cell.primary == primary and cell.kind == "control":
                controls.setdefault(cell.steps, []).append(cell)
        row: dict[str, Any] = {
            "metric": first["metric"] if first else None,
            "higher_is_better": first["higher_is_better"] if first else None,
            "train_examples": first["train_examples"] if first else None,
            "baseline_steps": atlas.baseline_steps(primary),
            "alone": _arm(done, alone_cells),
            "controls": {str(steps): _arm(done, cells) for steps, cells in sorted(controls.items())},
            "pairs": {},
        }
        for candidate in atlas.candidates_of(primary):
            entry: dict[str, Any] = {}
            for protocol in (None, "joint", "sequential"):
                cells = [c for c in planned if c.primary == primary and c.kind == "pair"
                         and c.candidate == candidate and c.protocol == protocol]
                if not cells:
                    continue
                arm = _arm(done, cells)
                if arm["n"]:
                    pair = _scores(done, cells)
                    arm["gain"] = _gain(alone, pair)
                    steps = arm["planned_steps"]
                    control = _scores(done, controls.get(steps, []))
                    arm["control_gain"] = _gain(control, pair) if control else None
                if protocol is None:
                    entry.update(arm)
                else:
                    entry.setdefault("protocols", {})[protocol] = arm
            row["pairs"][candidate] = entry
        rows[primary] = row
    runs = [{"cell": Cell.from_key(k).__dict__, **v} for k, v in sorted(done.items())]
    by_machine: dict[str, float] = {}
    for run in runs:
        by_machine[run.get("cpu", "?")] = by_machine.get(run.get("cpu", "?"), 0.0) + run["seconds"]
    return {
        "format": FORMAT, "version": VERSION, "name": atlas.name, **dict(meta),
        "primaries": list(atlas.config.primaries), "candidates": list(atlas.config.candidates),
        "complete": not missing, "cells_done": len(planned) - len(missing), "cells_planned": len(planned),
        "seconds": {"total": sum(r["seconds"] for r in runs), "by_cpu": by_machine},
        "settings": {"seeds": atlas.config.seeds.model_dump(), "both_protocols": atlas.config.both_protocols,
                     "experiment": atlas.document,
                     "primaries": {p: s.model_dump() for p, s in atlas.config.primaries.items()}},
        "rows": rows, "runs": runs,
    }


def _scores(done: Mapping[str, Mapping[str, Any]], cells: list[Cell]) -> dict[str, float]:
    return {str(c.seed): done[c.key]["score"] for c in cells if c.key in done}


def _arm(done: Mapping[str, Mapping[str, Any]], cells: list[Cell]) -> dict[str, Any]:
    runs = [done[c.key] for c in cells if c.key in done]
    arm: dict[str, Any] = {"eval": {str(c.seed): done[c.key]["eval"] for c in cells if c.key in done},
                           "n": len(runs), "seeds_planned": len(cells)}
    if runs:
        scores = [r["eval"] for r in runs]
        arm.update(mean=statistics.mean(scores), std=statistics.stdev(scores) if len(scores) > 1 else 0.0,
                   planned_steps=runs[0]["planned_steps"], protocol=runs[0]["protocol"],
                   steps=statistics.mean(r["steps"] for r in runs),
                   primary_steps=statistics.mean(r["primary_steps"] for r in runs),
                   seconds=statistics.mean(r["seconds"] for r in runs),
                   degenerate=sum(bool(r.get("degenerate")) for r in runs))
    return arm


def _gain(reference: dict[str, float], candidate: dict[str, float]) -> Optional[dict[str, Any]]:
    """candidate − reference on their common seeds, signed: positive helps whatever the metric's direction."""
    if not any(s in reference for s in candidate):
        return None
    comparison = paired_t(reference, candidate)
    return {**{k: v for k, v in asdict(comparison).items() if k != "confidence"}, "n": comparison.n}
