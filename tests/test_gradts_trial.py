"""GradTS-trial's rule alone: which prefixes of the tau-ranked candidates run, and which one is kept."""

from __future__ import annotations

import math

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


def test_trial_stops_on_a_decrease_and_keeps_the_best_prefix():
    scorer = PrefixScorer([0.40, 0.50, 0.60, 0.55, 0.99])
    res = gradts_trial("rte", ["mnli", "qqp", "mrpc", "cola"], scorer)
    assert scorer.calls == [["rte"], ["rte", "mnli"], ["rte", "mnli", "qqp"], ["rte", "mnli", "qqp", "mrpc"]]
    assert res.stopped_at == 3
    assert res.selected == ["mnli", "qqp"]
    assert [t["k"] for t in res.trials] == [0, 1, 2, 3]
    assert [t["score"] for t in res.trials] == [0.40, 0.50, 0.60, 0.55]
    assert res.trials[3]["tasks"] == ["rte", "mnli", "qqp", "mrpc"]
    assert res.best_score == 0.60


def test_trial_runs_every_prefix_while_scores_do_not_fall():
    scorer = PrefixScorer([0.4, 0.5, 0.6, 0.6, 0.7])
    res = gradts_trial("p", ["a", "b", "c", "d"], scorer)
    assert len(scorer.calls) == 5 and res.stopped_at is None
    assert res.selected == ["a", "b", "c", "d"]


def test_trial_ties_keep_the_smaller_prefix_and_compare_best_with_best():
    # trial 2 equals trial 1 (no stop, tie keeps k=1); trial 3 is below trial 2 -> stop
    res = gradts_trial("p", ["a", "b", "c", "d"], PrefixScorer([0.6, 0.7, 0.7, 0.69, 0.9]))
    assert res.selected == ["a"] and res.stopped_at == 3
    scorer = PrefixScorer([0.5, 0.8, 0.6, 0.9])  # a fall right after the first prefix stops there
    res = gradts_trial("p", ["a", "b", "c"], scorer)
    assert res.stopped_at == 2 and res.selected == ["a"] and len(scorer.calls) == 3
    res = gradts_trial("p", ["a", "b", "c", "d"], PrefixScorer([0.5, 0.8, 0.8, 0.85, 0.85]))
    assert res.stopped_at is None and res.selected == ["a", "b", "c"]


def test_primary_alone_is_trial_zero_and_edge_cases():
    scorer = PrefixScorer([0.0, 0.01])
    res = gradts_trial("p", ["a"], scorer)
    assert scorer.calls == [["p"], ["p", "a"]] and res.selected == ["a"] and res.stopped_at is None
    res = gradts_trial("p", ["a"], PrefixScorer([0.01, 0.01]))  # as good as the primary alone is not better
    assert res.selected == []
    res = gradts_trial("p", [], PrefixScorer([]))
    assert res.trials == [] and res.selected == []
    with pytest.raises(ValueError, match="own candidates"):
        gradts_trial("p", ["a", "p"], PrefixScorer([0.1, 0.2]))
    with pytest.raises(ValueError, match="non-finite"):
        gradts_trial("p", ["a"], PrefixScorer([0.1, math.nan]))
