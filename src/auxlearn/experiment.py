"""Train one experiment end to end: data, model, its protocol's phases, best checkpoint, eval scores, results.json.

``prepare`` loads and encodes the tasks once (``prepared.py``); later stages (selection trials, mixing trials,
seeds) pass the prepared data back in, so nothing is tokenized twice in a process. What a re-run finds finished
is ``resume.py``'s to say; the phases come from the arm's plan (``arm_plan.py``).
"""

from __future__ import annotations

import gc
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import transformers

from auxlearn.aang.head_warmup import start_new_heads
from auxlearn.adapters import Adapter, build_adapter
from auxlearn.arm_plan import ArmPlan, phase_experiment, phase_folder, plan_arm
from auxlearn.config_schema import Experiment
from auxlearn.data.task_data import TaskData
from auxlearn.errors import NonFiniteLossError
from auxlearn.io import write_json_atomic
from auxlearn.model_card import write_model_card
from auxlearn.models.multitask import MultiTaskModel, is_model_folder, saved_heads
from auxlearn.prepared import Prepared, prepare, with_shots
from auxlearn.resume import data_fingerprint, finished_arm, finished_results, training_identity, versions
from auxlearn.train.anchor import Anchor
from auxlearn.train.checkpoint import remove_checkpoints
from auxlearn.train.device import pick_device
from auxlearn.train.evaluation import predict, score_predictions
from auxlearn.train.processes import is_main_process
from auxlearn.train.samplers import TaskSampler, build_sampler
from auxlearn.train.tracking import TrackedRun, scores_as_scalars, tracked_run
from auxlearn.train.trainer import Trainer
from auxlearn.train.weightings import build_weighting
from auxlearn.train_length import resolved_length

# With the names of prepared.py and resume.py that the stages, benches and tests import from here.
__all__ = ["PHASE_KEYS", "Prepared", "Trained", "build_model", "build_trainer", "data_fingerprint", "finished_phase",
           "finished_results", "model_metadata", "prepare", "prepared_pad_length", "tracked_arm", "train_experiment",
           "train_phase", "training_identity", "versions", "with_shots"]

log = logging.getLogger(__name__)


def build_model(exp: Experiment, prepared: Prepared, tasks: list[str], start: Optional[MultiTaskModel] = None,
                adapter: Optional[Adapter] = None) -> MultiTaskModel:
    """A model for ``tasks`` (``model.adopted`` lists the tasks whose head it took over).

    Heads and adapters start from the experiment's seed. ``start`` (an earlier phase's model) gives its encoder,
    adapter and the heads of the tasks both share; else the encoder is ``adapter``'s (default: the experiment's, for
    ``tasks``) built on ``model:``, and a saved auxlearn folder there gives its heads the same way; a new head
    from the checkpoint's where it has one, one that predicts tokens then warmed (``aang/head_warmup.py``)."""
    transformers.set_seed(exp.seed)
    specs = {t: prepared.data[t].spec for t in tasks}
    if start is not None:
        encoder, adapter = start.encoder, start.adapter
        adapter.set_trainable(encoder)  # a finished phase's model was loaded for inference
    else:
        adapter = adapter or build_adapter(exp.adapter.method, exp.adapter.options, tasks)
        encoder = adapter.build(exp.model)
    model = MultiTaskModel(encoder, specs, pooling=exp.pooling, pair_encoding=exp.pair_encoding,
                           head_dropout=exp.head_dropout, adapter=adapter, untie_heads=exp.objectives.untie_heads)
    if start is not None:
        model.adopt_heads(start.specs, start.head_states())
    elif is_model_folder(exp.model):
        saved_specs, states, _ = saved_heads(exp.model)
        model.adopt_heads(saved_specs, states)
    start_new_heads(model, exp, prepared, [t for t in tasks if t not in model.adopted], encoder_known=start is None)
    return model


@dataclass
class Trained:
    """One training run's results (as in its results.json) and its model, with the best dev checkpoint loaded."""

    results: dict[str, Any]
    model: MultiTaskModel


def train_experiment(exp: Experiment, out_dir: Optional[str | Path], prepared: Optional[Prepared] = None,
                     save_model: bool = True, score_eval: bool = True) -> dict[str, Any]:
    """Train the experiment's arm (its protocol's phases over its budget) and write ``results.json`` in
    ``out_dir``: the last phase's scores, with each phase's steps and seconds and the whole arm's totals.

    Selection and mixing trials pass ``score_eval=False``: what chooses never looks at eval. With ``out_dir``, a
    re-run goes on where a killed one stopped: an arm that the folder holds finished is returned as it is (see
    ``finished_arm``), a finished phase is loaded, and a phase in progress resumes from its last checkpoint."""
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    prepared = with_shots(exp, prepare(exp, into=prepared))
    exp = resolved_length(exp, prepared)
    data = data_fingerprint(exp, prepared, score_eval) if out is not None else None  # only a folder resumes
    done = finished_arm(exp, out, data, save_model, score_eval) if out is not None else None
    if done is not None:
        log.warning("auxlearn: %s holds this arm, finished (same config, data and versions); not trained again",
                    out)
        return done
    arm = plan_arm(exp, {t: len(prepared.data[t].train) for t in exp.tasks})
    adapter = build_adapter(exp.adapter.method, exp.adapter.options, exp.tasks)  # routing rows for every phase
    with tracked_arm(exp, out) as run:
        phases, trained = _train_phases(exp, arm, out, prepared, data, adapter, save_model=save_model,
                                        score_eval=score_eval, run=run)
        if run is not None:
            run.log(scores_as_scalars("eval", trained.results["eval"]), 0)  # after the last phase's steps
    results = {**trained.results, "primary": exp.primary, "tasks": exp.tasks, "config": exp.model_dump(mode="json"),
               "protocol": arm.protocol, "protocol_rule": arm.rule, "budget": asdict(arm.plan),
               "planned_steps": arm.total_steps, "phases": phases, "data_fingerprint": data,
               "steps": sum(p["steps"] for p in phases),
               "primary_steps": sum(p["task_steps"].get(exp.primary, 0) for p in phases),
               "seconds": round(time.perf_counter() - started, 3)}
    if out is not None and is_main_process():
        if save_model:  # before results.json, which marks the arm finished: a re-run finds the card written
            write_model_card(out / "model", results, {t: prepared.data[t].spec for t in exp.tasks},
                             peft=adapter.peft)
        write_json_atomic(out / "results.json", results)
        for earlier in out.glob("phase*_*/model"):  # the arm is finished: a re-run reads its results.json
            shutil.rmtree(earlier, ignore_errors=True)
    return results


def tracked_arm(exp: Experiment, out: Optional[Path]):
    """The arm's run in the trackers of ``train.log_with`` (None without them or without an output folder)."""
    return tracked_run(exp.train.log_with, out, exp.name, exp.model_dump(mode="json"), pick_device(exp.train.device))


def _train_phases(exp: Experiment, arm: ArmPlan, out: Optional[Path], prepared: Prepared, data: Optional[str],
                  adapter: Adapter, *, save_model: bool, score_eval: bool,
                  run: Optional[TrackedRun]) -> tuple[list[dict[str, Any]], Trained]:
    """Each phase of the arm from the previous one's model (or read back finished); every phase's record, and the
    last one trained."""
    resumable = out is not None and exp.train.checkpoint_every is not None
    phases, trained = [], None
    for index, phase in enumerate(arm.phases):
        last = index == len(arm.phases) - 1
        variant = phase_experiment(exp, phase)
        folder = out if out is None or last else out / phase_folder(index, phase.label)
        identity = training_identity(variant, data, index) if out is not None else None
        # A resumable arm keeps each earlier phase's model until the arm ends: a re-run starts the next from it.
        trained = (None if last or not resumable else finished_phase(folder, identity)) or train_phase(
            variant, folder, prepared, save_model=save_model if last else resumable, score_eval=score_eval and last,
            start=trained.model if trained else None, adapter=adapter, evaluate=phase.evaluate, identity=identity,
            score_start=phase.score_start, phase=phase.label, tracked=run,
            anchor=Anchor(trained.model.encoder, phase.regularization) if trained and phase.regularization else None)
        phases.append({"label": phase.label, **{k: trained.results[k] for k in PHASE_KEYS}})
        if run is not None:
            run.next_phase(trained.results["steps"])
    return phases, trained


def finished_phase(folder: Path, identity: str) -> Optional[Trained]:
    """An earlier phase of the arm that ``folder`` holds finished, with its model, else None."""
    results = finished_results(folder, identity)
    if results is None or not is_model_folder(folder / "model"):
        return None
    return Trained(results, MultiTaskModel.load(folder / "model")[0])


PHASE_KEYS = ("tasks", "steps", "task_steps", "best_step", "stopped", "seconds", "dev_best", "reused_heads",
              "sampler", "parameters")


def train_phase(exp: Experiment, out_dir: Optional[str | Path], prepared: Prepared, *,
                sampler: Optional[TaskSampler] = None, save_model: bool = True, score_eval: bool = True,
                start: Optional[MultiTaskModel] = None, adapter: Optional[Adapter] = None,
                anchor: Optional[Anchor] = None, evaluate: bool = True, identity: Optional[str] = None,
                score_start: bool = False, phase: str = "train", tracked: Optional[TrackedRun] = None) -> Trained:
    """One training run of the experiment's tasks: keep the best dev checkpoint, score the primary and any
    eval_tasks on eval, write ``results.json`` in ``out_dir``. With ``identity`` (what it trains), it checkpoints
    into ``out_dir`` and goes on from a checkpoint of the same identity there. ``phase``: what the progress bar
    calls it; ``tracked``: the arm's run its curves go to."""
    release_finished_runs()
    started = time.perf_counter()
    out = Path(out_dir) if out_dir is not None else None
    tasks = exp.tasks
    model = build_model(exp, prepared, tasks, start, adapter)
    trainer = build_trainer(exp, prepared, model, sampler=sampler, out_dir=out, anchor=anchor, evaluate=evaluate,
                            identity=identity, score_start=score_start, phase=phase, tracked=tracked)
    given, data, sampler, main = sampler is not None, trainer.data, trainer.sampler, trainer.main
    if out is not None and main:  # only once the inputs are checked: bad input leaves no folder behind
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").unlink(missing_ok=True)  # a previous run's, which this run replaces
    metadata = {**model_metadata(exp, prepared), "precision": trainer.precision}  # evaluate and predict as trained
    try:
        outcome = trainer.train()
    except NonFiniteLossError:
        if out is not None and main and trainer.outcome.best_step and save_model:
            model.save(out / "model", prepared.tokenizer, metadata)
        raise
    if out is not None and main and save_model:
        model.save(out / "model", prepared.tokenizer, metadata)
    scores, degenerate = _eval_scores(exp, model, prepared, trainer) if score_eval else ({}, {})
    results = {
        "primary": exp.primary,
        "tasks": tasks,
        "eval": scores,
        "degenerate": degenerate,
        "dev_best": outcome.best_dev,
        "best_step": outcome.best_step,
        "steps": outcome.steps,
        "task_steps": outcome.task_steps,
        "stopped": outcome.stopped,
        **_costs(outcome, started),
        "sampler": sampler.describe(),
        "weighting": trainer.weighting.describe(),
        "reused_heads": model.adopted, "warmed_heads": model.warmed,
        "parameters": model.parameter_counts(),
        "routing": model.routing(per_layer=False),
        "train_sizes": {t: len(d.train) for t, d in data.items()},
        "config": exp.model_dump(mode="json"),
        "versions": versions(),
        "identity": identity,
        **({"sampler_state": sampler.state_dict()} if given else {}),  # what its owner learned, for a re-run
    }
    if out is not None and main:
        write_json_atomic(out / "results.json", results)
        remove_checkpoints(out)
    return Trained(results, model)


def release_finished_runs() -> None:
    """Free the models and optimizers of the runs that have ended before this one allocates its own.

    A finished run's model, optimizer, Accelerator and trainer hold one another in reference cycles (Accelerate
    wraps ``model.forward`` in a closure over the model; the trainer's callbacks close over the trainer), which only
    Python's cycle collector frees, and training allocates too few Python objects for it to run often: a 5-seed run
    kept several models' Adam states alive at once (`make demo` peaked at 6.1 GB; see bench/memory.py)."""
    gc.collect()


def _eval_scores(exp: Experiment, model: MultiTaskModel, prepared: Prepared, trainer) -> tuple[dict, dict]:
    """The primary's and the eval_tasks' scores on eval, and whether a classifier predicted one class for all."""
    scores, degenerate = {}, {}
    for task in (exp.primary, *exp.train.eval_tasks):
        split = prepared.data[task].split("eval")
        predictions = predict(model, task, split, trainer.inference)
        scores[task] = score_predictions(model.specs[task], predictions, split)
        if model.specs[task].task_type.degenerate_check:
            degenerate[task] = len(set(predictions)) == 1
    return scores, degenerate


def _costs(outcome, started: float) -> dict[str, Any]:
    """What the run cost and how it ran: seconds by part, examples, tokens, precision, threads, processes."""
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "train_seconds": round(outcome.seconds - outcome.eval_seconds - outcome.checkpoint_seconds, 3),
        "dev_eval_seconds": round(outcome.eval_seconds, 3),
        "checkpoint_seconds": round(outcome.checkpoint_seconds, 3),
        "resumed_from_step": outcome.resumed_from,
        "processes": outcome.processes,
        "examples": outcome.examples,
        "tokens": outcome.tokens,
        "precision": outcome.precision,
        "threads": outcome.threads,
    }


def build_trainer(exp: Experiment, prepared: Prepared, model: MultiTaskModel, *,
                  data: Optional[Mapping[str, TaskData]] = None, sampler: Optional[TaskSampler] = None,
                  out_dir: Optional[Path] = None, anchor: Optional[Anchor] = None, evaluate: bool = True,
                  identity: Optional[str] = None, score_start: bool = False, phase: str = "train",
                  tracked: Optional[TrackedRun] = None) -> Trainer:
    """The one way to wire a Trainer for an experiment (or a validated variant of one): the experiment's tasks
    (or ``data``, e.g. a subsample), its sampler unless one is given, its padding, seed and train settings."""
    data = dict(data) if data is not None else {t: prepared.data[t] for t in exp.tasks}
    if sampler is None:
        sampler = build_sampler(exp.train.sampler.name, exp.train.sampler.options, list(data),
                                {t: len(d.train) for t, d in data.items()}, total_steps=exp.train.steps,
                                seed=exp.seed)
    transforms = {task: d.spec.task_type.batch_transform(d.spec, prepared.tokenizer, exp.seed + index)
                  for index, (task, d) in enumerate(data.items())}
    scales = {task: exp.objectives.lr_scale for task, d in data.items() if d.spec.objective is not None}  # AANG's
    return Trainer(model, data, exp.primary, exp.train, sampler=sampler, pad_id=prepared.tokenizer.pad_token_id,
                   batch_transforms={task: t for task, t in transforms.items() if t is not None},
                   weighting=build_weighting(exp.train.weighting.name, exp.train.weighting.options, list(data),
                                             exp.seed),
                   seed=exp.seed, out_dir=out_dir, eval_tasks=tuple(exp.train.eval_tasks),
                   pad_to=prepared_pad_length(exp, prepared), group_by_length=exp.data.group_by_length,
                   anchor=anchor, evaluate=evaluate, identity=identity, score_start=score_start, phase=phase,
                   tracked=tracked, head_lr_scales=scales)


def model_metadata(exp: Experiment, prepared: Prepared) -> dict[str, Any]:
    """How the data was split and encoded, so `auxlearn evaluate --split dev` rebuilds the same dev split."""
    return {"data": {"dev_size": exp.data.dev_size, "split_seed": exp.data.split_seed,
                     "max_length": {t: d.max_length for t, d in prepared.data.items()}},
            "task_files": exp.task_files}


def prepared_pad_length(exp: Experiment, prepared: Prepared) -> Optional[int]:
    """``padding: max_length`` pads every batch to the longest max_length in use (for comparisons)."""
    if exp.data.padding == "longest":
        return None
    return exp.data.max_length or max(d.spec.max_length for d in prepared.data.values())
