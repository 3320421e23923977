"""Turn raw rows into model inputs: label ids checked against the label set, then tokens, cached on disk.

A sentence pair is encoded ``cross`` (one sequence, ``[CLS] a [SEP] b [SEP]``, as BERT is fine-tuned) or
``siamese`` (each text on its own, as sentence-transformers models are trained; the model then compares the
two pooled vectors).

Encoding happens once per (task spec, tokenizer, max_length, source data); the result is saved with
`datasets.save_to_disk` under a key that hashes all of those, so a later run reuses it and any change
to an input produces a new key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import datasets
import numpy as np

from auxlearn.errors import AuxlearnError
from auxlearn.io import atomic_directory
from auxlearn.config_types import PairEncoding
from auxlearn.data.token_rows import TokenRows
from auxlearn.tasks.spec import TaskSpec
from auxlearn.tasks.types import IGNORE_INDEX, TaskType

ENCODING_VERSION = 1
log = logging.getLogger(__name__)


@dataclass
class EncodedSplit:
    """One split in memory: token ids per example, labels, and the stable example ids.

    Siamese pairs keep the second text's tokens in ``pair_input_ids``; ``input_ids`` then hold the first text.
    The labels are in the form ``task_type`` encodes them, and it is what stacks them into batches."""

    input_ids: TokenRows
    token_type_ids: Optional[TokenRows]
    labels: list[Any]  # int (classification), float (regression), list[int] (tagging, -100 off first sub-words)
    example_ids: np.ndarray
    task_type: TaskType
    labelled: bool = True
    pair_input_ids: Optional[TokenRows] = None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per example (both texts of a siamese pair), for length grouping and token counts."""
        lengths = self.input_ids.lengths
        if self.pair_input_ids is not None:
            lengths = lengths + self.pair_input_ids.lengths
        return lengths

    def select(self, indices: Sequence[int]) -> "EncodedSplit":
        indices = list(indices)
        return EncodedSplit(
            input_ids=self.input_ids.take(indices),
            token_type_ids=None if self.token_type_ids is None else self.token_type_ids.take(indices),
            labels=[self.labels[i] for i in indices],
            example_ids=self.example_ids[indices],
            task_type=self.task_type,
            labelled=self.labelled,
            pair_input_ids=None if self.pair_input_ids is None else self.pair_input_ids.take(indices),
        )


def _digest(data: bytes, length: int = 16) -> str:
    return hashlib.sha256(data).hexdigest()[:length]


def default_cache_dir() -> Path:
    return Path(os.environ.get("AUXLEARN_CACHE", Path.home() / ".cache" / "auxlearn"))


def cache_key(material: str) -> str:
    """The name part of a cache entry: a digest of everything that sets its content."""
    return _digest(material.encode(), 24)


def cache_path(kind: str, name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Where a cache entry of ``kind`` (encoded splits, timings, warmed heads, ...) lives: ``cache_dir`` (the
    config's ``data.cache_dir``) or the default cache, one folder per kind."""
    return (Path(cache_dir) if cache_dir else default_cache_dir()) / kind / name


def tokenizer_fingerprint(tokenizer) -> str:
    """Identify a tokenizer by its full serialised state, not by its name (two folders may differ)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        # Every call with truncation=/max_length= rewrites these two fields of the backend's state; they
        # do not change what encode_split produces (it passes both explicitly), so they are not part of the key.
        state = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
        payload = json.dumps(state, sort_keys=True)
    else:
        payload = json.dumps(sorted(tokenizer.get_vocab().items()))
    return _digest(f"{type(tokenizer).__name__}:{payload}".encode())


def encode_split(
    spec: TaskSpec,
    rows: datasets.Dataset,
    tokenizer,
    max_length: int,
    *,
    source: str,
    labelled: bool,
    cache_dir: Optional[Path] = None,
    tokenizer_key: Optional[str] = None,
    indices: Optional[np.ndarray] = None,
    pair_encoding: PairEncoding = "cross",
    cache: bool = True,
) -> EncodedSplit:
    """Encode ``rows`` (cached unless ``cache`` is False: inputs read once, as predict's), or only the rows at
    ``indices`` so that a subsample costs only its own size.

    Example ids are row indices of ``rows``, whichever subset is encoded, so ids and the row numbers in
    messages refer to the user's file. ``labelled=False`` (test splits) keeps no labels.
    """
    row_ids = np.arange(len(rows)) if indices is None else np.asarray(indices, dtype=np.int64)
    siamese = spec.siamese(pair_encoding)
    # The source's fingerprint plus the rows taken from it: `select` alone may get a random fingerprint.
    data_key = f"{rows._fingerprint}:{_digest(row_ids.tobytes())}"
    if indices is not None:
        rows = rows.select(row_ids)
    key_material = json.dumps(
        {
            "version": ENCODING_VERSION,
            "spec": spec.model_dump(include={"type", "text_fields", "label_field", "label_names"}),
            "tokenizer": tokenizer_key or tokenizer_fingerprint(tokenizer),
            "max_length": max_length,
            "data": data_key,
            "labelled": labelled,
            "siamese": siamese,
        },
        sort_keys=True,
    )
    folder = cache_path("encoded", f"{spec.name}-{cache_key(key_material)}", cache_dir)
    table = _cached(folder) if cache else None
    if table is None:
        table = datasets.Dataset.from_dict(_encode(spec, rows, row_ids.tolist(), tokenizer, max_length, source,
                                                   labelled, siamese))
        if cache:
            with atomic_directory(folder) as tmp:
                table.save_to_disk(str(tmp))
    columns, arrow = table.column_names, table.with_format("arrow")[:]  # a pyarrow table of the rows, in order
    return EncodedSplit(
        input_ids=TokenRows.from_arrow(arrow.column("input_ids")),
        token_type_ids=TokenRows.from_arrow(arrow.column("token_type_ids")) if "token_type_ids" in columns else None,
        labels=arrow.column("labels").to_pylist() if "labels" in columns else [IGNORE_INDEX] * len(table),
        example_ids=np.asarray(table["example_id"], dtype=np.int64),
        task_type=spec.task_type,
        labelled=labelled,
        pair_input_ids=TokenRows.from_arrow(arrow.column("pair_input_ids")) if siamese else None,
    )


def _cached(folder: Path) -> Optional[datasets.Dataset]:
    """A cached encoding, or None when there is none or it is damaged (then it is encoded again and replaced)."""
    if not folder.is_dir():
        return None
    try:
        return datasets.load_from_disk(str(folder))
    except Exception as error:  # pyarrow and datasets raise many types for a damaged folder
        log.warning("auxlearn: the cached encoding %s is unreadable (%s); encoding again", folder, error)
        return None


def _encode(spec, rows, row_ids, tokenizer, max_length, source, labelled, siamese) -> dict[str, list]:
    for column in [*spec.text_fields, *([spec.label_field] if labelled else [])]:
        _check_column(spec, rows, column, source)
    if len(rows) == 0:
        raise AuxlearnError(f"task {spec.name!r}, {source}: the split is empty")
    texts = [list(rows[field]) for field in spec.text_fields]  # datasets >= 4 returns a lazy Column
    task_type = spec.task_type
    values = _label_values(rows, spec.label_field) if labelled else None
    _check_rows(spec, texts, values, row_ids, source)
    encoded = task_type.tokenize(texts, tokenizer, max_length, siamese)
    out: dict[str, list] = {"example_id": row_ids}
    out.update({k: encoded[k] for k in ("input_ids", "token_type_ids", "pair_input_ids") if k in encoded})
    if labelled:
        labels = task_type.encode_labels(spec, values, row_ids, source, encoded)
    else:
        labels = task_type.placeholder_labels(texts, encoded)
    if labels is not None:
        out["labels"] = labels
    return out


def _label_values(rows: datasets.Dataset, field: str) -> list:
    """Label values as names when the column is a ClassLabel (hub datasets), JSON's ``true`` / ``false`` as the
    names "true" / "false" (as the file spells them; a bool is no class id), else as stored."""
    feature = rows.features[field]
    values = rows[field]
    if isinstance(feature, datasets.ClassLabel):
        return [feature.int2str(v) if v is not None and v >= 0 else v for v in values]
    if isinstance(feature, datasets.Value) and feature.dtype == "bool":
        return [v if v is None else ("true" if v else "false") for v in values]
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        return [[inner.int2str(v) for v in row] for row in values]
    return values


def _check_column(spec: TaskSpec, rows: datasets.Dataset, column: str, source: str) -> None:
    if column in rows.column_names:
        return
    hint = ""
    if len(rows.column_names) == 1 and any(sep in rows.column_names[0] for sep in ",\t;"):
        hint = "; the file was read as one column: is it separated as its extension (.csv, .tsv) says?"
    raise AuxlearnError(f"task {spec.name!r}, {source}: column {column!r} not found "
                        f"(columns: {', '.join(map(repr, rows.column_names))}){hint}")


def _check_rows(spec: TaskSpec, texts: list[list], values: Optional[Sequence], row_ids: Sequence[int],
                source: str) -> None:
    """The task type's check of each row (``check_rows``), then, for labelled rows, that each label is given: a
    missing, empty or whitespace-only label is an error naming its row, unless the task's ``label_names`` list that
    very value (a class that really is the empty string); else it would silently become a class."""
    spec.task_type.check_rows(spec, texts, values, row_ids, source)
    if values is None or not spec.task_type.uses_label_names:
        return  # unlabelled, or a number: regression's own check says "not a finite number"
    declared = set(spec.label_names or ())
    for row_id, value in zip(row_ids, values):
        for label in spec.task_type.flat_labels([value]):
            if label is None or (isinstance(label, str) and not label.strip() and label not in declared):
                what = "missing (None)" if label is None else "empty" if not label else f"blank ({label!r})"
                raise AuxlearnError(
                    f"task {spec.name!r}, {source}, row {row_id + 1}: the label in {spec.label_field!r} is {what}; "
                    "every labelled row needs one (a task whose class really is the empty string lists '' in "
                    "label_names)")


def infer_label_names(spec: TaskSpec, rows: datasets.Dataset, source: str) -> list[str]:
    """Label names from train, sorted, for user tasks that leave them out."""
    for column in (*spec.text_fields, spec.label_field):
        _check_column(spec, rows, column, source)
    values = _label_values(rows, spec.label_field)
    _check_rows(spec, [list(rows[f]) for f in spec.text_fields], values, range(len(rows)), source)
    flat = spec.task_type.flat_labels(values)
    kinds = {}  # the first row of each kind of label: names and ids cannot be mixed
    for row, value in enumerate(flat):
        if value is not None:
            kinds.setdefault(isinstance(value, str), row)
    if len(kinds) > 1:
        raise AuxlearnError(f"task {spec.name!r}, {source}: the labels in {spec.label_field!r} mix types: a name "
                            f"(row {kinds[True] + 1}: {flat[kinds[True]]!r}) and an id (row {kinds[False] + 1}: "
                            f"{flat[kinds[False]]!r}); use names throughout, or ids 0..n-1 with label_names")
    unique = sorted({v for v in flat if v is not None})
    if unique and all(isinstance(v, (int, np.integer)) for v in unique):
        if unique != list(range(len(unique))):
            raise AuxlearnError(
                f"task {spec.name!r}: integer labels {unique[:10]} are not ids 0..n-1; give label_names"
            )
        return [str(v) for v in unique]
    return [str(v) for v in unique]
