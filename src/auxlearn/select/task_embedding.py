"""A task as one vector: the mean sentence embedding of up to ``examples`` of its training inputs under the
experiment's pretrained encoder, untouched by training (TextEmb, Vu et al., EMNLP 2020; SEmb, Poth et al., EMNLP
2021, with the same all-MiniLM-L6-v2 that TaskShop uses). Two tasks whose inputs read alike get close vectors;
it costs one forward pass over a thousand examples a task, seconds on a CPU.

An input is what the model reads: a pair task's two texts as the one sequence the experiment encodes, a tagging
task's sentence. Only the train split is read. Embeddings are cached under ``<cache>/task_embeddings/`` keyed by
the model, the pooling and the exact examples, so a task is embedded once per machine whatever selects with it; the
forward pass runs in the training's number format (bfloat16 where the CPU has the units).
"""

from __future__ import annotations

import io
import json
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from auxlearn.data.batching import eval_batches
from auxlearn.data.encode import EncodedSplit, cache_key, cache_path
from auxlearn.data.fingerprint import split_fingerprint
from auxlearn.identity import model_identity
from auxlearn.io import write_bytes_atomic
from auxlearn.models.encoder import load_encoder
from auxlearn.models.multitask import pool
from auxlearn.train.device import autocast, resolve_precision

DEFAULT_EXAMPLES = 1000
TOKENS_PER_BATCH = 4096  # padded tokens of a forward batch: cache-sized on a CPU, as the dev evaluation


def embedding_settings(model: str, pooling: str, examples: int = DEFAULT_EXAMPLES) -> dict[str, Any]:
    """What a task embedding depends on besides the task: an atlas records it beside the vectors it stores, so
    that a selector compares like with like."""
    return {"encoder": model, "pooling": pooling, "examples": examples}


def task_embedding(model: str, pooling: str, split: EncodedSplit, pad_id: int, *, examples: int = DEFAULT_EXAMPLES,
                   seed: int = 0) -> np.ndarray:
    """The unit-length mean of the pooled embeddings of up to ``examples`` inputs of ``split`` (drawn with
    ``seed``), from ``model``'s pretrained encoder."""
    key = json.dumps([model_identity(model), pooling, split_fingerprint(split), examples, seed, pad_id])
    path = cache_path("task_embeddings", f"{cache_key(key)}.npy")
    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):  # a damaged cache entry is computed again and replaced
            pass
    if len(split) > examples:
        chosen = np.sort(np.random.default_rng(seed).choice(len(split), examples, replace=False))
        split = split.select(chosen.tolist())
    vector = _mean_embedding(_encoder(model), pooling, split, pad_id)
    buffer = io.BytesIO()
    np.save(buffer, vector)
    try:
        write_bytes_atomic(path, buffer.getvalue())
    except OSError:  # a read-only or full cache: the embedding is still right, only not kept
        pass
    return vector


def _mean_embedding(encoder: torch.nn.Module, pooling: str, split: EncodedSplit, pad_id: int) -> np.ndarray:
    total = None
    device = torch.device("cpu")
    with torch.inference_mode(), autocast(device, resolve_precision("auto", device)):
        for _, batch in eval_batches(split, len(split), pad_id, max_tokens=TOKENS_PER_BATCH):
            inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
            pooled = pool(encoder(**inputs).last_hidden_state.float(), batch["attention_mask"], pooling)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)  # each input counts alike, whatever its norm
            total = pooled.sum(0) if total is None else total + pooled.sum(0)
    mean = (total / len(split)).numpy().astype(np.float64)
    return mean / max(np.linalg.norm(mean), 1e-12)


@lru_cache(maxsize=2)
def _encoder(model: str) -> torch.nn.Module:
    return load_encoder(model).eval()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
