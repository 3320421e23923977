"""`atlas`: predict the primary's pair gains from a transfer atlas (the built-in one for the encoder, or the user's
own ``atlas.json``), weighting the atlas's primaries by how alike their task embeddings are to the primary's
(TaskShop: Kim et al., EMNLP 2023). No training: seconds.

A candidate's predicted gain is the similarity-weighted mean of its measured gains on the atlas's other primaries
(over the control by default: the primary alone for as many steps as the pair, ``atlas/table.py``);
a candidate the atlas never measured borrows the gains of the atlas candidates whose embeddings are closest to its
own. The primary's own row, when the atlas has one, is always left out: its gains were measured on the split the
run reports. The answer is "none" when no predicted gain is above ``min_gain``.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
from pydantic import Field, StrictInt

from auxlearn.atlas.table import Reference, TransferTable, builtin_path, read_atlas
from auxlearn.errors import AuxlearnError
from auxlearn.plugins import MethodOptions
from auxlearn.report_kit.method import SelectionReport, listing
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import ranked
from auxlearn.stage_cost import StageCost
from auxlearn.select.task_embedding import DEFAULT_EXAMPLES, cosine, task_embedding


class _Report(SelectionReport):
    score_column = "predicted gain"
    score_meaning = "gain predicted from the atlas"

    def explain(self, run):
        details = run.selection_details
        weights = details.get("primary_weights", {})
        near = ", ".join(f"{p} ({w:.2f})" for p, w in sorted(weights.items(), key=lambda kv: -kv[1])[:3])
        kept = listing(run.selected, run.selection_scores, lambda v: f"{100 * v:+.1f} points")
        return (f"Gains predicted from the atlas {details.get('atlas', '?')}, its primaries weighted by task "
                f"similarity (closest: {near or 'none'}); kept: {kept or 'none: no predicted gain above '}"
                + ("" if kept else f"{details.get('min_gain', 0):g}") + ".")


class AtlasSelector(Selector):
    name = "atlas"
    report = _Report()
    trains = False

    class Options(MethodOptions):
        atlas: Optional[str] = Field(None, description="an atlas.json of `auxlearn atlas`; null: the built-in atlas "
                                                       "of the experiment's encoder")
        weighting: str = Field("similarity", pattern="^(similarity|uniform)$",
                               description="similarity: the atlas's primaries by task-embedding similarity "
                                           "(TaskShop); uniform: all alike (the 'helps most targets' prior)")
        temperature: float = Field(0.1, gt=0, allow_inf_nan=False,
                                   description="of the softmax over similarities: lower trusts the closest more")
        min_gain: float = Field(0.0, allow_inf_nan=False, description="keep candidates predicted above this gain")
        top_k: Optional[StrictInt] = Field(1, ge=1, description="keep at most this many, best first")
        reference: Reference = Field(
            "control", description="the gains predicted: over the primary alone for as many steps as the pair "
                                   "(control: does the candidate help beyond training longer, as run's final model "
                                   "is judged) or over the primary's own recipe (alone)")

    def cost(self, context):
        """The encoder over a few examples of the primary and each candidate: no training."""
        tasks = [context.primary, *context.candidates]
        return StageCost([context.forward("embeddings", dict.fromkeys(tasks, DEFAULT_EXAMPLES))])

    def _select(self, stage):
        started = time.perf_counter()
        options = self.options
        path = options.atlas or str(builtin_path(stage.exp.model))
        table = read_atlas(path, options.reference)
        if table.encoder != stage.exp.model:
            raise AuxlearnError(f"{path}: encoder: the atlas was measured with {table.encoder!r}, this experiment "
                                f"trains {stage.exp.model!r}: its gains say nothing about this encoder")
        table = table.without(stage.primary)
        if not table.pairs:
            raise AuxlearnError(f"{path}: rows: no measured pair besides the primary's own row")
        predicted, weights = predict_gains(table, stage, options.weighting, options.temperature)
        kept = [t for t in ranked(predicted) if predicted[t] > options.min_gain][: options.top_k]
        return Selection(self.name, kept, scores=predicted,
                         details={"atlas": str(path), "primary_weights": weights, "min_gain": options.min_gain,
                                  "left_out": stage.primary, "reference": options.reference},
                         seconds=time.perf_counter() - started)


def predict_gains(table: TransferTable, stage, weighting: str, temperature: float
                  ) -> tuple[dict[str, float], dict[str, float]]:
    """Each candidate's predicted gain, and the weight of each atlas primary."""
    vectors = _vectors(table, stage)
    centre = np.mean([vectors[t] for t in vectors if t in table.embeddings or t in table.pairs], axis=0)
    unit = {t: v - centre for t, v in vectors.items()}
    rows = table.primaries
    if weighting == "uniform":
        row_weights = np.full(len(rows), 1 / len(rows))
    else:
        row_weights = _softmax([cosine(unit[stage.primary], unit[p]) for p in rows], temperature)
    columns = table.candidates
    predicted = {}
    for candidate in stage.candidates:
        if candidate in columns:
            column_weights = {candidate: 1.0}
        else:  # a task the atlas never paired: the gains of the atlas candidates that read most like it
            known = [c for c in columns if c in unit]
            column_weights = dict(zip(known, _softmax([cosine(unit[candidate], unit[c]) for c in known],
                                                      temperature)))
        total = weight = 0.0
        for row_weight, primary in zip(row_weights, rows):
            for column, column_weight in column_weights.items():
                pair = table.pairs[primary].get(column)
                if pair is not None and column != primary:
                    total += row_weight * column_weight * pair.gain
                    weight += row_weight * column_weight
        predicted[candidate] = total / weight if weight else 0.0
    return predicted, {p: float(w) for p, w in zip(rows, row_weights)}


def _vectors(table: TransferTable, stage) -> dict[str, np.ndarray]:
    """The embeddings of the primary and the candidates (computed), and of the atlas's tasks (stored)."""
    settings = table.embedding_settings
    examples = int(settings.get("examples", DEFAULT_EXAMPLES))
    pooling = settings.get("pooling", stage.exp.pooling)
    pad_id = stage.prepared.tokenizer.pad_token_id
    computed = [stage.primary, *stage.candidates]
    missing = [t for t in [*table.primaries, *table.candidates] if t not in table.embeddings and t not in computed]
    if missing:
        raise AuxlearnError(f"{table.path}: embeddings.{missing[0]}: the atlas stores no embedding of task "
                            f"{missing[0]!r}, which the prediction needs (bench/atlas.py --ship writes them)")
    vectors = dict(table.embeddings)
    for task in computed:
        vectors[task] = task_embedding(stage.exp.model, pooling, stage.prepared.data[task].train, pad_id,
                                       examples=examples, seed=stage.exp.data.split_seed)
    return vectors


def _softmax(scores: list[float], temperature: float) -> np.ndarray:
    z = np.asarray(scores, dtype=float) / temperature
    z = np.exp(z - z.max())
    return z / z.sum()
