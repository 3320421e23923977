"""``train.steps: auto`` (train_length.py): a recipe's length follows the primary's training split, every command
that trains resolves it before anything reads it, and a recipe given in steps keeps its identity."""

from __future__ import annotations

import math

import pytest

from auxlearn.convergence import dev_curve
from auxlearn.experiment import prepare, train_experiment
from auxlearn.identity import config_identity
from auxlearn.pipeline import plan_pipeline
from auxlearn.train_length import MAX_STEPS, MIN_STEPS, auto_steps, resolved_length

pytestmark = pytest.mark.data

AUTO = {"steps": "auto", "eval_every": "auto"}


@pytest.mark.parametrize("examples, epochs, batch, expected", [
    (300, 10, 16, 188),  # RTE's 300 pairs: ten passes, not the 107 of a fixed 1,000 steps of 32
    (1000, 10, 16, 625),
    (100_000, 10, 16, MAX_STEPS),  # a large primary stops at the ceiling
    (32, 10, 16, MIN_STEPS),  # a few-shot primary gets the floor
])
def test_auto_steps_are_epochs_of_the_primary_within_bounds(examples, epochs, batch, expected):
    assert auto_steps(examples, epochs, batch) == expected


def test_an_auto_recipe_trains_its_epochs_and_evaluates_about_ten_times(tmp_path, make_experiment):
    exp = make_experiment(train={**AUTO, "epochs": 7, "batch_size": 8, "patience": None})
    results = train_experiment(exp, tmp_path / "arm", save_model=False)
    train_examples = len(prepare(exp).data["rte"].train)
    steps = math.ceil(7 * train_examples / 8)
    assert steps > MIN_STEPS  # the rule, not the floor, set this length
    assert results["steps"] == results["config"]["train"]["steps"] == steps
    every = results["config"]["train"]["eval_every"]
    assert every == round(steps / 10)
    assert [step for step, _ in dev_curve(tmp_path / "arm", "rte")] == [
        *range(every, steps + 1, every), *([steps] if steps % every else [])]


def test_shots_count_k_per_class(make_experiment):
    """Under data.shots an epoch is k examples per class, whatever the split held before the draw."""
    exp = make_experiment(data={"shots": 8}, train={**AUTO, "epochs": 25, "batch_size": 4})
    resolved = resolved_length(exp, prepare(exp))
    assert resolved.train.steps == math.ceil(25 * 8 * 2 / 4)  # RTE has two classes


def test_run_plans_and_trains_the_resolved_recipe(make_experiment):
    exp = make_experiment(train={**AUTO, "epochs": 7, "batch_size": 8}, auxiliary=["mrpc"],
                          select={"method": "all"}, mix={"method": "uniform"})
    steps = math.ceil(7 * len(prepare(exp).data["rte"].train) / 8)
    plan = plan_pipeline(exp)
    assert [t.steps for t in plan.stages["baseline"].trainings] == [steps]


def test_a_recipe_in_steps_keeps_its_identity_whatever_the_epochs(make_experiment):
    """Runs and atlas cells trained before ``epochs`` existed are recognised: it counts only under ``auto``."""
    given = make_experiment()
    assert "epochs" not in config_identity(given)["train"]
    assert config_identity(given) == config_identity(make_experiment(train={"epochs": 3}))
    auto = make_experiment(train=AUTO)
    assert config_identity(auto) != config_identity(make_experiment(train={**AUTO, "epochs": 3}))


def test_a_selector_or_mixer_reads_numbers_from_its_stage_and_its_plan(tmp_path, make_experiment):
    """A method called through the Python API with an experiment still ``auto`` (no `run` to resolve it)."""
    from auxlearn.stage import Stage
    from auxlearn.stage_cost import PlanContext

    exp = make_experiment(train={**AUTO, "epochs": 7, "batch_size": 8}, auxiliary=["mrpc"])
    prepared = prepare(exp)
    steps = math.ceil(7 * len(prepared.data["rte"].train) / 8)
    for view in (Stage(exp, prepared, tmp_path), PlanContext(exp, prepared)):
        assert (view.exp.train.steps, view.exp.train.eval_every) == (steps, round(steps / 10))
