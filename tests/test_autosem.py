"""AutoSeM stage 1, the selector: its options, and what it keeps from the bandit it drives (stubbed training)."""

from types import SimpleNamespace

import pytest

from auxlearn.errors import AuxlearnError
from auxlearn.select import build_selector
from auxlearn.select.autosem import AutoSemSelector
from auxlearn.train.samplers.thompson import ThompsonBanditSampler


@pytest.mark.parametrize("options, message", [
    ({"threshold": "best"}, "select.threshold: threshold must be 'primary', a number in \\[0, 1\\]"),
    ({"threshold": 1.5}, "select.threshold: threshold must be"),
    ({"threshold": -0.1}, "select.threshold: threshold must be"),
    ({"threshold": True}, "select.threshold: threshold must be"),
    ({"threshold": None}, "select.threshold: threshold null \\(no threshold\\) needs a top_k"),
    ({"top_k": 0}, "select.top_k: Input should be greater than or equal to 1"),
    ({"threshold": None, "top_k": -1}, "select.top_k: Input should be greater"),
    ({"top_k": 1.5}, "select.top_k: Input should be a valid integer"),
    ({"min_plays": -1}, "select.min_plays: Input should be greater than or equal to 0"),
    ({"reward_dev_size": 0}, "select.reward_dev_size: Input should be greater than or equal to 1"),
    ({"rounds": 1}, "select.rounds: Input should be greater than or equal to 2"),
    ({"min_delta": 0.1}, "select.min_delta: min_delta only applies to reward '>'"),
    ({"reward": "best"}, "select.reward: Input should be '>=', '>' or 'gain'"),
])
def test_autosem_invalid_options_are_config_errors(options, message):
    with pytest.raises(AuxlearnError, match=message):
        build_selector("autosem", options)


def test_autosem_defaults_and_valid_options():
    options = AutoSemSelector().options
    assert (options.threshold, options.top_k, options.min_plays, options.reward_dev_size) == ("primary", None, 2, None)
    assert options.bandit().model_dump() == ThompsonBanditSampler.Options(decay=0.3, reward="gain").model_dump()
    for options in ({"threshold": 0.5}, {"threshold": 0}, {"threshold": 1}, {"threshold": None, "top_k": 2},
                    {"threshold": "primary", "top_k": 1}, {"min_plays": 0}):
        build_selector("autosem", options)


def autosem(**options) -> AutoSemSelector:
    return AutoSemSelector(AutoSemSelector.Options(**options))


def stub_stage(deltas, seed=0):
    """A stage whose ``train`` drives the bandit without a model: each round moves the primary's dev score by
    ``deltas[arm played]``. Records the sampler and the dev split seen while training."""
    data = {t: SimpleNamespace(train=[0] * 10, dev="whole dev split") for t in deltas}
    stage = SimpleNamespace(primary="primary", candidates=[t for t in deltas if t != "primary"],
                            prepared=SimpleNamespace(data=data),
                            exp=SimpleNamespace(seed=seed, data=SimpleNamespace(split_seed=0)), trained=[])

    def train_with(name, sampler, *, steps, eval_every, **options):
        stage.trained.append({"name": name, "sampler": sampler, "dev": data["primary"].dev})
        score = 0.0
        for step in range(steps):
            arm = sampler.next_task(step)
            if (step + 1) % eval_every == 0:
                score += deltas[arm]
                sampler.update(step, score)
        return {}

    stage.train_with = train_with
    return stage


@pytest.mark.parametrize("deltas, expected", [
    ({"primary": 0.0, "a": 0.01, "b": -0.01}, ["a"]),         # a raises the score, the primary alone does not
    ({"primary": 0.01, "a": 0.0, "b": -0.01}, []),            # nothing beats training the primary alone
    ({"primary": 0.01, "a": 0.01, "b": 0.01}, []),            # as good as the primary alone is not better
])
def test_autosem_keeps_only_candidates_that_beat_the_primary_arm(deltas, expected):
    stage = stub_stage(deltas)
    selection = autosem(rounds=12, round_steps=2).select(stage)
    assert selection.selected == expected
    (trained,) = stage.trained
    sampler = trained["sampler"]
    assert trained["dev"] == "whole dev split"  # reward_dev_size None: the whole dev split
    assert sampler.explore_rounds_per_arm == 2 and sampler.reward == "gain"
    forced = [h["arm"] for h in sampler.history if h["forced"]]
    assert len(forced) == 1 + 2 * 3 and all(forced.count(t) >= 2 for t in deltas)
    details = selection.details
    assert details["threshold"] == "primary" and details["explore_rounds_per_arm"] == 2
    utilities = {**selection.scores, "primary": details["primary_utility"]}
    assert selection.selected == [t for t in stage.candidates if utilities[t] > utilities["primary"]]


def test_autosem_needs_rounds_for_the_forced_exploration():
    with pytest.raises(AuxlearnError, match=r"rounds=6 .*min_plays=2 on 3 arms.*rounds >= 2 \* 3 \+ 1 = 7"):
        autosem(rounds=6, round_steps=2).select(stub_stage({"primary": 0.0, "a": 0.0, "b": 0.0}))
    stage = stub_stage({"primary": 0.0, "a": 0.0, "b": 0.0})
    autosem(rounds=7, round_steps=2).select(stage)  # just enough: no Thompson round, no error
    assert len(stage.trained[0]["sampler"].history) == 7
    autosem(rounds=2, round_steps=2, min_plays=0).select(stub_stage({"primary": 0.0, "a": 0.0}))
