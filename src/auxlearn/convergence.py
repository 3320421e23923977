"""Whether the primary alone had stopped improving on dev, and its baseline trained again with more steps when it
had not (the config's ``baseline`` section: ``config_baseline.py`` says why).

A seed was still rising when its best dev evaluation is among its last ``baseline.last_evaluations`` (of fewer
evaluations, the last) and early stopping did not end it; the baseline was, when more than half of its seeds were.
Then the whole baseline trains again with twice the steps (at most ``baseline.max_steps``, by default 4x
``train.steps``), and the run goes on with that recipe. An earlier attempt's folder moves to
``baseline_attempts/steps_N`` with its verdict, so a re-run resumes at the attempt it was on, and ``baseline/`` is
always the baseline the run compares against.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from auxlearn.config_schema import Experiment
from auxlearn.io import read_json, write_json_atomic
from auxlearn.report_kit.run_data import dev_points

ATTEMPTS = "baseline_attempts"
CHECK_FILE = "attempt.json"


def dev_curve(folder: Path, primary: str) -> list[tuple[int, float]]:
    """(step, the primary's dev main metric) at each evaluation of one trained arm, from its metrics.jsonl."""
    path = folder / "metrics.jsonl"
    return [(step, value) for step, value, _ in dev_points(path, primary)] if path.is_file() else []


def still_rising(curve: list[tuple[int, float]], signed: Callable[[float], float], last: int, stopped: str) -> bool:
    """Whether the best evaluation (the first of equals, as the trainer keeps it) is among the ``last`` ones; of a
    curve that short, whether it is the last (a single evaluation says nothing)."""
    window = min(last, len(curve) - 1)
    if stopped == "patience" or window < 1:
        return False
    scores = [signed(score) for _, score in curve]
    return scores.index(max(scores)) >= len(scores) - window


def check(exp: Experiment, stage: dict[str, Any], folder: Path, signed: Callable[[float], float]) -> dict[str, Any]:
    """The verdict on one baseline attempt trained into ``folder``: per seed, and for the arm."""
    seeds = {}
    for seed, run in stage["runs"].items():
        curve = dev_curve(folder / f"seed_{seed}", exp.primary)
        seeds[seed] = {"rising": still_rising(curve, signed, exp.baseline.last_evaluations, run.get("stopped", "")),
                       "best_step": run["best_step"], "steps": run["steps"], "curve": curve}
    rising = sum(v["rising"] for v in seeds.values())
    return {"steps": exp.train.steps, "rising": 2 * rising > len(seeds), "rising_seeds": rising,
            "seeds": seeds, "mean": stage["mean"], "std": stage["std"], "seconds": stage["seconds"]}


def converged_baseline(exp: Experiment, run_dir: Path, train_baseline: Callable[[Experiment], dict[str, Any]],
                       signed: Callable[[float], float],
                       log: Callable[[str], None] = print) -> tuple[Experiment, dict[str, Any]]:
    """The experiment with the steps its primary alone needed, and that baseline's stage (``train_baseline`` trains
    it into ``run_dir/baseline``) with its ``convergence`` record."""
    settings = exp.baseline
    cap = settings.cap(exp.train.steps)
    attempts: list[dict[str, Any]] = []
    current = exp
    while True:
        done = run_dir / ATTEMPTS / f"steps_{current.train.steps}" / CHECK_FILE
        if settings.converge and done.is_file():  # an earlier run trained this attempt and found it still rising
            attempts.append(read_json(done))
            current = current.variant(steps=min(cap, 2 * current.train.steps))
            continue
        stage = train_baseline(current)
        if not settings.converge:
            return current, {**stage, "convergence": {"checked": False}}
        verdict = check(current, stage, run_dir / "baseline", signed)
        attempts.append(verdict)
        if not verdict["rising"] or current.train.steps >= cap:
            extra = sum(a["seconds"] for a in attempts[:-1])
            return current, {**stage, "seconds": stage["seconds"] + extra,
                             "convergence": _record(exp, current, cap, attempts)}
        steps = min(cap, 2 * current.train.steps)
        log(f"baseline: {exp.primary} alone was still improving on dev in {verdict['rising_seeds']} of "
            f"{len(verdict['seeds'])} seeds after {current.train.steps} steps (its best evaluation among the last "
            f"{settings.last_evaluations}); training it again for {steps} steps (baseline.max_steps: {cap})")
        write_json_atomic(run_dir / "baseline" / CHECK_FILE, verdict)
        done.parent.parent.mkdir(parents=True, exist_ok=True)
        os.replace(run_dir / "baseline", done.parent)
        current = current.variant(steps=steps)


def _record(exp: Experiment, current: Experiment, cap: int, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    rising = attempts[-1]["rising"]
    return {"checked": True, "recipe_steps": exp.train.steps, "steps": current.train.steps, "cap": cap,
            "last_evaluations": exp.baseline.last_evaluations,
            "verdict": "still rising at the cap" if rising else "converged",
            "extended": current.train.steps != exp.train.steps, "attempts": attempts}
