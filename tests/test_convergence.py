"""A converged baseline (convergence.py) and the model a run hands over (handover.py): the verdict read off the dev
curves, the recipe extended while the primary alone still improves, resumed at the attempt it was on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auxlearn.cli import main
from auxlearn import convergence
from auxlearn.convergence import ATTEMPTS, CHECK_FILE, check, dev_curve, still_rising
from auxlearn.handover import best_on_dev
from auxlearn.pipeline import run_pipeline

HIGHER = float  # signed score of a metric where higher is better


def _curve(*scores):
    return [(10 * (i + 1), s) for i, s in enumerate(scores)]


@pytest.mark.parametrize("scores, stopped, rising", [
    ((0.5, 0.6, 0.7, 0.8), "budget", True),     # best at the last evaluation
    ((0.5, 0.6, 0.8, 0.7), "budget", True),     # among the last two
    ((0.5, 0.8, 0.7, 0.6), "budget", False),    # it had stopped improving
    ((0.5, 0.8, 0.8, 0.8), "budget", False),    # the first of equals is the one the trainer keeps
    ((0.5, 0.6, 0.7, 0.8), "patience", False),  # early stopping ended it: it had stopped improving
    ((0.5, 0.6), "budget", True),               # two evaluations: the last one is the best
    ((0.6, 0.5), "budget", False),
    ((0.6,), "budget", False),                  # one evaluation says nothing
])
def test_a_seed_is_still_rising_when_its_best_dev_evaluation_is_among_its_last(scores, stopped, rising):
    assert still_rising(_curve(*scores), HIGHER, 2, stopped) is rising


def test_a_lower_is_better_metric_reads_the_curve_the_other_way():
    assert still_rising(_curve(0.9, 0.7, 0.5, 0.3), lambda s: -s, 2, "budget")
    assert not still_rising(_curve(0.3, 0.5, 0.7, 0.9), lambda s: -s, 2, "budget")


def test_the_arm_is_rising_when_more_than_half_of_its_seeds_are(tmp_path, make_experiment):
    exp = make_experiment()
    for seed, scores in {"0": (0.5, 0.6, 0.7), "1": (0.7, 0.6, 0.5), "2": (0.5, 0.5, 0.9)}.items():
        folder = tmp_path / f"seed_{seed}"
        folder.mkdir()
        folder.joinpath("metrics.jsonl").write_text("".join(
            json.dumps({"step": step, "dev": {"rte": {"main": score}}}) + "\n" for step, score in _curve(*scores)))
    assert dev_curve(tmp_path / "seed_0", "rte") == _curve(0.5, 0.6, 0.7)
    runs = {seed: {"best_step": 30, "steps": 30, "stopped": "budget"} for seed in "012"}
    verdict = check(exp, {"runs": runs, "mean": 0.6, "std": 0.1, "seconds": 1.0}, tmp_path, HIGHER)
    assert verdict["rising"] and verdict["rising_seeds"] == 2
    assert [v["rising"] for v in verdict["seeds"].values()] == [True, False, True]
    runs["2"]["stopped"] = "patience"
    assert not check(exp, {"runs": runs, "mean": 0.6, "std": 0.1, "seconds": 1.0}, tmp_path, HIGHER)["rising"]


def test_the_run_hands_over_the_arm_best_on_dev_and_the_final_on_a_tie():
    stages = {"baseline": {"dev": {"0": 0.6, "1": 0.7}}, "control": {"dev": {"0": 0.7, "1": 0.8}},
              "final": {"dev": {"0": 0.65, "1": 0.7}}}
    best = best_on_dev(stages, HIGHER)
    assert best["arm"] == "control" and best["models"] == ["control/seed_0/model", "control/seed_1/model"]
    assert best_on_dev(stages, lambda s: -s)["arm"] == "baseline"  # lower is better
    stages["final"]["dev"] = {"0": 0.7, "1": 0.8}
    assert best_on_dev(stages, HIGHER)["arm"] == "final"
    assert best_on_dev({"baseline": stages["baseline"], "final": {**stages["baseline"], "same_as": "baseline"}},
                       HIGHER)["arm"] == "baseline"


def _rising_run(make_experiment, **baseline):
    """RTE with MRPC, 10 steps evaluated every 5, two seeds."""
    return make_experiment(auxiliary=["mrpc"], seeds=[0, 1], select={"method": "all"},
                           mix={"method": "fixed", "ratios": {"rte": 1, "mrpc": 1}},
                           baseline={"converge": True, **baseline})


@pytest.mark.data
def test_run_trains_the_baseline_again_with_more_steps_and_the_whole_run_uses_them(tmp_path, make_experiment, capsys,
                                                                                   monkeypatch):
    # A tiny random model's dev curve is flat or noisy: every seed of the 10-step attempt is made to read as still
    # rising, every later one as converged (the verdict itself is tested above, on curves of its own).
    monkeypatch.setattr(convergence, "still_rising", lambda curve, signed, last, stopped: curve[-1][0] == 10)
    exp = _rising_run(make_experiment, max_steps=40)
    results = run_pipeline(exp, tmp_path / "run", plan=False)
    record = results["stages"]["baseline"]["convergence"]
    assert record["extended"] and record["recipe_steps"] == 10 and record["steps"] == 20 and record["cap"] == 40
    assert [a["steps"] for a in record["attempts"]] == [10, 20] and record["attempts"][0]["rising"]
    assert record["verdict"] == "converged" and not record["attempts"][1]["rising"]
    assert "still improving on dev in 2 of 2 seeds after 10 steps" in capsys.readouterr().out
    first = tmp_path / "run" / ATTEMPTS / "steps_10"
    assert json.loads((first / CHECK_FILE).read_text())["rising"]
    assert json.loads((first / "seed_0" / "results.json").read_text())["steps"] == 10
    for arm in ("baseline", "final"):  # the baseline and every later arm train the extended recipe
        assert json.loads((tmp_path / "run" / arm / "seed_1" / "results.json").read_text())["config"]["train"][
            "steps"] == 20
    assert results["best_model"]["arm"] in ("baseline", "final", "control")
    assert main(["report", str(tmp_path / "run")]) == 0
    report = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "was still improving on dev after the recipe's 10 steps" in report
    assert f"The models to keep are the {results['best_model']['arm']} arm's" in report
    written = (first / CHECK_FILE).stat().st_mtime_ns
    again = run_pipeline(exp, tmp_path / "run", plan=False)  # resumed: nothing trains again
    assert (first / CHECK_FILE).stat().st_mtime_ns == written
    assert again["stages"]["baseline"]["eval"] == results["stages"]["baseline"]["eval"]
    assert again["stages"]["final"]["eval"] == results["stages"]["final"]["eval"]


@pytest.mark.data
def test_a_baseline_still_rising_at_the_cap_says_so(tmp_path, make_experiment, monkeypatch):
    monkeypatch.setattr(convergence, "still_rising", lambda curve, signed, last, stopped: True)
    record = run_pipeline(_rising_run(make_experiment, max_steps=15), tmp_path / "run", plan=False)["stages"][
        "baseline"]["convergence"]
    assert [a["steps"] for a in record["attempts"]] == [10, 15] and record["verdict"] == "still rising at the cap"


@pytest.mark.data
def test_without_converge_the_recipe_is_kept(tmp_path, make_experiment):
    results = run_pipeline(_rising_run(make_experiment, converge=False), tmp_path / "run", plan=False)
    assert results["stages"]["baseline"]["convergence"] == {"checked": False}
    assert not (tmp_path / "run" / ATTEMPTS).exists()
    assert json.loads(Path(tmp_path / "run" / "baseline" / "seed_0" / "results.json").read_text())["steps"] == 10
