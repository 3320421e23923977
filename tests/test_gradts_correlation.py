"""GradTS's Kendall taus (task level and per instance) and GradTS-fg's instance filtering."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import kendalltau

from auxlearn.select.gradts import filter_instances, instance_taus, kendall_tau, rank_candidates


def test_kendall_tau_equals_scipy_and_its_extremes():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = np.round(rng.random((3, 4)), 1)  # rounding creates ties, exercising tau-b
        b = np.round(rng.random((3, 4)), 1)
        assert kendall_tau(a, b) == pytest.approx(kendalltau(a.ravel(), b.ravel()).statistic, abs=1e-12)
    x = rng.random((4, 3))
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, -x) == pytest.approx(-1.0)
    assert kendall_tau(x, np.zeros((4, 3))) == 0.0  # undefined (constant) -> 0.0, documented
    with pytest.raises(ValueError, match="same shape"):
        kendall_tau(x, rng.random((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kendall_tau(x, np.full((4, 3), np.nan))


def test_rank_candidates_sorts_by_tau_then_name():
    p = np.arange(12.0).reshape(3, 4)
    ranked = rank_candidates(p, {"b": p, "a": p * 2, "rev": -p, "flat": np.zeros((3, 4))})
    assert [t for t, _ in ranked] == ["a", "b", "flat", "rev"]
    assert [tau for _, tau in ranked] == pytest.approx([1.0, 1.0, 0.0, -1.0])


def test_instance_taus_equal_a_loop_of_scipy_calls():
    rng = np.random.default_rng(7)
    primary = np.round(rng.random((4, 6)), 2)
    inst = rng.random((300, 4, 6))
    inst[:100] = np.round(inst[:100], 1)  # ties
    inst[5] = 0.3  # constant -> 0.0
    inst[6] = primary
    expected = np.array([kendalltau(primary.ravel(), m.ravel()).statistic for m in inst])
    expected = np.nan_to_num(expected, nan=0.0)
    got = instance_taus(primary, inst, chunk_elements=5_000)  # several chunks
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert got[5] == 0.0 and got[6] == pytest.approx(1.0)
    assert instance_taus(primary, np.zeros((0, 4, 6))).shape == (0,)
    # large matrices (BERT-large, 24x16) take the scipy-loop path: same answers
    big_p, big = np.round(rng.random((15, 16)), 2), np.round(rng.random((6, 15, 16)), 1)
    big[2] = 0.0
    want = np.nan_to_num([kendalltau(big_p.ravel(), m.ravel()).statistic for m in big], nan=0.0)
    np.testing.assert_allclose(instance_taus(big_p, big), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="do not match"):
        instance_taus(primary, rng.random((3, 5, 6)))


# ------------------------------------------------------------------------------------------------ GradTS-fg


def test_filter_by_threshold_keeps_exactly_the_instances_at_or_over_it():
    ids = np.array([10, 3, 7, 42, 5, 8])
    taus = np.array([0.62, 0.61999, 0.9, -0.2, 0.62, 0.7])
    kept = filter_instances(ids, taus, threshold=0.62)
    np.testing.assert_array_equal(kept, [10, 7, 5, 8])  # >= t, input order
    assert filter_instances(ids, taus, threshold=0.95).size == 0
    np.testing.assert_array_equal(filter_instances(ids, taus, threshold=-1.0), ids)


def test_filter_by_coverage_keeps_the_top_fraction_with_deterministic_ties():
    ids = np.arange(10)[::-1].copy()  # 9, 8, ..., 0
    taus = np.array([0.1, 0.5, 0.5, 0.5, 0.2, 0.9, 0.3, 0.0, 0.4, 0.5])
    # by tau desc: id 4 (0.9), then the 0.5 ties by id: 0, 6, 7, 8, ...
    np.testing.assert_array_equal(filter_instances(ids, taus, coverage=0.3), [6, 4, 0])  # input order
    np.testing.assert_array_equal(filter_instances(ids, taus, coverage=0.4), [7, 6, 4, 0])
    assert filter_instances(ids, taus, coverage=0.3).size == 3  # 0.3 * 10 rounds to 3, not 4
    assert filter_instances(ids, taus, coverage=0.31).size == 4  # ceil
    assert filter_instances(ids, taus, coverage=0.01).size == 1
    assert filter_instances(ids, taus, coverage=1.0).size == 10
    big = filter_instances(np.arange(1000), np.random.default_rng(0).random(1000), coverage=0.55)
    assert big.size == 550


def test_filter_instances_rejects_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        filter_instances([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="exactly one"):
        filter_instances([1, 2], [0.1, 0.2], threshold=0.1, coverage=0.5)
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\]"):
        filter_instances([1, 2], [0.1, 0.2], coverage=0.0)
    with pytest.raises(ValueError, match="aligned"):
        filter_instances([1, 2, 3], [0.1, 0.2], threshold=0.1)
    with pytest.raises(ValueError, match="unique"):
        filter_instances([1, 1], [0.1, 0.2], threshold=0.1)
    with pytest.raises(ValueError, match="NaN"):
        filter_instances([1, 2], [0.1, math.nan], threshold=0.1)
