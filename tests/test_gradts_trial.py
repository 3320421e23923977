"""GradTS-trial's rule alone: which prefixes of the tau-ranked candidates run, and which one is kept."""

from __future__ import annotations

import pytest

from auxlearn.select.gradts import gradts_trial


class PrefixScorer:
    """Scores trial ``k`` (``tasks = [primary, *first k candidates]``) by ``scores[k]``; records the calls."""

    def __init__(self, scores):
        self.scores, self.calls = scores, []

    def __call__(self, tasks):
        self.calls.append(list(tasks))
        return self.scores[len(tasks) - 1]


@pytest.mark.parametrize("scores, selected, stopped_at, ran", [
    ([0.7, 0.6, 0.9], [], 1, 2),                 # trial 1 falls below the primary alone: stop, select nothing
    ([0.7, 0.7, 0.7], [], None, 3),              # ties with the primary alone: nothing strictly beats it
    ([0.7, 0.7, 0.69], [], 2, 3),                # a tie continues, the fall after it stops
    ([0.5, 0.6, 0.6, 0.55], ["a"], 3, 4),        # a tie between prefixes keeps the first (smaller) one
    ([0.5, 0.6, 0.7], ["a", "b"], None, 3),      # every prefix improves: the longest wins
    ([0.5, 0.4], [], 1, 2),
    ([0.5, 0.6], ["a"], None, 2),
])
def test_gradts_trial_scores_the_primary_alone_first(scores, selected, stopped_at, ran):
    candidates = ["a", "b", "c"][: len(scores) - 1]
    scorer = PrefixScorer(scores)
    res = gradts_trial("p", candidates, scorer)
    assert scorer.calls == [["p", *candidates[:k]] for k in range(ran)]
    assert res.trials[0] == {"k": 0, "tasks": ["p"], "score": scores[0]}
    assert [t["k"] for t in res.trials] == list(range(ran))
    assert [t["score"] for t in res.trials] == scores[:ran]
    assert res.selected == selected and res.stopped_at == stopped_at


def test_gradts_trial_without_candidates_runs_nothing():
    scorer = PrefixScorer([0.5])
    res = gradts_trial("p", [], scorer)
    assert scorer.calls == [] and res.trials == [] and res.selected == [] and res.best_score is None


def test_gradts_trial_rejects_bad_scores_from_trial_0():
    with pytest.raises(ValueError, match="trial 0"):
        gradts_trial("p", ["a"], PrefixScorer([float("nan"), 0.5]))
    with pytest.raises(ValueError, match="trial 0"):
        gradts_trial("p", ["a"], lambda tasks: "high")
