"""The task embeddings an atlas stores beside its gains, so that the ``atlas`` selector can weigh its primaries by
their likeness to a new primary without the atlas's data: a primary's from its capped training split, a
candidate's from its own."""

from __future__ import annotations

from typing import Any

from auxlearn.atlas.config import Atlas
from auxlearn.experiment import prepare
from auxlearn.select.task_embedding import embedding_settings, task_embedding

DECIMALS = 5  # enough for a cosine; keeps the shipped file small


def atlas_embeddings(atlas: Atlas) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Every primary's and candidate's embedding, and the settings they were computed with."""
    vectors: dict[str, list[float]] = {}
    settings: dict[str, Any] = {}
    for primary in atlas.config.primaries:
        tasks = [primary, *(c for c in atlas.candidates_of(primary) if c not in vectors and c not in
                            atlas.config.primaries)]
        exp = atlas.experiment(primary, tasks[1:], atlas.seed)
        prepared = prepare(exp)
        settings = embedding_settings(exp.model, exp.pooling)
        for task in tasks:
            vector = task_embedding(exp.model, exp.pooling, prepared.data[task].train, prepared.tokenizer.pad_token_id,
                                    examples=settings["examples"], seed=exp.data.split_seed)
            vectors[task] = [round(float(x), DECIMALS) for x in vector]
    return vectors, settings
