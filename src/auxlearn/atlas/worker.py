"""`auxlearn atlas`: train the atlas's cells, each an enqueued trial of one Optuna study, so that several workers
(processes of one machine through a journal file, machines through PostgreSQL) share one atlas with Optuna's
queue, heartbeats and requeue of a lost worker's trial; no scheduler of our own.

The storage is the atlas's truth: a finished cell's result is its trial's user attribute, so every worker writes
the same ``atlas.json``. A worker also imports the runs of an ``atlas.json`` already in its folder (one committed
from an earlier machine, say) as finished trials, and a cell killed mid-way goes on from its checkpoint in the
worker's ``runs/`` folder when that worker takes it up again.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from auxlearn.atlas.config import Atlas, Cell
from auxlearn.atlas.embeddings import atlas_embeddings
from auxlearn.atlas.plan import plan_cells
from auxlearn.atlas.summary import summarise
from auxlearn.atlas.table import FORMAT
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import Prepared, prepare, train_experiment, versions
from auxlearn.identity import model_identity
from auxlearn.io import read_json, write_json_atomic
from auxlearn.mix.trial_storage import (claim, failed_or_requeued, heartbeat, opened_storage, quiet_optuna, retry_interrupted,
                                        storage_problem)
from auxlearn.train.device import cpu_name
from auxlearn.train.tracking import tracking_folder, tracking_root

POLL_SECONDS = 5  # how often a worker with nothing queued looks at the other workers' running cells


def run_atlas(atlas: Atlas, out_dir: str | Path, *, max_cells: Optional[int] = None, log=print,
              after_cell: Optional[Callable[[dict[str, Any]], None]] = None) -> dict[str, Any]:
    """Train the atlas's cells until none is left (or ``max_cells`` were trained here), then write and return
    ``atlas.json``; ``after_cell(atlas document)`` after each cell (a bench keeps a copy). Re-run into the same
    folder (or with the same storage) to resume."""
    out = Path(out_dir)
    imports = _read_runs(out / "atlas.json")  # a damaged file stops the command before anything is written
    url = atlas.storage_url(out)
    problem = storage_problem(url)
    if problem:
        raise AuxlearnError(f"atlas.storage: {problem}")
    out.mkdir(parents=True, exist_ok=True)
    prepared: dict[str, Prepared] = {}
    trained = 0
    with quiet_optuna(), opened_storage(url) as store:
        study = optuna.create_study(storage=store, study_name=atlas.config.study_name, direction="maximize",
                                    load_if_exists=True)
        _import_runs(study, imports)
        embeddings = atlas_embeddings(atlas)
        while max_cells is None or trained < max_cells:
            retry_interrupted(study, store)
            trials = study.get_trials(deepcopy=False)
            done = finished(atlas, trials)
            todo = [c for c in plan_cells(atlas, done) if c.key not in done]
            if not todo:
                break
            # One cell queued at a time, the plan's first that no worker holds: Optuna hands out waiting trials
            # oldest first, so a queue filled at once would train a cell planned late (a control, once its row's
            # pairs said their length; a widened seed) after every cell queued before it, not in the plan's order.
            if not any(t.state == TrialState.WAITING for t in trials):
                live = {t.user_attrs.get("cell") for t in trials if t.state == TrialState.RUNNING}
                upcoming = next((cell for cell in todo if cell.key not in live), None)
                if upcoming is None:
                    time.sleep(POLL_SECONDS)  # every cell left is running on another worker
                    continue
                study.enqueue_trial({}, user_attrs={"cell": upcoming.key})
            if _run_one(atlas, study, store, out, prepared, log):
                trained += 1
                doc = write_atlas(atlas, study, out, embeddings)
                if after_cell is not None:
                    after_cell(doc)
        return write_atlas(atlas, study, out, embeddings)


def finished(atlas: Atlas, trials: list[optuna.trial.FrozenTrial]) -> dict[str, dict[str, Any]]:
    """Cell key -> result of the first finished trial of each cell whose identity is the atlas's own (a cell trained
    under other settings does not count)."""
    done: dict[str, dict[str, Any]] = {}
    identities: dict[str, str] = {}
    for trial in trials:
        result, key = trial.user_attrs.get("result"), trial.user_attrs.get("cell")
        if trial.state != TrialState.COMPLETE or result is None or key in done:
            continue
        cell = Cell.from_key(key)
        if cell.primary not in atlas.config.primaries:
            continue
        if key not in identities:
            identities[key] = atlas.cell_identity(cell)
        if result.get("identity") == identities[key]:
            done[key] = result
    return done


def _run_one(atlas: Atlas, study: optuna.Study, store: BaseStorage, out: Path, prepared: dict[str, Prepared],
             log) -> bool:
    """Take the next queued cell and train it; False when there was none to take or it was a duplicate."""
    trial = study.ask()
    key = trial.user_attrs.get("cell")
    if key is None:  # the queue emptied between the look and the ask: a trial without a cell
        trial.set_user_attr("surplus", True)
        study.tell(trial, state=TrialState.FAIL)
        return False
    older = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("cell") == key and t.number < trial.number]
    # An older finished trial counts only under this atlas's identity (one of other settings is trained again).
    if any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in older) or finished(atlas, older):
        trial.set_user_attr("duplicate", True)  # two workers queued the same cell at once: the older one counts
        study.tell(trial, state=TrialState.PRUNED)
        return False
    cell = Cell.from_key(key)
    with heartbeat(store, trial):
        claim(trial)
        with failed_or_requeued(study, store, trial):  # an interrupted cell resumes from its checkpoint
            log(f"[{time.strftime('%H:%M:%S')}] atlas: {cell.primary} {cell.arm} seed {cell.seed}")
            result = train_cell(atlas, cell, out, prepared)
            trial.set_user_attr("result", result)
        study.tell(trial, result["score"], skip_if_finished=True)
    log(f"    {cell.primary} {cell.arm} seed {cell.seed}: {result['eval']:.4f} ({result['seconds']:.0f} s)")
    return True


def train_cell(atlas: Atlas, cell: Cell, out: Path, prepared: dict[str, Prepared]) -> dict[str, Any]:
    """One cell trained (or resumed) in ``out/runs/<primary>/<arm>/seed_<n>``: its eval score and what it cost."""
    exp = atlas.cell_experiment(cell)
    data = prepared[cell.primary] = prepare(exp, into=prepared.get(cell.primary))
    with tracking_root(out / "runs", tracking_folder(out)):  # a tracked run named <primary>/<arm>/seed_<n>
        results = train_experiment(exp, out / "runs" / cell.primary / cell.arm / f"seed_{cell.seed}", data,
                                   save_model=False)
    spec = data.data[cell.primary].spec
    score = results["eval"][cell.primary]["main"]
    return {"identity": atlas.cell_identity(cell), "eval": score, "score": spec.signed(score),
            "dev": results["dev_best"][cell.primary]["main"], "metric": "+".join(spec.main_metric),
            "higher_is_better": spec.higher_is_better, "train_examples": len(data.data[cell.primary].train),
            "protocol": results["protocol"], "planned_steps": results["planned_steps"], "steps": results["steps"],
            "primary_steps": results["primary_steps"], "best_step": results["best_step"],
            "seconds": results["seconds"], "precision": results.get("precision"), "cpu": cpu_name(),
            "degenerate": bool(results.get("degenerate", {}).get(cell.primary, False))}


def write_atlas(atlas: Atlas, study: optuna.Study, out: Path,
                embeddings: tuple[dict[str, list[float]], dict[str, Any]]) -> dict[str, Any]:
    done = finished(atlas, study.get_trials(deepcopy=False))
    exp = atlas.experiment(next(iter(atlas.config.primaries)), [], atlas.seed)
    meta = {"encoder": exp.model, "encoder_identity": model_identity(exp.model), "pooling": exp.pooling,
            "versions": versions(), "embeddings": embeddings[0], "embedding_settings": embeddings[1]}
    doc = summarise(atlas, done, meta)
    write_json_atomic(out / "atlas.json", doc)
    return doc


def _read_runs(path: Path) -> list[tuple[Cell, dict[str, Any], float]]:
    """The runs of an atlas.json in the folder (none without one), each checked."""
    if not path.is_file():
        return []
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("runs"), list):
        raise AuxlearnError(f"{path}: not an auxlearn atlas (expected format {FORMAT!r} with a runs list); move "
                            "it away to start the atlas afresh")
    runs = []
    for index, run in enumerate(doc["runs"]):
        try:
            cell = Cell(**run["cell"])
            result = {k: v for k, v in run.items() if k != "cell"}
            runs.append((cell, result, float(result["score"])))
        except (KeyError, TypeError, ValueError) as error:
            raise AuxlearnError(f"{path}: runs[{index}] is not a cell's run ({error})") from None
    return runs


def _import_runs(study: optuna.Study, runs: list[tuple[Cell, dict[str, Any], float]]) -> None:
    """The runs read from an atlas.json, as finished trials of the study (those it lacks)."""
    have = {t.user_attrs.get("cell") for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    for cell, result, score in runs:
        if cell.key not in have:
            study.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=score, params={},
                                                      distributions={},
                                                      user_attrs={"cell": cell.key, "result": result,
                                                                  "imported": True}))
            have.add(cell.key)
