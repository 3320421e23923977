"""Task samplers: empirical frequencies match their probabilities, round-robin order, state, bad options."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest

from auxlearn.errors import AuxlearnError
from auxlearn.train.samplers import build_sampler

TASKS = ["a", "b", "c"]
SIZES = {"a": 4000, "b": 900, "c": 100}
TOTAL_STEPS = 1000
DRAWS = 20_000


def make(name, options=None, *, seed=0, tasks=TASKS, sizes=SIZES, total_steps=TOTAL_STEPS):
    return build_sampler(name, options or {}, tasks, sizes, total_steps=total_steps, seed=seed)


def normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


# Each case: sampler, options, the step drawn at, and the probabilities its definition gives.
CASES = {
    "uniform": ("uniform", {}, 0, {t: 1 / 3 for t in TASKS}),
    "proportional": ("proportional", {}, 0, normalised(SIZES)),
    "temperature": ("temperature", {"temperature": 3.0}, 0, normalised({t: n ** (1 / 3) for t, n in SIZES.items()})),
    "temperature_cap": ("temperature", {"temperature": 2.0, "cap": 500}, 0,
                        normalised({t: min(n, 500) ** 0.5 for t, n in SIZES.items()})),
    "fixed": ("fixed", {"ratios": {"a": 1, "b": 3, "c": 6}}, 0, {"a": 0.1, "b": 0.3, "c": 0.6}),
    "annealed_start": ("annealed", {}, 0, normalised(SIZES)),
    "annealed_end": ("annealed", {}, TOTAL_STEPS - 1, {t: 1 / 3 for t in TASKS}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_probabilities_follow_the_definition(case):
    name, options, step, expected = CASES[case]
    probabilities = make(name, options).probabilities(step)
    assert set(probabilities) == set(TASKS)
    for task in TASKS:
        assert probabilities[task] == pytest.approx(expected[task], rel=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_empirical_frequencies_match_probabilities(case):
    name, options, step, _ = CASES[case]
    sampler = make(name, options, seed=7)
    probabilities = sampler.probabilities(step)
    counts = Counter(sampler.next_task(step) for _ in range(DRAWS))
    assert set(counts) <= set(TASKS)
    for task in TASKS:
        p = probabilities[task]
        # 5 binomial standard deviations: a correct sampler fails this about once in 10^6 runs.
        tolerance = 5 * math.sqrt(DRAWS * p * (1 - p)) + 1
        assert abs(counts[task] - DRAWS * p) <= tolerance, (task, counts[task], DRAWS * p)


def test_annealed_moves_from_proportional_to_uniform():
    sampler = make("annealed")
    shares = [sampler.probabilities(step)["c"] for step in range(0, TOTAL_STEPS, 100)]
    # The smallest task's share grows monotonically as the exponent goes from 1 to 0.
    assert all(later > earlier for earlier, later in zip(shares, shares[1:]))


def test_round_robin_order_is_exact():
    sampler = make("round_robin", {"ratios": {"a": 2, "b": 1, "c": 5}})
    order = [sampler.next_task(step) for step in range(8 * 4)]
    assert order == list("aabccccc") * 4


def test_round_robin_rejects_fractional_ratios():
    with pytest.raises(AuxlearnError, match="integer"):
        make("round_robin", {"ratios": {"a": 1.5, "b": 1, "c": 1}})


@pytest.mark.parametrize("name, options", [
    ("uniform", {}), ("proportional", {}), ("temperature", {"temperature": 2.0}),
    ("fixed", {"ratios": {"a": 1, "b": 1, "c": 2}}), ("annealed", {}),
])
def test_state_dict_continues_identically(name, options):
    sampler = make(name, options, seed=3)
    for step in range(50):
        sampler.next_task(step)
    state = json.loads(json.dumps(sampler.state_dict()))  # a checkpoint goes through JSON
    expected = [sampler.next_task(step) for step in range(50, 250)]
    restored = make(name, options, seed=99)
    restored.load_state_dict(state)
    assert [restored.next_task(step) for step in range(50, 250)] == expected
    # A different seed without the state gives another sequence (the state is what carried the position).
    fresh = make(name, options, seed=99)
    assert [fresh.next_task(step) for step in range(50, 250)] != expected


def test_same_seed_same_sequence_different_seed_different():
    one, two, other = make("proportional", seed=1), make("proportional", seed=1), make("proportional", seed=2)
    draws = [[s.next_task(step) for step in range(300)] for s in (one, two, other)]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]


def test_unknown_sampler_name_is_named_with_the_known_ones():
    with pytest.raises(AuxlearnError) as error:
        make("bogus_sampler")
    message = str(error.value)
    assert "bogus_sampler" in message
    assert "train.sampler" in message
    for known in ("uniform", "proportional", "temperature", "fixed", "round_robin", "annealed"):
        assert known in message


def test_unknown_sampler_option_is_named():
    with pytest.raises(AuxlearnError) as error:
        make("temperature", {"temprature": 2.0})
    message = str(error.value)
    assert "temprature" in message
    assert "temperature" in message.replace("temprature", "")  # the allowed option is listed


@pytest.mark.parametrize("name", ["fixed", "round_robin"])
def test_ratios_that_miss_a_task_are_rejected(name):
    with pytest.raises(AuxlearnError) as error:
        make(name, {"ratios": {"a": 1, "b": 2}})
    assert re.search(r"missing\W*\['c'\]", str(error.value)), str(error.value)


@pytest.mark.parametrize("name", ["fixed", "round_robin"])
def test_ratios_naming_an_unknown_task_are_rejected(name):
    with pytest.raises(AuxlearnError, match="zz"):
        make(name, {"ratios": {"a": 1, "b": 2, "c": 1, "zz": 1}})


def test_probabilities_sum_to_one():
    for name, options, step, _ in CASES.values():
        assert sum(make(name, options).probabilities(step).values()) == pytest.approx(1.0)
    round_robin = make("round_robin", {"ratios": {"a": 2, "b": 1, "c": 5}}).probabilities(0)
    assert round_robin == pytest.approx({"a": 2 / 8, "b": 1 / 8, "c": 5 / 8})
