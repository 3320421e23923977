"""`similarity`: the candidates whose inputs read most like the primary's, by the cosine of their task embeddings
(TextEmb: Vu et al., EMNLP 2020; SEmb: Poth et al., EMNLP 2021). No training: seconds for a pool.

Sentence embeddings of any English text share a common direction, so the cosines of raw mean embeddings sit close
together; ``centre`` subtracts the mean of the pool's task embeddings (the primary's included) first, so that the
score says what a candidate shares with the primary that the other tasks do not.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np
from pydantic import Field, StrictInt

from auxlearn.plugins import MethodOptions
from auxlearn.report_kit.method import SelectionReport, listing
from auxlearn.select.base import Selection, Selector
from auxlearn.select.rules import ranked
from auxlearn.stage_cost import StageCost
from auxlearn.select.task_embedding import DEFAULT_EXAMPLES, cosine, task_embedding


class _Report(SelectionReport):
    score_column = "cosine with the primary"
    score_meaning = "task-embedding cosine"

    def explain(self, run):
        details = run.selection_details
        return (f"Candidates ranked by the cosine of their task embedding with the primary's (the mean sentence "
                f"embedding of up to {details.get('examples', '?')} training inputs each, "
                f"{'centred on the pool' if details.get('centre') else 'raw'}); kept: "
                f"{listing(run.selected, run.selection_scores, lambda v: f'{v:+.3f}') or 'none'}.")


class SimilaritySelector(Selector):
    name = "similarity"
    report = _Report()
    trains = False

    class Options(MethodOptions):
        examples: StrictInt = Field(DEFAULT_EXAMPLES, ge=1, description="training inputs embedded per task")
        centre: bool = Field(True, description="subtract the mean of the pool's task embeddings before the cosine")
        top_k: Optional[StrictInt] = Field(1, ge=1, description="keep at most this many, most similar first; "
                                                                "null: every candidate above min_similarity")
        min_similarity: Optional[float] = Field(
            None, allow_inf_nan=False, description="keep only candidates with a cosine above this; null: no floor")

    def cost(self, context):
        """The encoder over a few examples of each task: no training."""
        tasks = [context.primary, *context.candidates]
        return StageCost([context.forward("embeddings", dict.fromkeys(tasks, self.options.examples))])

    def _select(self, stage):
        started = time.perf_counter()
        vectors = task_vectors(stage, [stage.primary, *stage.candidates], self.options.examples)
        if self.options.centre:
            mean = np.mean(list(vectors.values()), axis=0)
            vectors = {task: vector - mean for task, vector in vectors.items()}
        scores = {task: cosine(vectors[stage.primary], vectors[task]) for task in stage.candidates}
        floor = self.options.min_similarity
        kept = [t for t in ranked(scores) if floor is None or scores[t] > floor][: self.options.top_k]
        return Selection(self.name, kept, scores=scores,
                         details={"examples": self.options.examples, "centre": self.options.centre},
                         seconds=time.perf_counter() - started)


def task_vectors(stage, tasks: list[str], examples: int) -> dict[str, np.ndarray]:
    """Each task's embedding from its train split under the experiment's encoder and pooling."""
    pad_id = stage.prepared.tokenizer.pad_token_id
    return {task: task_embedding(stage.exp.model, stage.exp.pooling, stage.prepared.data[task].train, pad_id,
                                 examples=examples, seed=stage.exp.data.split_seed) for task in tasks}
