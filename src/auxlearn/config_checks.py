"""What a config can only be checked against once its tasks and this machine are known: task names, caps and
ratios that name no task of the experiment, a GPU that is not there. Run when the config file loads, so that a
typo fails in a second rather than after an hour of training (and not on every validated variant of it)."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from auxlearn.adapters import build_adapter
from auxlearn.config_schema import Experiment, TrainConfig
from auxlearn.data.loading import check_data_folder
from auxlearn.errors import AuxlearnError
from auxlearn.models.encoder import pretrained_lm_head
from auxlearn.models.multitask import is_model_folder, saved_heads
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.device import pick_device
from auxlearn.train.tracking import missing_trackers

log = logging.getLogger(__name__)


def check_experiment(exp: Experiment, where: str, generated: bool = False) -> None:
    """``generated``: the mixer generates objectives that predict tokens (``_fresh_lm_heads``)."""
    with _at(where):
        if exp.data.dir:
            check_data_folder(exp.data.dir)
        if is_model_folder(exp.model):  # its heads are adopted once data is ready: a damaged file fails now
            saved_heads(exp.model)
        known = available_tasks(exp.task_files)
        specs = {name: get_task(name, known) for name in exp.tasks}
        for key, names in (("primary", [exp.primary]), ("train.eval_tasks", exp.train.eval_tasks)):
            unscored = [n for n in names if not specs[n].task_type.labelled]
            if unscored:
                raise AuxlearnError(f"{key}: {', '.join(map(repr, unscored))} is a {specs[unscored[0]].type} task, "
                                    "which has no labels to score; it can only be an auxiliary task")
        if exp.data.shots is not None and specs[exp.primary].type != "classification":
            raise AuxlearnError(f"data.shots draws k examples per class of the primary; {exp.primary!r} is a "
                                f"{specs[exp.primary].type} task")
        build_adapter(exp.adapter.method, exp.adapter.options, exp.tasks).check(exp.model)
        caps = exp.data.max_train_examples
        _names_tasks(exp, "data.max_train_examples", caps if isinstance(caps, dict) else {})
        _names_tasks(exp, "train.sampler.ratios", exp.train.sampler.options.get("ratios") or {})
        _names_tasks(exp, "train.weighting.weights", exp.train.weighting.options.get("weights") or {})
        pick_device(exp.train.device)
        _trackers_installed(exp)
        _fresh_lm_heads(exp, [n for n, s in specs.items() if s.task_type.head.predicts_tokens], generated)


@contextmanager
def _at(where: str) -> Iterator[None]:
    """Errors that do not name the config file, prefixed with it (a task file's errors name their own file)."""
    try:
        yield
    except AuxlearnError as error:
        raise AuxlearnError(str(error) if str(error).startswith("task file") else f"{where}: {error}") from None


def _trackers_installed(exp: Experiment) -> None:
    """A tracker of ``train.log_with`` (or of a few-shot arm's train settings) whose package is missing would fail
    once the first arm has trained; its extra is named now."""
    settings = [exp.fewshot.pretrain, *exp.fewshot.arms.values()]
    names = dict.fromkeys([*exp.train.log_with, *(n for s in settings for n in TrainConfig(**s).log_with)])
    missing = missing_trackers(list(names))
    if missing:
        raise AuxlearnError(f"train.log_with: {', '.join(missing)} is not installed; install the extra: pip install "
                            f"'auxlearn[{','.join(missing)}]'")


def _fresh_lm_heads(exp: Experiment, tasks: list[str], generated: bool) -> None:
    """One line when LM heads would start from random weights, with nothing to warm them (a warning: a user may
    mean it, and a bench measures it)."""
    if exp.objectives.head_warmup or not (tasks or generated) or pretrained_lm_head(exp.model) is not None:
        return
    what = " and ".join([*([f"mix: {exp.mix.method}"] if generated else []), *map(repr, tasks)])
    log.warning("auxlearn: %s has no pretrained masked-LM head and objectives.head_warmup is 0, so the LM heads of %s "
                "start from random weights: on citation intent with all-MiniLM-L6-v2 every denoising arm ended ~18 "
                "points of macro-F1 below the primary alone (bench/aang.py, seeds 0 and 1); set "
                "objectives.head_warmup to fit them first", exp.model, what)


def _names_tasks(exp: Experiment, key: str, mapping: dict) -> None:
    """A per-task mapping whose keys are not tasks of the experiment would be silently ignored."""
    stray = [name for name in mapping if name not in exp.tasks]
    if stray:
        raise AuxlearnError(f"{key} names {', '.join(map(repr, stray))}, not a task of this experiment "
                            f"(its tasks: {', '.join(exp.tasks)})")
