"""A task's three splits: train, dev (carved from train, seeded) and eval (the official validation split).

Dev chooses (early stopping, bandit rewards, Bayesian optimisation); eval is only ever reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from auxlearn.data.encode import EncodedSplit, encode_split, infer_label_names, tokenizer_fingerprint
from auxlearn.data.loading import describe_source, load_split
from auxlearn.errors import AuxlearnError, MissingSplitError
from auxlearn.config_types import PairEncoding
from auxlearn.tasks.spec import TaskSpec


@dataclass
class TaskData:
    spec: TaskSpec
    train: EncodedSplit
    dev: EncodedSplit
    eval: Optional[EncodedSplit]
    max_length: int
    eval_missing: Optional[str] = None  # why there is no eval split

    def split(self, name: str) -> EncodedSplit:
        if name == "eval" and self.eval is None:
            raise AuxlearnError(self.eval_missing or f"task {self.spec.name!r} has no eval split")
        if name not in ("train", "dev", "eval"):
            raise AuxlearnError(f"unknown split {name!r}; expected train, dev or eval")
        return getattr(self, name)


def dev_count(train_size: int, dev_size: Optional[float]) -> int:
    """Default min(10 %, 1000); an int is a count, a float in (0, 1) a fraction of train."""
    if dev_size is None:
        return min(math.ceil(0.1 * train_size), 1000)
    count = math.ceil(dev_size * train_size) if isinstance(dev_size, float) and dev_size < 1 else int(dev_size)
    if not 0 < count < train_size:
        raise AuxlearnError(f"dev_size {dev_size} leaves no train or no dev examples (train has {train_size})")
    return count


def build_task_data(
    spec: TaskSpec,
    tokenizer,
    *,
    data_dir: Optional[str],
    max_length: int,
    dev_size: Optional[float] = None,
    max_train_examples: Optional[int] = None,
    split_seed: int = 0,
    cache_dir: Optional[Path] = None,
    need_eval: bool = False,
    pair_encoding: PairEncoding = "cross",
) -> TaskData:
    """Load, label-check and encode a task; carve dev from train with ``split_seed``; subsample train."""
    tokenizer_key = tokenizer_fingerprint(tokenizer)
    train_rows = load_split(spec, "train", data_dir)
    source = describe_source(spec, data_dir)
    if spec.task_type.uses_label_names and spec.label_names is None:
        names = infer_label_names(spec, train_rows, f"train split of {source}")
        spec = spec.model_copy(update={"label_names": names})
        try:  # what depends on the labels (a binary metric) is checked now, before any training
            spec.task_type.validate(spec)
        except ValueError as error:
            raise AuxlearnError(f"task {spec.name!r} (labels inferred from its train split): {error}") from None

    def encode(rows, split, indices=None):
        return encode_split(spec, rows, tokenizer, max_length, source=f"{split} split of {source}",
                            labelled=spec.task_type.labelled, cache_dir=cache_dir, tokenizer_key=tokenizer_key,
                            indices=indices,
                            pair_encoding=pair_encoding)

    eval_rows, eval_missing = None, None
    try:  # before encoding train, so a missing eval split fails fast
        eval_rows = load_split(spec, "eval", data_dir)
    except MissingSplitError as error:
        if need_eval:
            raise
        eval_missing = str(error)
    # Carve and subsample on raw rows, then encode only the kept ones: a 4k sample of a 400k set costs 4k.
    order = np.random.default_rng(split_seed).permutation(len(train_rows))
    if len(train_rows) == 1:  # dev would take the only row and leave train empty
        where = spec.source.files["train"] if spec.source.files else source
        raise AuxlearnError(f"task {spec.name!r}: the train split ({where}) has 1 row; dev is carved from train "
                            "(data.dev_size), so it needs at least 2 rows, one to train on and one to choose by")
    try:
        n_dev = dev_count(len(train_rows), dev_size)
    except AuxlearnError as error:
        raise AuxlearnError(f"task {spec.name!r}: data.{error}") from None
    dev_indices, train_indices = np.sort(order[:n_dev]), order[n_dev:]
    if max_train_examples is not None and max_train_examples < len(train_indices):
        train_indices = train_indices[:max_train_examples]
    train = encode(train_rows, "train", np.sort(train_indices))
    dev = encode(train_rows, "train", dev_indices)
    eval_split = None if eval_rows is None else encode(eval_rows, "eval")
    return TaskData(spec, train, dev, eval_split, max_length, eval_missing)
