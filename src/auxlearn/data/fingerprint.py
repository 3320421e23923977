"""A hash of exactly the examples of an encoded split, so that a result computed from them (a finished arm, a
cached head importance) is reused only for the same examples: ids, tokens (so the max length) and labels."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from auxlearn.data.encode import EncodedSplit


def split_fingerprint(split: EncodedSplit) -> str:
    h = hashlib.sha256()
    h.update(np.asarray(split.example_ids, dtype=np.int64).tobytes())
    for row in [*split.input_ids, *(split.pair_input_ids or [])]:
        h.update(np.asarray(row, dtype=np.int32).tobytes())
        h.update(b"|")
    if split.token_type_ids is not None:
        for row in split.token_type_ids:
            h.update(np.asarray(row, dtype=np.int8).tobytes())
    h.update(json.dumps(list(split.labels)).encode())
    return h.hexdigest()
