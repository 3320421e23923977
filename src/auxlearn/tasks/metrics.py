"""Task metrics, each computed by the maintained library that defines it (scikit-learn, scipy, seqeval).

Every metric takes ``(predictions, references)``: integer class ids for classification, floats for
regression, lists of tag strings per sentence for tagging. Names are what task specs and results use.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from scipy import stats
from seqeval.metrics import f1_score as seqeval_f1
from sklearn import metrics as sk

from auxlearn.errors import AuxlearnError


def _flat(sequences: Sequence[Sequence[str]]) -> list[str]:
    return [tag for sentence in sequences for tag in sentence]


def _correlation(fn: Callable) -> Callable:
    """Pearson / Spearman are undefined for constant predictions; report 0 (no linear signal) instead of NaN."""

    def metric(predictions, references) -> float:
        predictions, references = np.asarray(predictions, float), np.asarray(references, float)
        if np.ptp(predictions) == 0 or np.ptp(references) == 0:
            return 0.0
        return float(fn(predictions, references)[0])

    return metric


METRICS: dict[str, Callable[..., float]] = {
    "accuracy": lambda p, r: float(sk.accuracy_score(r, p)),
    "f1": lambda p, r: float(sk.f1_score(r, p, zero_division=0)),
    "macro_f1": lambda p, r: float(sk.f1_score(r, p, average="macro", zero_division=0)),
    "matthews": lambda p, r: float(sk.matthews_corrcoef(r, p)),
    "pearson": _correlation(stats.pearsonr),
    "spearman": _correlation(stats.spearmanr),
    "mse": lambda p, r: float(sk.mean_squared_error(r, p)),
    "entity_f1": lambda p, r: float(seqeval_f1(r, p, zero_division=0)),
    "token_accuracy": lambda p, r: float(sk.accuracy_score(_flat(r), _flat(p))),
}

# Whether a larger value is better; used when a task's main metric is inferred.
LOWER_IS_BETTER = frozenset({"mse"})


def check_metric(name: str, where: str) -> None:
    if name not in METRICS:
        raise AuxlearnError(f"{where}: unknown metric {name!r}; known metrics: {', '.join(sorted(METRICS))}")


def compute_metrics(names: Sequence[str], main: Sequence[str], predictions, references) -> dict[str, float]:
    """All named metrics plus ``main``: the mean of the main metrics, as GLUE reports MRPC, QQP and STS-B."""
    scores = {name: METRICS[name](predictions, references) for name in names}
    scores["main"] = float(np.mean([scores[name] for name in main]))
    return scores
