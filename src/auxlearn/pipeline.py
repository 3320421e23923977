"""`auxlearn run`: baseline (the primary alone) -> select -> mix -> final (+ control), per seed, and the results.

Every stage writes its own folder and JSON; the run folder's ``results.json`` holds the primary's
``eval`` score for each stage and seed, and each stage's seconds. Selection and mixing only ever see
``dev``; ``eval`` is scored for the baseline, control and final models alone. An empty selection makes the
baseline the final model. When the final trains for more steps than the baseline (its budget or protocol), the
control arm trains the primary alone for as many steps, and ``control_gain`` compares the final with it.
"""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import yaml

from auxlearn.config import Experiment
from auxlearn.convergence import converged_baseline
from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.experiment import Prepared, prepare, train_experiment, versions
from auxlearn.handover import best_on_dev
from auxlearn.identity import config_identity
from auxlearn.io import read_json, read_json_mapping, write_json_atomic, write_text_atomic
from auxlearn.mix import Mixer, Mixture, build_mixer
from auxlearn.run_files import check_baseline_source, check_value
from auxlearn.run_plan import RunPlan, format_plan, needs_control, priced_plan
from auxlearn.stats import mean_std
from auxlearn.select import Selection, build_selector
from auxlearn.stage import Stage
from auxlearn.train.tracking import tracking_root
from auxlearn.train_length import resolved_length


def _stage(exp: Experiment, prepared: Prepared, run_dir: Path, name: str) -> Stage:
    return Stage(exp, prepared, run_dir / name)


def run_select(exp: Experiment, run_dir: Path, prepared: Optional[Prepared] = None) -> Selection:
    selector = build_selector(exp.select.method, exp.select.options)  # a config error before any data work
    prepared = prepared or prepare(exp)
    with tracking_root(run_dir):  # its trials are runs named select/<trial>
        selection = selector.select(_stage(exp, prepared, run_dir, "select"))
    write_json_atomic(run_dir / "select" / "selection.json", selection.to_json())
    return selection


def load_selection(exp: Experiment, run_dir: Path) -> Selection:
    """The selection of a previous `select` in this run folder, else all of the config's auxiliary tasks."""
    path = run_dir / "select" / "selection.json"
    return Selection(**read_json(path)) if path.is_file() else Selection("config", list(exp.auxiliary))


def check_selection_file(run_dir: Path) -> None:
    """``select/selection.json``, when there is one, as ``run_select`` writes it (`auxlearn mix` reads it back)."""
    path = run_dir / "select" / "selection.json"
    if not path.is_file():
        return
    selection = read_json_mapping(path)
    known = {f.name for f in fields(Selection)}
    foreign = [key for key in selection if key not in known]
    if foreign:
        raise DamagedFileError(f"{path}: unknown key(s) {', '.join(map(repr, foreign))} (a selection has "
                               f"{', '.join(sorted(known))})")
    check_value(path, "method", selection.get("method"), str, "the selector's name")
    check_value(path, "selected", selection["selected"], list, "a list of task names")
    for key in ("scores", "details", "instances", "options"):
        check_value(path, key, selection.get(key, {}), dict, "a mapping")


def keep_instances(prepared: Prepared, instances: dict[str, list[int]]) -> None:
    """Restrict auxiliary train splits to the example ids an instance-level selector kept."""
    for task, ids in instances.items():
        train = prepared.data[task].train
        wanted = set(ids)
        prepared.data[task].train = train.select([i for i, e in enumerate(train.example_ids) if e in wanted])


def run_mix(exp: Experiment, run_dir: Path, selection: Optional[Selection] = None,
            prepared: Optional[Prepared] = None) -> Mixture:
    selection = load_selection(exp, run_dir) if selection is None else selection
    selected = selection.selected
    unknown = [t for t in selected if t not in exp.auxiliary]
    if unknown:
        raise AuxlearnError(f"selection names {unknown}, which are not among the config's auxiliary tasks")
    mixer = build_mixer(exp.mix.method, exp.mix.options)  # a config error before any data work
    mixer.check(exp)
    if prepared is None:
        prepared = prepare(exp, [exp.primary, *selected])
        keep_instances(prepared, selection.instances)
    with tracking_root(run_dir):
        mixture = mixer.mix(_stage(exp, prepared, run_dir, "mix"), [exp.primary, *selected])
    write_json_atomic(run_dir / "mix" / "mixture.json", mixture.to_json())
    return mixture


def _mean_std(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over seeds (0 for one seed), as results.json stores them."""
    return dict(zip(("mean", "std"), mean_std(values)))


def _per_seed(exp: Experiment, prepared: Prepared, folder: Path, auxiliary: list[str],
              sampler: dict[str, Any], **train: Any) -> dict[str, Any]:
    """One arm trained once per seed: its eval and dev scores, and per seed its steps and seconds."""
    started = time.perf_counter()
    scores, dev, results_by_seed = {}, {}, {}
    for seed in exp.run_seeds:
        variant = exp.variant(auxiliary=auxiliary, sampler=sampler, seed=seed, **train)
        results = train_experiment(variant, folder / f"seed_{seed}", prepared)
        scores[str(seed)] = results["eval"][exp.primary]["main"]
        dev[str(seed)] = results["dev_best"][exp.primary]["main"]
        results_by_seed[str(seed)] = {
            "best_step": results["best_step"], "steps": results["steps"], "primary_steps": results["primary_steps"],
            "planned_steps": results["planned_steps"], "seconds": results["seconds"],
            "stopped": results.get("stopped", ""), "eval": results["eval"][exp.primary],
            **_degenerate(results, exp.primary),
            "phases": [{k: p[k] for k in ("label", "tasks", "steps", "best_step", "seconds")}
                       for p in results["phases"]]}
    last = results  # every seed plans the same arm
    return {"tasks": [exp.primary, *auxiliary], "sampler": sampler, "eval": scores, "dev": dev,
            **_mean_std(list(scores.values())), "protocol": last["protocol"], "protocol_rule": last["protocol_rule"],
            "budget": last["budget"]["budget"], "planned_steps": last["planned_steps"], "runs": results_by_seed,
            "seconds": time.perf_counter() - started}


def _degenerate(results: dict[str, Any], task: str) -> dict[str, bool]:
    """Whether the model predicted one class for every eval example (classification tasks only)."""
    return {"degenerate": results["degenerate"][task]} if task in results.get("degenerate", {}) else {}


def _gain(better: dict[str, float], worse: dict[str, float]) -> dict[str, Any]:
    gains = {s: better[s] - worse[s] for s in worse if s in better}
    return {"per_seed": gains, **_mean_std(list(gains.values()))}


def _control(exp: Experiment, prepared: Prepared, run_dir: Path, steps: int) -> dict[str, Any]:
    """The primary alone for the final's total steps, with the baseline's evaluations and early stopping: a gain
    that longer training alone brings is then never credited to the auxiliary tasks."""
    return _per_seed(exp, prepared, run_dir / "control", [], {"name": "uniform"}, steps=steps)


def baseline_identity(exp: Experiment) -> dict[str, Any]:
    """Everything the baseline (the primary alone, per seed) depends on; equal identities train equal models."""
    doc = config_identity(exp, exclude=("auxiliary", "select", "mix", "transfer", "preset", "seed", "seeds",
                                        "train.sampler", "train.eval_tasks"))
    if isinstance(doc["data"]["max_train_examples"], dict):  # other tasks' caps do not touch the primary
        doc["data"]["max_train_examples"] = doc["data"]["max_train_examples"].get(exp.primary)
    return {**doc, "seeds": exp.run_seeds}


def reusable_baseline(exp: Experiment, source: Path) -> dict[str, Any]:
    """The baseline stage of the run folder ``source``, checked to have trained as this experiment's would."""
    stage = check_baseline_source(source)
    theirs, mine = stage.get("identity") or {}, baseline_identity(with_baseline_steps(exp, stage))
    differing = sorted(k for k in {**theirs, **mine} if theirs.get(k) != mine.get(k))
    if differing:
        details = "; ".join(f"{k}: {theirs.get(k)!r} there, {mine.get(k)!r} here" for k in differing)
        raise AuxlearnError(f"--baseline-from {source}: its baseline was trained differently ({details})")
    return stage


def with_baseline_steps(exp: Experiment, stage: dict[str, Any]) -> Experiment:
    """``exp`` with the steps a reused baseline converged at, when that run extended the recipe as this one would."""
    steps = (stage.get("convergence") or {}).get("steps")
    return exp.variant(steps=steps) if exp.baseline.converge and steps and steps != exp.train.steps else exp


def reuse_baseline(exp: Experiment, source: Path, run_dir: Path) -> dict[str, Any]:
    """The baseline stage of an earlier run with the same identity, its curves copied into this run folder.

    Comparing selectors on one primary then trains the baseline once instead of once per selector.
    """
    stage = reusable_baseline(exp, source)
    for seed in exp.run_seeds:
        for name in ("metrics.jsonl", "results.json"):
            file = source / "baseline" / f"seed_{seed}" / name
            if file.is_file():
                write_text_atomic(run_dir / "baseline" / f"seed_{seed}" / name, file.read_text(encoding="utf-8"))
    return {**stage, "seconds": 0.0, "reused_from": str(source.resolve()), "reused_seconds": stage["seconds"]}


def run_pipeline(exp: Experiment, run_dir: str | Path, baseline_from: Optional[str | Path] = None,
                 plan: bool = True) -> dict[str, Any]:
    """The whole pipeline; ``baseline_from``: reuse the baseline of that run folder (same identity required); ``plan``:
    print the plan first (``run_plan.py``: the trainings, their steps, the estimated time) and keep it in results.json.
    Every arm it trains is a tracked run named by its folder (``baseline/seed_0``) when ``train.log_with`` names
    trackers."""
    with tracking_root(Path(run_dir)):
        return _pipeline(exp, Path(run_dir), baseline_from, plan)


def _checked(exp: Experiment) -> tuple[Experiment, Prepared, Mixer]:
    """What `run` checks before it trains: unknown methods or options fail now, not after the baseline and the
    selection have trained; then the data, and the recipe's length from it (``train_length.py``)."""
    build_selector(exp.select.method, exp.select.options)
    mixer = build_mixer(exp.mix.method, exp.mix.options)
    mixer.check(exp)
    check_candidates(exp, "run", generated=mixer.generates)
    prepared = prepare(exp)
    return resolved_length(exp, prepared), prepared, mixer


def plan_pipeline(exp: Experiment, baseline_from: Optional[str | Path] = None) -> RunPlan:
    """`auxlearn run --dry-run`: the checks a run makes before it trains, then its plan, priced; nothing written."""
    exp, prepared, _ = _checked(exp)
    if baseline_from is not None:
        reusable_baseline(exp, Path(baseline_from))
    return priced_plan(exp, prepared, baseline_from)


def _pipeline(exp: Experiment, run_dir: Path, baseline_from: Optional[str | Path], plan: bool) -> dict[str, Any]:
    started = time.perf_counter()
    exp, prepared, mixer = _checked(exp)  # the data (and a reused baseline) checked before the folder is written
    stages: dict[str, Any] = {}
    if baseline_from is not None:
        stages["baseline"] = reuse_baseline(exp, Path(baseline_from), run_dir)
        exp = with_baseline_steps(exp, stages["baseline"])
    planned = priced_plan(exp, prepared, baseline_from) if plan else None
    if planned is not None:
        print(format_plan(planned), flush=True)
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False))
    signed = prepared.data[exp.primary].spec.signed
    if baseline_from is None:  # trained again with more steps while the primary alone still improves on dev
        exp, stages["baseline"] = converged_baseline(exp, run_dir, lambda e: {
            **_per_seed(e, prepared, run_dir / "baseline", [], {"name": "uniform"}), "identity": baseline_identity(e)},
            signed)
    selection = run_select(exp, run_dir, prepared)
    stages["select"] = {"method": selection.method, "selected": selection.selected, "scores": selection.scores,
                        "seconds": selection.seconds}
    keep_instances(prepared, selection.instances)
    if selection.selected or mixer.generates:
        mixture = run_mix(exp, run_dir, selection, prepared)
        stages["mix"] = {"method": mixture.method, "ratios": mixture.ratios, "sampler": mixture.sampler,
                         "train": mixture.train, "seconds": mixture.seconds}
        final_tasks = [t for t in mixture.tasks if t != exp.primary]
        stages["final"] = _per_seed(exp, prepared, run_dir / "final", final_tasks, mixture.sampler, **mixture.train)
        if needs_control(exp, stages["final"]["planned_steps"]):
            stages["control"] = _control(exp, prepared, run_dir, stages["final"]["planned_steps"])
    else:  # "none" is an answer: the primary alone is the final model, and it is already trained
        stages["final"] = {**stages["baseline"], "same_as": "baseline", "seconds": 0.0}
        stages["final"].pop("identity", None), stages["final"].pop("convergence", None)
    baseline, final = stages["baseline"], stages["final"]
    results = {
        "primary": exp.primary,
        "metric": "+".join(prepared.data[exp.primary].spec.main_metric),
        "seeds": exp.run_seeds,
        "stages": stages,
        "selected": selection.selected,
        "ratios": stages.get("mix", {}).get("ratios", {exp.primary: 1.0}),
        "gain": _gain(final["eval"], baseline["eval"]),
        **({"control_gain": _gain(final["eval"], stages["control"]["eval"])} if "control" in stages else {}),
        "best_model": best_on_dev(stages, signed),
        "seconds": {**{name: stage["seconds"] for name, stage in stages.items()},
                    "total": time.perf_counter() - started},
        **({"plan": planned.to_json()} if planned is not None else {}),
        "config": exp.model_dump(mode="json"),
        "versions": versions(),
    }
    write_json_atomic(run_dir / "results.json", results)
    return results


def check_candidates(exp: Experiment, command: str, generated: bool = False) -> None:
    """A stage that chooses among the auxiliary tasks, given none, stops before any training in one line: `select`
    has nothing to select from, and `run` would only train the baseline (unless its mixer ``generated`` objectives
    of its own)."""
    if exp.auxiliary or generated:
        return
    if command == "select":
        raise AuxlearnError("the experiment lists no auxiliary task (auxiliary is empty): there is nothing to select "
                            "from; list the candidate tasks under auxiliary")
    raise AuxlearnError(f"the experiment lists no auxiliary task (auxiliary is empty) and mix.method "
                        f"{exp.mix.method!r} generates none: `auxlearn {command}` would only train the baseline; list "
                        "the candidate tasks under auxiliary, or train the primary alone with `auxlearn train`")
