"""GradTS's measurement of one task: fine-tune a fresh encoder on a seeded subsample of the task, then take its
attention-head importance (``head_importance``, or the reference code's statistic with ``parity: reference``).

Cost and defaults (``bench/gradts.py``, MiniLM, 2 CPU cores): the target is that importance for the
primary and 6 candidates (RTE; mnli, qqp, mrpc, sst2, cola, stsb) costs at most one single-task baseline run
(``examples/rte_single.yaml``: 420 steps of batch 16). Nearly all of the cost is the fine-tuning (the importance
pass over 256 examples is 1-6 s per task). Measured ratios (importance for 7 tasks / baseline): one epoch over
2,000 examples (the issue's suggestion; 125 steps per task) 1.15, over the target; 1,024 examples (64 steps)
0.57 (200 s against a measured 352 s baseline, idle cores); 512 examples (32 steps) well under (0.16 in CPU
time, measured on a contended machine). Default:
``finetune_examples=1024`` (one epoch, 64 steps of 16) and ``importance_examples=256``. The trade-off: a
shorter fine-tune leaves the heads closer to the pretrained model's, so the tasks' matrices are more alike
(taus higher, their spread smaller) and the ranking moves (MNLI for RTE: 2nd of 6 after 32 steps, 1st after 64,
4th after 125), and 256 examples give a noisier task-level mean; raise both for a sharper ranking when the budget
allows (matrices are cached, so the cost is paid once per model/task/data/settings).

Importance matrices are cached under ``<cache>/importance/<key>.npz`` (``AUXLEARN_CACHE``, default
``~/.cache/auxlearn``), keyed by the model (name, or a local folder's config and weight files), the task spec,
the exact fine-tuning and importance examples (ids, tokens and labels, so max_length, subsampling and seeds are
covered) and every setting that changes the result. The stage folder ``select/`` receives
``importance/<task>.npz`` per task and ``gradts.json`` (ranked taus, trials, fg counts, costs).
"""

from __future__ import annotations

import json
import logging
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from auxlearn.data.batching import eval_batches
from auxlearn.data.encode import EncodedSplit, cache_key, cache_path
from auxlearn.data.fingerprint import split_fingerprint
from auxlearn.experiment import build_model, build_trainer, prepared_pad_length
from auxlearn.identity import config_identity, model_identity
from auxlearn.io import write_json_atomic
from auxlearn.models.encoder import resolve_model_name

from .importance import HeadImportance, head_importance
from .options import GradTSOptions
from .reference import reference_importance

log = logging.getLogger(__name__)

CACHE_VERSION = 2
FINETUNE_DEV_EXAMPLES = 64  # the fine-tune's one dev evaluation (a diagnostic only) uses this many examples


def _subsample(stage, task: str, options: GradTSOptions,
               whole_split: bool) -> tuple[EncodedSplit, EncodedSplit]:
    """The fine-tuning and the importance examples of ``task``: prefixes of one seeded permutation of its
    train split (so the importance examples are among the fine-tuning ones when there are fewer)."""
    train = stage.prepared.data[task].train
    order = np.random.default_rng([stage.exp.seed, 4]).permutation(len(train))
    n_imp = len(train) if whole_split or options.importance_examples is None else options.importance_examples
    return train.select(np.sort(order[: options.finetune_examples])), train.select(np.sort(order[:n_imp]))


class Measurement(NamedTuple):
    """What measuring a task takes: its fine-tuning and importance examples, the fine-tune's steps, and the cache
    file its matrix is kept in (the selection reads it, and the run's plan counts a cached task as free)."""

    tune_split: EncodedSplit
    imp_split: EncodedSplit
    steps: int
    key: str
    cache_file: Path


def measurement(stage, task: str, options: GradTSOptions, whole_split: bool = False) -> Measurement:
    exp, prepared = stage.exp, stage.prepared
    tune_split, imp_split = _subsample(stage, task, options, whole_split)
    steps = options.finetune_steps or max(1, -(-len(tune_split) // options.finetune_batch_size))
    variant = finetune_variant(exp, task, options, steps)
    key_material = {
        "version": CACHE_VERSION,
        "model": model_identity(resolve_model_name(exp.model)),
        "spec": prepared.data[task].spec.model_dump(mode="json"),
        # The examples are fingerprinted below, so their caps and task files do not count twice.
        "finetune": {"config": config_identity(variant, exclude=("model", "task_files", "data.max_train_examples")),
                     "data": split_fingerprint(tune_split), "pad_to": prepared_pad_length(exp, prepared)},
        "importance": {"data": split_fingerprint(imp_split), "normalization": options.normalization,
                       "statistic": "reference" if options.parity == "reference" else "head_mask"},
    }
    key = cache_key(json.dumps(key_material, sort_keys=True))
    return Measurement(tune_split, imp_split, steps, key, cache_path("importance", f"{task}-{key}.npz"))


def task_importance(stage, task: str, options: GradTSOptions, *,
                    whole_split: bool = False) -> tuple[HeadImportance, dict[str, Any]]:
    """The head importance of ``task`` (from the cache when possible) and what it cost."""
    prepared = stage.prepared
    tune_split, imp_split, steps, key, cache_file = measurement(stage, task, options, whole_split)
    if options.cache and cache_file.is_file():
        meta_file = cache_file.with_suffix(".json")
        try:  # a damaged cache entry is measured again and replaced
            meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
            return HeadImportance.load(cache_file), {"cached": True, "finetune_seconds": 0.0,
                                                     "importance_seconds": 0.0, "cache_key": key, "computed": meta}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            log.warning("auxlearn: the cached importance %s is unreadable (%s); measuring again", cache_file, error)

    t0 = time.perf_counter()
    model, dev_score = finetune(stage, task, options, tune_split, steps)
    t1 = time.perf_counter()
    head = model.heads[task]
    device = next(model.parameters()).device

    def batches():
        for _, batch in eval_batches(imp_split, options.importance_batch_size, prepared.tokenizer.pad_token_id):
            yield {k: v.to(device) for k, v in batch.items()}

    def loss_fn(batch):
        return head.example_losses(model(task, batch), batch["labels"])

    statistic = reference_importance if options.parity == "reference" else head_importance
    result = statistic(model, loss_fn, batches(), normalization=options.normalization)
    t2 = time.perf_counter()
    cost = {"finetune_seconds": round(t1 - t0, 3), "importance_seconds": round(t2 - t1, 3),
            "finetune_steps": steps, "finetune_examples": len(tune_split), "importance_examples": len(imp_split),
            "finetune_dev": dev_score}
    if options.cache:
        result.save(cache_file)
        write_json_atomic(cache_file.with_suffix(".json"), cost)
    return result, {**cost, "cached": False, "cache_key": key}


def finetune_variant(exp, task: str, options: GradTSOptions, steps: int):
    """The experiment as GradTS fine-tunes ``task`` alone before measuring its head importance."""
    return exp.variant(primary=task, auxiliary=[], sampler={"name": "uniform"}, steps=steps,
                       batch_size=options.finetune_batch_size, lr=options.finetune_lr or exp.train.lr, grad_accum=1,
                       eval_every=steps, patience=None, eval_tasks=[], progress=False)


def finetune(stage, task: str, options: GradTSOptions, tune_split: EncodedSplit, steps: int):
    """A fresh model (encoder + ``task``'s head) trained ``steps`` steps on ``tune_split``."""
    exp, prepared = stage.exp, stage.prepared
    source = prepared.data[task]
    dev = source.dev.select(range(min(FINETUNE_DEV_EXAMPLES, len(source.dev))))
    variant = finetune_variant(exp, task, options, steps)
    model = build_model(variant, prepared, [task])
    data = {task: replace(source, train=tune_split, dev=dev)}
    outcome = build_trainer(variant, prepared, model, data=data).train()
    return model, outcome.best_dev.get(task, {}).get("main")
