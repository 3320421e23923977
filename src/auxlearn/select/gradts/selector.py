"""``select: {method: gradts}``: GradTS (Ma et al., EMNLP 2021) task selection (threshold, top-k or trials) and
GradTS-fg instances.

For the primary and each candidate: fine-tune a fresh copy of the encoder with that task's head on a seeded
subsample of the task's train split (``finetune_examples`` examples, ``finetune_steps`` steps of
``finetune_batch_size``; default one epoch over the subsample), then compute its head importance in eval mode
on the first ``importance_examples`` of the same subsample (``head_importance``; ``parity: reference`` uses
the reference code's key+value weight-gradient statistic instead). Candidates are ranked by Kendall tau-b of
their task-level matrix with the primary's; ``mode`` picks the auxiliaries:

* ``threshold``: every candidate with ``tau >= threshold`` (GradTS-thres; default 0.6 as in the reference);
* ``top_k``: the ``top_k`` highest taus;
* ``trial`` (default, GradTS-trial): candidates added in tau order, one training run of
  ``[primary, *prefix]`` per prefix, starting with the primary alone (trial 0, the empty prefix), all with the
  same budget, sampler and seed (``trial_steps``, default the experiment's ``train.steps``; sampler
  ``trial_sampler``, default the experiment's), scored by the primary's best dev score; stop when a trial's
  best falls below the previous trial's best; keep the best prefix, the smaller on a tie, so the selection is
  empty unless some prefix strictly beats the primary alone (see ``gradts_trial``). Trial ``k`` trains into
  ``select/trial_<k>/``.

``instances: {threshold: t}`` or ``{coverage: q}`` (GradTS-fg): inside each kept auxiliary, keep example ``x``
iff Kendall tau(primary task-level, x instance-level) ``>= t``, or the top ``q`` fraction; ``Selection.instances``
carries the kept example ids and the pipeline trains the mix and final stages on those only. Every train
example of an auxiliary needs its own matrix, so with ``instances`` the candidates' importance covers their
WHOLE train split (``importance_examples`` then applies to the primary only; cap big tasks with
``data.max_train_examples``).

The measurement (fine-tuning, importance, its cache and cost) is in measure.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from auxlearn.io import write_json_atomic
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import select_by_utility
from auxlearn.stage_cost import StageCost

from .correlation import instance_taus, rank_candidates
from .importance import HeadImportance
from .instances import filter_instances
from .measure import FINETUNE_DEV_EXAMPLES, finetune_variant, measurement, task_importance
from .options import GradTSOptions
from .gradts_report import GradTSReport
from .trial import gradts_trial

log = logging.getLogger(__name__)


class GradTSSelector(Selector):
    name = "gradts"
    report = GradTSReport()

    Options = GradTSOptions

    def _select(self, stage) -> Selection:
        started = time.perf_counter()
        options = self.options
        folder = Path(stage.folder)
        (folder / "importance").mkdir(parents=True, exist_ok=True)
        primary, candidates = stage.primary, stage.candidates
        matrices: dict[str, HeadImportance] = {}
        costs: dict[str, dict[str, Any]] = {}
        for task in [primary, *candidates]:
            whole = options.instances is not None and task != primary
            matrices[task], costs[task] = task_importance(stage, task, options, whole_split=whole)
            matrices[task].save(folder / "importance" / f"{task}.npz")
            log.info("gradts %s: %s", task, costs[task])

        ranked = rank_candidates(matrices[primary].task, {t: matrices[t].task for t in candidates})
        taus = dict(ranked)
        trials: list[dict] = []
        stopped_at = None
        if options.mode == "threshold":
            selected = select_by_utility(taus, primary, threshold=options.threshold)[1:]
        elif options.mode == "top_k":
            selected = select_by_utility(taus, primary, threshold=None, top_k=options.top_k)[1:]
        else:
            result = gradts_trial(primary, [t for t, _ in ranked], lambda tasks: self._trial_score(stage, tasks))
            selected, trials, stopped_at = result.selected, result.trials, result.stopped_at

        kept_instances: dict[str, list[int]] = {}
        fg: dict[str, dict[str, Any]] = {}
        if options.instances is not None:
            for task in selected:
                imp = matrices[task]
                inst_taus = instance_taus(matrices[primary].task, imp.instances)
                kept = filter_instances(imp.example_ids, inst_taus, **options.instances)
                kept_instances[task] = [int(i) for i in kept]
                fg[task] = {"kept": int(kept.size), "total": imp.num_examples,
                            "fraction": kept.size / max(1, imp.num_examples),
                            "tau_mean": float(inst_taus.mean()) if inst_taus.size else None,
                            "tau_quantiles": (np.quantile(inst_taus, [0.1, 0.5, 0.9]).tolist()
                                              if inst_taus.size else None)}

        details = {"mode": options.mode, "ranking": [{"task": t, "tau": tau} for t, tau in ranked], "trials": trials,
                   "stopped_at": stopped_at, "instances": fg, "costs": costs}
        seconds = time.perf_counter() - started
        write_json_atomic(folder / "gradts.json", {"primary": primary, "selected": selected, "taus": taus, **details,
                                                  "options": options.model_dump(mode="json"), "seconds": seconds})
        return Selection(self.name, selected, scores=taus, details=details, seconds=seconds,
                         instances=kept_instances)

    def _trial_score(self, stage, tasks: list[str]) -> float:
        """Train ``tasks`` (``[primary, *prefix]``; the primary alone for trial 0) into ``trial_<k>``, ``k`` the
        number of auxiliaries, and return the primary's best dev score. Every trial, trial 0 included, goes
        through this one path: same steps, sampler and seed, so the scores differ only by the auxiliaries."""
        results = stage.train(**self._trial(stage, tasks[1:]))
        return stage.signed(results["dev_best"][stage.primary]["main"])

    def _trial(self, stage, auxiliary: list[str]) -> dict[str, Any]:
        """The arguments of trial ``len(auxiliary)``'s ``train`` (``Stage.train``, or ``PlanContext.arm``)."""
        sampler = {"name": self.options.trial_sampler} if self.options.trial_sampler else None
        return {"name": f"trial_{len(auxiliary)}", "auxiliary": auxiliary, "sampler": sampler,
                "steps": self.options.trial_steps or stage.exp.train.steps, "eval_tasks": []}

    def cost(self, context) -> StageCost:
        """A fine-tune and an importance pass per task not in the cache, then, in mode trial, every prefix of the
        ranking (none stopping early, in the candidates' order: the ranking is not known yet)."""
        options, trainings = self.options, []
        for task in [context.primary, *context.candidates]:
            planned = measurement(context, task, options, options.instances is not None and task != context.primary)
            if options.cache and planned.cache_file.is_file():
                continue
            dev = min(FINETUNE_DEV_EXAMPLES, len(context.prepared.data[task].dev))
            training = context.finetune(f"importance/{task}", finetune_variant(context.exp, task, options,
                                                                               planned.steps),
                                        train_examples=len(planned.tune_split), dev_examples=dev)
            training.train_tokens += context.forward(task, {task: len(planned.imp_split)}, backward=True).train_tokens
            trainings.append(training)
        if options.mode == "trial":
            trainings += [context.arm(**self._trial(context, context.candidates[:k]))
                          for k in range(len(context.candidates) + 1)]
        return StageCost(trainings, "every trial run" if options.mode == "trial" else "")

    def keeps_at_most(self, candidates: int) -> int:
        return min(candidates, self.options.top_k) if self.options.mode == "top_k" else candidates


__all__ = ["GradTSSelector"]
