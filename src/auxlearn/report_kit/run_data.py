"""Load everything a run folder holds into one ``RunData`` (no plotting, no formatting).

Files read (all optional except ``results.json``):

- ``results.json`` (``auxlearn run``): stages, per-seed eval scores, gain, seconds, config, versions. The
  scored arms are ``stages.baseline`` (the primary alone), ``stages.final`` (with ``protocol``,
  ``protocol_rule``, ``budget`` and ``same_as: "baseline"`` when nothing was selected) and, when the final
  model trained for more steps in total than the baseline, ``stages.control`` (the primary alone for the
  final's total steps); each holds per-seed ``runs`` (``steps``, ``primary_steps``, ``seconds``,
  ``degenerate``). Older files lack these keys: every one of them is optional here;
- ``select/selection.json`` (``Selection.to_json``) and ``mix/mixture.json`` (``Mixture.to_json``);
- ``metrics.jsonl`` of every trained model: ``baseline/seed_*``, ``final/seed_*``, ``select/<name>`` (the
  selector's own runs) and ``mix/trial_*``.

A selector's or mixer's own files are read by its own report (auxlearn/report_kit/method.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional


from auxlearn.io import read_json_mapping
from auxlearn.run_files import check_run_results


@dataclass
class Curve:
    """The primary's dev main metric at each evaluation of one trained model."""

    label: str  # e.g. "baseline seed 0", "final seed 1", "alone", "trial_3-1-0"
    group: str  # "baseline", "final", "select", "mix" or another stage name
    steps: list[int]
    values: list[float]
    seconds: list[float]


@dataclass
class RunData:
    run_dir: Path
    results: dict[str, Any]
    selection: Optional[dict[str, Any]] = None
    mixture: Optional[dict[str, Any]] = None
    curves: list[Curve] = field(default_factory=list)
    higher_is_better: bool = True

    @property
    def primary(self) -> str:
        return self.results["primary"]

    @property
    def metric(self) -> str:
        return self.results.get("metric", "main")

    @property
    def selection_method(self) -> str:
        return (self.selection or {}).get("method") or self.results["stages"].get("select", {}).get("method", "?")

    @property
    def mixing_method(self) -> str:
        return (self.mixture or {}).get("method") or self.stage("mix").get("method", "?")

    @property
    def selected(self) -> list[str]:
        """The auxiliary tasks the run kept."""
        return self.results.get("selected") or []

    @property
    def selection_scores(self) -> dict[str, float]:
        """Each candidate's selection score (select/selection.json, else results.json's select stage)."""
        return (self.selection or {}).get("scores") or self.stage("select").get("scores") or {}

    @property
    def selection_details(self) -> dict[str, Any]:
        """The selector's method-specific evidence (``Selection.details``)."""
        return (self.selection or {}).get("details") or {}

    @property
    def seeds(self) -> list[str]:
        return [str(s) for s in self.results.get("seeds") or self.results["stages"]["baseline"]["eval"]]

    def stage(self, name: str) -> dict[str, Any]:
        """One stage of results.json (``{}`` when the run has none of that name)."""
        return self.results["stages"].get(name) or {}

    @property
    def same_as_baseline(self) -> bool:
        """Nothing was selected and the baseline itself is the final model (its eval scores are the baseline's)."""
        return self.stage("final").get("same_as") == "baseline"

    def scored_stages(self) -> list[str]:
        """Stages with per-seed eval scores: baseline, control, the others, final last."""
        names = [n for n, s in self.results["stages"].items()
                 if isinstance(s, dict) and isinstance(s.get("eval"), dict)]
        first = [n for n in ("baseline", "control") if n in names]
        return first + [n for n in names if n not in (*first, "final")] + [n for n in ("final",) if n in names]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a torn last line (a run killed mid-write) is skipped."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def dev_points(path: Path, primary: str) -> list[tuple[int, float, float]]:
    """(step, the primary's dev main metric, seconds) at each evaluation recorded in a metrics.jsonl."""
    points = []
    for record in read_jsonl(path):
        try:
            value = float(record["dev"][primary]["main"])
        except (KeyError, TypeError, ValueError):
            continue
        points.append((int(record["step"]), value, float(record.get("seconds", float("nan")))))
    return points


def _curve(path: Path, primary: str, label: str, group: str) -> Optional[Curve]:
    points = dev_points(path, primary)
    return Curve(label, group, *map(list, zip(*points))) if points else None


def _seed_key(path: Path) -> tuple[int, str]:
    suffix = path.parent.name.removeprefix("seed_")
    return (int(suffix), "") if suffix.lstrip("-").isdigit() else (0, suffix)


def load_curves(run_dir: Path, primary: str, stage_names: list[str]) -> list[Curve]:
    curves: list[Curve] = []
    for stage in stage_names:
        for path in sorted((run_dir / stage).glob("seed_*/metrics.jsonl"), key=_seed_key):
            seed = path.parent.name.removeprefix("seed_")
            curve = _curve(path, primary, f"{stage} seed {seed}", stage)
            if curve:
                curves.append(curve)
    for group in ("select", "mix"):
        for path in sorted((run_dir / group).glob("*/metrics.jsonl"), key=lambda p: p.parent.name):
            curve = _curve(path, primary, path.parent.name, group)
            if curve:
                curves.append(curve)
    return curves


def _higher_is_better(results: dict[str, Any]) -> bool:
    config = results.get("config") or {}
    try:
        from auxlearn.tasks import available_tasks

        spec = available_tasks(config.get("task_files") or []).get(results["primary"])
        return True if spec is None else bool(spec.higher_is_better)
    except Exception:  # a report must not fail because a user task file moved
        return True


def load_run(run_dir: str | os.PathLike) -> RunData:
    run_dir = Path(run_dir)
    results = check_run_results(run_dir / "results.json", "baseline final")
    selection_path, mixture_path = run_dir / "select" / "selection.json", run_dir / "mix" / "mixture.json"
    selection = read_json_mapping(selection_path) if selection_path.is_file() else None
    mixture = read_json_mapping(mixture_path) if mixture_path.is_file() else None
    data = RunData(run_dir, results, selection, mixture)
    data.curves = load_curves(run_dir, data.primary, data.scored_stages())
    data.higher_is_better = _higher_is_better(results)
    return data
