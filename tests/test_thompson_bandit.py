"""AutoSeM stage 1: the Thompson-sampling bandit sampler and the utility selection rule (the selector that
drives them: test_autosem.py)."""

import json

import numpy as np
import pytest

from auxlearn.select.rules import select_by_utility
from auxlearn.train.samplers.thompson import ThompsonBanditSampler

TASKS = ["primary", "a", "b"]


def bandit(tasks=TASKS, seed=0, **options):
    return ThompsonBanditSampler(tasks, dict.fromkeys(tasks, 100), total_steps=1000, seed=seed,
                                 options=ThompsonBanditSampler.Options(**options))


def play(sampler, arm, step, score):
    """Force the arm of the round that ends now, so the expected numbers do not depend on Thompson draws."""
    sampler.arm = sampler.tasks.index(arm)
    sampler.update(step, score)


def test_update_equations_match_a_hand_computed_example():
    # gamma = 0.3, prior (alpha0, beta0) = (2, 1): every arm starts at (2, 1); decay is x <- 0.7 x + 0.3 x0.
    s = bandit(decay=0.3, prior=(2.0, 1.0))
    play(s, "primary", 9, 0.50)  # baseline only: nothing changes
    # round 1, arm a, 0.60 >= 0.50 -> b = 1. Decay leaves (2, 1) arms at (2, 1); a: (2 + 1, 1) = (3, 1)
    play(s, "a", 19, 0.60)
    # round 2, arm b, 0.55 < 0.60 -> b = 0. a: (0.7*3 + 0.6, 0.7*1 + 0.3) = (2.7, 1); b: (2, 1 + 1) = (2, 2)
    play(s, "b", 29, 0.55)
    # round 3, arm a, 0.55 >= 0.55 -> b = 1 (">=" rewards the plateau).
    # a: (0.7*2.7 + 0.6 + 1, 1) = (1.89 + 0.6 + 1, 1) = (3.49, 1); b: (0.7*2 + 0.6, 0.7*2 + 0.3) = (2, 1.7)
    play(s, "a", 39, 0.55)
    assert s.alpha == pytest.approx([2.0, 3.49, 2.0])
    assert s.beta == pytest.approx([1.0, 1.0, 1.7])
    assert s.utilities() == pytest.approx({"primary": 2 / 3, "a": 3.49 / 4.49, "b": 2 / 3.7})
    d = s.describe()
    assert [h["reward"] for h in d["history"]] == [None, 1.0, 0.0, 1.0]
    assert [(h["round"], h["step"], h["arm"]) for h in d["history"]] == [
        (0, 9, "primary"), (1, 19, "a"), (2, 29, "b"), (3, 39, "a")]
    assert d["history"][2]["alpha"] == pytest.approx({"primary": 2.0, "a": 2.7, "b": 2.0})
    assert d["history"][2]["beta"] == pytest.approx({"primary": 1.0, "a": 1.0, "b": 2.0})
    assert d["plays"] == {"primary": 1, "a": 2, "b": 1}
    assert d["wins"] == {"primary": 0.0, "a": 2.0, "b": 0.0}
    assert (d["name"], d["decay"], d["reward"]) == ("thompson", 0.3, ">=")


@pytest.mark.parametrize("gamma", [0.3, 0.5])
def test_decay_pulls_arms_back_to_the_prior(gamma):
    s = bandit(decay=gamma)
    play(s, "a", 0, 0.0)
    for step in range(1, 6):  # a wins five times: far from Beta(1, 1)
        play(s, "a", step, float(step))
    assert s.alpha[1] > 2.5
    for step in range(6, 80):  # then b always loses, a is never played again
        play(s, "b", step, -float(step))
    # a and the never-played primary sit at the prior; b at the fixed point of beta <- (1-g) beta + g + 1
    assert s.alpha == pytest.approx([1.0, 1.0, 1.0], abs=1e-9)
    assert s.beta == pytest.approx([1.0, 1.0, 1 + 1 / gamma], abs=1e-9)


def test_first_evaluation_only_sets_the_baseline():
    s = bandit(seed=3)
    assert s.next_task(0) == "primary"
    s.update(9, 0.9)
    assert s.alpha.tolist() == [1.0, 1.0, 1.0] and s.beta.tolist() == [1.0, 1.0, 1.0]
    assert s.history[0]["reward"] is None and s.wins.tolist() == [0.0, 0.0, 0.0]
    played = s.next_task(10)
    s.update(19, 0.8)  # compared with the baseline 0.9: a loss for the arm just played
    assert s.history[1]["reward"] == 0.0 and s.beta[TASKS.index(played)] == 2.0


def test_the_arm_is_fixed_within_a_round_and_drawn_only_in_update():
    s = bandit(seed=1)
    s.update(0, 0.5)
    rng_state = s.rng.bit_generator.state
    arm = s.next_task(1)
    assert all(s.next_task(step) == arm for step in range(1, 50))
    assert s.probabilities(7) == {t: float(t == arm) for t in TASKS}
    assert s.rng.bit_generator.state == rng_state  # next_task and probabilities draw nothing


def test_strict_reward_with_min_delta_does_not_reward_plateaus():
    scores = [0.50, 0.50, 0.51, 0.54]
    rewards = {}
    for name, options in {">=": {}, ">": {"reward": ">"}, "> 0.02": {"reward": ">", "min_delta": 0.02}}.items():
        s = bandit(**options)
        for step, score in enumerate(scores):
            s.update(step, score)
        rewards[name] = [h["reward"] for h in s.history[1:]]
    assert rewards == {">=": [1.0, 1.0, 1.0], ">": [0.0, 1.0, 1.0], "> 0.02": [0.0, 0.0, 1.0]}


def test_gain_reward_scales_changes_into_the_unit_interval():
    s = bandit(reward="gain", decay=0.3)
    for step, score in enumerate([0.50, 0.60, 0.55, 0.55, 0.90]):
        s.update(step, score)
    # scale s <- max(|gain|, 0.7 s); b = 1/2 + gain / (2 s)
    # +0.10: s = 0.10, b = 1 | -0.05: s = max(0.05, 0.07) = 0.07, b = 0.5 - 0.05/0.14 | 0: b = 0.5 | +0.35: b = 1
    assert [h["reward"] for h in s.history[1:]] == pytest.approx([1.0, 0.5 - 0.05 / 0.14, 0.5, 1.0])


@pytest.mark.parametrize("options, message", [
    ({"decay": 1.5}, "decay"), ({"reward": "z-score"}, "reward\n  Input should be '>=', '>' or 'gain'"),
    ({"reward": ">", "min_delta": -0.1}, "min_delta"), ({"min_delta": 0.01}, "min_delta only applies"),
    ({"prior": (1.0, 0.0)}, "prior"), ({"prior": (1.0,)}, "prior"),
])
def test_invalid_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        bandit(**options)


def test_non_finite_scores_are_rejected():
    s = bandit()
    with pytest.raises(ValueError, match="finite"):
        s.update(0, float("nan"))


def test_state_dict_round_trip_continues_identically():
    scores = np.random.default_rng(0).random(30)
    original = bandit(seed=7, reward="gain")
    for step, score in enumerate(scores[:12]):
        original.update(step, score)
    restored = bandit(seed=123, reward="gain")
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    assert restored.describe() == original.describe()
    for step, score in enumerate(scores[12:], start=12):
        assert restored.next_task(step) == original.next_task(step)
        original.update(step, score)
        restored.update(step, score)
    assert restored.describe() == original.describe()
    assert restored.rng.bit_generator.state == original.rng.bit_generator.state


def test_state_of_other_tasks_is_refused():
    with pytest.raises(ValueError, match="tasks"):
        bandit(tasks=["primary", "x"]).load_state_dict(bandit().state_dict())


@pytest.mark.parametrize("seed", range(5))
def test_thompson_sampling_plays_the_best_arm_most(seed):
    # Each round moves a random-walk score up with the played arm's probability, so the ">=" reward of arm k is
    # Bernoulli(p_k). Arm b is the best.
    success = {"primary": 0.5, "a": 0.3, "b": 0.8, "c": 0.4}
    s = bandit(tasks=list(success), seed=seed)
    env = np.random.default_rng(100 + seed)
    score = 0.0
    s.update(0, score)
    for step in range(1, 150):
        score += 1.0 if env.random() < success[s.next_task(step)] else -1.0
        s.update(step, score)
    plays = s.describe()["plays"]
    assert max(plays, key=plays.get) == "b"
    assert plays["b"] > 1.3 * max(n for task, n in plays.items() if task != "b")


UTILITIES = {"primary": 0.1, "mnli": 0.8, "qqp": 0.55, "sst2": 0.55, "cola": 0.5, "rte": 0.2}


@pytest.mark.parametrize("threshold, top_k, expected", [
    (0.5, None, ["primary", "mnli", "qqp", "sst2", "cola"]),  # >= keeps 0.5; ties by name
    (0.6, None, ["primary", "mnli"]),
    (0.5, 2, ["primary", "mnli", "qqp"]),
    (None, 3, ["primary", "mnli", "qqp", "sst2"]),
    (0.9, None, ["primary"]),
    (0.0, 0, ["primary"]),
])
def test_selection_rule(threshold, top_k, expected):
    assert select_by_utility(UTILITIES, "primary", threshold=threshold, top_k=top_k) == expected


def test_selection_order_does_not_depend_on_dict_order():
    shuffled = dict(reversed(list(UTILITIES.items())))
    assert select_by_utility(shuffled, "primary") == select_by_utility(UTILITIES, "primary")


def test_selection_rule_needs_a_criterion():
    with pytest.raises(ValueError, match="threshold"):
        select_by_utility(UTILITIES, "primary", threshold=None)
    with pytest.raises(ValueError, match="top_k"):
        select_by_utility(UTILITIES, "primary", top_k=-1)


# ------------------------------------------------------------------------------------ forced exploration


def test_forced_exploration_plays_every_arm_before_any_draw():
    s = bandit(seed=4, reward="gain", explore_rounds_per_arm=2)
    assert s.exploration_rounds == 1 + 2 * len(TASKS)
    scores = np.random.default_rng(0).random(20)
    rng_states = []
    for step, score in enumerate(scores):
        rng_states.append(s.rng.bit_generator.state)
        s.next_task(step)
        s.update(step, score)
    history = s.describe()["history"]
    first_drawn = next(h["round"] for h in history if not h["forced"])
    assert first_drawn == s.exploration_rounds
    assert all(h["forced"] for h in history[:first_drawn])
    # after the baseline round (the primary), round-robin in task order, twice
    assert [h["arm"] for h in history[:first_drawn]] == ["primary", *TASKS, *TASKS]
    rewarded = [h["arm"] for h in history[:first_drawn] if h["reward"] is not None]
    assert all(rewarded.count(task) >= 2 for task in TASKS)
    # forced rounds draw nothing from the generator; the posteriors move as usual
    assert all(state == rng_states[0] for state in rng_states[:first_drawn])
    assert s.rng.bit_generator.state != rng_states[0]
    assert any(h["alpha"] != history[0]["alpha"] for h in history[1:first_drawn])


def test_without_forced_exploration_the_second_round_is_drawn():
    s = bandit(seed=4)
    assert s.exploration_rounds == 1
    s.update(0, 0.5)
    s.update(1, 0.6)
    assert [h["forced"] for h in s.history] == [True, False]


def test_forced_exploration_is_described_and_restored():
    original = bandit(seed=2, explore_rounds_per_arm=3)
    for step, score in enumerate([0.1, 0.3, 0.2, 0.4]):  # stop in the middle of the exploration
        original.update(step, score)
    assert original.describe()["explore_rounds_per_arm"] == 3
    state = json.loads(json.dumps(original.state_dict()))
    assert state["explore_rounds_per_arm"] == 3
    restored = bandit(seed=99, explore_rounds_per_arm=3)
    restored.load_state_dict(state)
    for step in range(4, 20):
        assert restored.next_task(step) == original.next_task(step)
        original.update(step, step % 3 / 3)
        restored.update(step, step % 3 / 3)
    assert restored.describe() == original.describe()
    with pytest.raises(ValueError, match="explore_rounds_per_arm"):
        bandit(explore_rounds_per_arm=1).load_state_dict(state)


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_invalid_explore_rounds_are_named(value):
    with pytest.raises(ValueError, match="explore_rounds_per_arm\n  Input should be"):
        bandit(explore_rounds_per_arm=value)


# --------------------------------------------------------------------- threshold "primary" (None is an answer)


@pytest.mark.parametrize("utilities", [
    {"primary": 0.6, "a": 0.6, "b": 0.4},         # a tie with the primary is not enough
    {"primary": 0.3, "a": 0.2, "b": 0.1},         # every candidate below a weak primary
    {"primary": 0.5},                             # no candidates at all
])
def test_primary_threshold_keeps_only_the_primary_when_nothing_beats_it(utilities):
    assert select_by_utility(utilities, "primary", threshold="primary") == ["primary"]
    assert select_by_utility(utilities, "primary") == ["primary"]  # the default rule


def test_primary_threshold_keeps_the_candidates_strictly_above_the_primary():
    utilities = {"primary": 0.5, "a": 0.7, "b": 0.5, "c": 0.55, "d": 0.2, "e": 0.55}
    assert select_by_utility(utilities, "primary", threshold="primary") == ["primary", "a", "c", "e"]
    assert select_by_utility(utilities, "primary", threshold="primary", top_k=2) == ["primary", "a", "c"]
    # the rule follows the primary's own utility, not a fixed number
    assert select_by_utility({**utilities, "primary": 0.6}, "primary") == ["primary", "a"]
    assert select_by_utility({**utilities, "primary": 0.1}, "primary") == ["primary", "a", "c", "e", "b", "d"]


def test_primary_threshold_needs_the_primary_utility_and_known_words():
    with pytest.raises(ValueError, match="primary's own utility"):
        select_by_utility({"a": 0.9}, "primary", threshold="primary")
    with pytest.raises(ValueError, match="threshold must be 'primary', a number or None"):
        select_by_utility(UTILITIES, "primary", threshold="best")
