"""Head warm-up: before a masked-LM or next-token objective trains the encoder, its LM head is fitted with the
encoder frozen on the objective's own text (``objectives.head_warmup`` steps), so that the first gradients that
reach the encoder come from a head that predicts tokens. Without it, on an encoder that has no pretrained
masked-LM head (all-MiniLM-L6-v2), the head starts from random weights (loss ln 30,522 = 10.3) and its large early
gradients run through the whole encoder: on citation intent every denoising arm ended about 18 points of macro-F1
below the primary alone (``bench/aang.py``). Task-adaptive pre-training (Gururangan et al., 2020) and AANG (Dery et
al., ICLR 2023) start from RoBERTa's pretrained LM head instead, which this stands in for.

A warmed head depends on the encoder, the text, the objective and the warm-up settings only: it starts from a fixed
seed (not the run's) and draws its batches and masks from fixed seeds, so every seed and arm shares it. It is
cached on disk like tokenization (``<cache>/warm_heads/``, the cache being ``data.cache_dir`` or
``AUXLEARN_CACHE``), under a key that hashes all of those, written atomically; a damaged entry is fitted again.
An encoder that an earlier phase trained has no identity to key by: a head warmed on it is not cached.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from auxlearn.data.batching import EndlessBatches
from auxlearn.data.encode import EncodedSplit, cache_key, cache_path
from auxlearn.data.fingerprint import split_fingerprint
from auxlearn.identity import model_identity
from auxlearn.io import write_bytes_atomic
from auxlearn.train.device import autocast, config_precision, pick_device
from auxlearn.train.threads import thread_share

if TYPE_CHECKING:
    from auxlearn.config_schema import Experiment
    from auxlearn.models.multitask import MultiTaskModel
    from auxlearn.prepared import Prepared

WARMUP_VERSION = 1  # bumped when the fitting changes, so that older cached heads are not read
SEED = 0  # of the head's initialisation, the batch order and the objective's masks
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmUp:
    """What a warmed head depends on besides its task's text and objective."""

    steps: int
    lr: float
    batch_size: int
    group_by_length: bool
    precision: str
    encoder: Any  # model_identity of the encoder and its adapter; None: unknown (no cache)
    model: str  # where the checkpoint's own pretrained head is read
    threads: Optional[int] = None
    cache_dir: Optional[str] = None


def start_new_heads(model: MultiTaskModel, exp: Experiment, prepared: Prepared, tasks: list[str], *,
                    encoder_known: bool) -> None:
    """Start the heads of ``tasks`` (those the model did not take over) from the checkpoint's own where it has
    them, then warm those that predict tokens, recording what was done in ``model.warmed``; then freeze the input
    embeddings if ``objectives.freeze_embeddings`` asks and the model has such a head. ``encoder_known``: the
    encoder is ``exp.model``'s as loaded (its identity keys the cache), not an earlier phase's."""
    for task in tasks:
        model.head(task).start_from(model.specs[task].task_type.pretrained_head(exp.model))
    settings = exp.objectives
    token_tasks = [t for t in tasks if model.head(t).predicts_tokens]
    if settings.head_warmup and token_tasks:
        plan = WarmUp(settings.head_warmup, settings.head_warmup_lr, exp.train.batch_size,
                      exp.data.group_by_length, config_precision(exp.train.precision, exp.train.device),
                      [model_identity(exp.model), exp.adapter.method, exp.adapter.options] if encoder_known else None,
                      exp.model, exp.train.threads, exp.data.cache_dir)
        device = pick_device(exp.train.device)
        for task in token_tasks:
            model.warmed[task] = warm_head(model, task, prepared.data[task].train, prepared.tokenizer, plan, device)
    if settings.freeze_embeddings and any(head.predicts_tokens for head in model.heads.values()):
        model.freeze_embeddings()


def warm_head(model: MultiTaskModel, task: str, split: EncodedSplit, tokenizer, plan: WarmUp,
              device: torch.device = torch.device("cpu")) -> dict[str, Any]:
    """Fit ``task``'s head on ``split`` with the encoder frozen (or read it from the cache) and load it into the
    model; what the fit did (the same whether it ran now or was cached): its losses at the start and the end, a
    curve, its seconds."""
    path = _cache_path(model, task, split, plan)
    cached = _read(path) if path is not None else None
    if cached is not None:
        log.info("auxlearn: the head of %r warmed, read from %s", task, path)
        state, report = cached
    else:
        state, report = _fit(model, task, split, tokenizer, plan, device)
        if path is not None:
            try:
                write_bytes_atomic(path, safetensors_bytes(state, metadata={"report": json.dumps(report)}))
            except OSError as error:  # a read-only or full cache: the head is still right, only not kept
                log.warning("auxlearn: the warmed head of %r is not cached (%s)", task, error)
    model.head(task).load_state_dict(state)
    return report


def _cache_path(model: MultiTaskModel, task: str, split: EncodedSplit, plan: WarmUp) -> Optional[Path]:
    if plan.encoder is None:
        return None
    spec = model.specs[task]
    objective = spec.objective or spec.task_type.default_objective
    where = {"model": None, "threads": None, "cache_dir": None}  # the encoder counts by its identity
    material = json.dumps({"version": WARMUP_VERSION, "seed": SEED, "text": split_fingerprint(split),
                           "objective": asdict(objective) if objective else None, "type": spec.type,
                           "untied": model.untie_heads, "plan": asdict(plan) | where}, sort_keys=True, default=str)
    return cache_path("warm_heads", f"{cache_key(material)}.safetensors", plan.cache_dir)


def _read(path: Path) -> Optional[tuple[dict[str, torch.Tensor], dict[str, Any]]]:
    """A cached head and its report, or None when there is none or it is damaged (then it is fitted again)."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as stored:
            return {k: stored.get_tensor(k) for k in stored.keys()}, json.loads(stored.metadata()["report"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as error:
        log.warning("auxlearn: the cached warmed head %s is unreadable (%s); fitting it again", path, error)
        return None


def _fit(model: MultiTaskModel, task: str, split: EncodedSplit, tokenizer, plan: WarmUp,
         device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A fresh head (fixed seed, the checkpoint's pretrained weights where it has them) fitted on ``split`` by its
    objective's batches, the encoder frozen: its weights and the report.

    A loop of its own, not the Trainer: it fits a head apart from the model (the model's own keeps its weights
    until the fit is loaded, and the cache stores the fit alone) on features computed without a graph, with no dev
    split to score, no sampler, schedule, checkpoint or tracker, none of which the Trainer does without."""
    spec, started = model.specs[task], time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        head = model.new_head(task)
    head.start_from(spec.task_type.pretrained_head(plan.model))
    batches = EndlessBatches(split, plan.batch_size, tokenizer.pad_token_id, seed=SEED,
                             group_by_length=plan.group_by_length)
    transform = spec.task_type.batch_transform(spec, tokenizer, SEED)
    losses: list[float] = []
    with _frozen(model, device), thread_share(plan.threads) as threads:
        head.to(device).train()
        optimizer = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=plan.lr,
                                      weight_decay=0.0)
        for _ in range(plan.steps):
            threads.poll()
            batch = next(batches)
            batch = {k: v.to(device) for k, v in (transform(batch) if transform else batch).items()}
            with torch.no_grad(), autocast(device, plan.precision):
                features = model.features(task, batch)
            loss = head.loss(head(features.float(), batch["labels"]), batch["labels"])
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    return state, _report(losses, time.perf_counter() - started)


def _report(losses: list[float], seconds: float) -> dict[str, Any]:
    """The mean loss over the first and the last tenth of the steps, and a curve of at most 20 window means."""
    tenth, window = max(1, len(losses) // 10), max(1, len(losses) // 20)
    curve = [[end, sum(losses[end - window:end]) / window] for end in range(window, len(losses) + 1, window)]
    return {"steps": len(losses), "loss_start": sum(losses[:tenth]) / tenth,
            "loss_end": sum(losses[-tenth:]) / tenth, "curve": curve, "seconds": round(seconds, 3)}


@contextmanager
def _frozen(model: nn.Module, device: torch.device) -> Iterator[None]:
    """The model on ``device``, its encoder frozen (no gradient, no dropout); as it was again afterwards."""
    encoder = model.encoder
    where, training = next(model.parameters()).device, encoder.training
    flags = [(p, p.requires_grad) for p in encoder.parameters()]
    for param, _ in flags:
        param.requires_grad_(False)
    model.to(device)
    encoder.eval()
    try:
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)
        encoder.train(training)
        model.to(where)
