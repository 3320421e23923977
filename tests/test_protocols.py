"""Budgets and transfer protocols: how an arm's steps are counted and split into phases, training from an
earlier phase or a saved model folder, and successive regularisation."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from auxlearn.cli import main
from auxlearn.config import experiment_from_dict
from auxlearn.config_files import load_experiment
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import train_experiment
from auxlearn.arm_plan import plan_arm, plan_budget
from auxlearn.train.anchor import Anchor
from conftest import experiment_dict, write_yaml

SIZES = {"rte": 2000, "mnli": 6000, "mrpc": 1000}


def arm_of(protocol: str, budget: str, auxiliary=("mnli",), sampler=None, **train):
    exp = experiment_from_dict(experiment_dict(
        "unused", auxiliary=list(auxiliary), transfer={"protocol": protocol, "budget": budget},
        train={"steps": 100, "eval_every": 10, "patience": 3, "sampler": sampler or {"name": "proportional"},
               **train}))
    return plan_arm(exp, SIZES)


@pytest.mark.parametrize("share", [0.05, 0.25, 1 / 3, 0.5, 0.9])
@pytest.mark.parametrize("steps", [2, 7, 100, 1000])
def test_budgets_count_primary_or_total_steps(share, steps):
    primary = plan_budget("equal_primary", steps, share)
    assert primary.primary_steps == steps  # the primary sees its baseline's batches...
    assert primary.auxiliary_steps >= 1
    expected = steps * (1 - share) / share  # ...and the auxiliaries their share (at least one batch)
    assert abs(primary.auxiliary_steps - max(1.0, expected)) <= 0.5
    total = plan_budget("equal_total", steps, share)
    assert total.primary_steps + total.auxiliary_steps == steps  # the baseline's total
    assert total.primary_steps >= 1 and total.auxiliary_steps >= 1
    assert abs(total.primary_steps - steps * share) <= 1


def test_budget_rejects_what_cannot_be_split():
    with pytest.raises(ValueError, match="share"):
        plan_budget("equal_primary", 10, 0.0)
    with pytest.raises(ValueError, match="steps >= 2"):
        plan_budget("equal_total", 1, 0.5)
    assert plan_budget("equal_total", 10, 1.0).auxiliary_steps == 0


def test_joint_equal_primary_trains_longer_with_the_same_early_stopping():
    arm = arm_of("joint", "equal_primary", sampler={"name": "round_robin", "ratios": {"rte": 1, "mnli": 3}})
    (phase,) = arm.phases
    assert (phase.label, phase.tasks, phase.steps) == ("joint", ["rte", "mnli"], 400)  # rte gets 1 step in 4
    # the baseline's evaluations and patience, counted in the primary's batches: every 10 of them, 1 step in 4
    assert phase.eval_every == 40 and phase.patience == 3
    assert arm.total_steps == 400 and arm.rule == "the config asks for joint"


def test_sequential_trains_the_auxiliaries_then_the_primary_with_its_recipe():
    arm = arm_of("sequential", "equal_primary", sampler={"name": "round_robin", "ratios": {"rte": 1, "mnli": 3}})
    first, second = arm.phases
    assert (first.label, first.tasks, first.steps) == ("auxiliary", ["mnli"], 300)
    assert first.sampler == {"name": "round_robin", "ratios": {"mnli": 3}}  # the primary dropped from the ratios
    assert not first.evaluate and first.patience is None  # no dev evaluation: its last weights are kept
    assert (second.label, second.tasks, second.steps, second.eval_every, second.patience) == (
        "primary", ["rte"], 100, 10, 3)
    total = arm_of("sequential", "equal_total", sampler={"name": "round_robin", "ratios": {"rte": 1, "mnli": 3}})
    assert [p.steps for p in total.phases] == [75, 25] and total.total_steps == 100


def test_joint_then_finetune_adds_a_primary_phase_after_the_joint_one():
    arm = arm_of("joint_then_finetune", "equal_primary", auxiliary=("mnli", "mrpc"))
    joint, alone = arm.phases
    share = 2000 / 9000  # proportional sampling
    assert joint.tasks == ["rte", "mnli", "mrpc"] and joint.steps == round(100 / share)
    assert (alone.tasks, alone.steps) == (["rte"], 100)
    assert arm.total_steps > 100  # longer than the baseline: the run trains a control


@pytest.mark.parametrize("sizes, chosen", [({"rte": 2000, "mnli": 6000}, "joint"),
                                           ({"rte": 2000, "mnli": 1500}, "sequential")])
def test_auto_applies_the_size_rule_and_says_so(sizes, chosen):
    exp = experiment_from_dict(experiment_dict("unused", auxiliary=["mnli"], transfer={"protocol": "auto"}))
    arm = plan_arm(exp, sizes)
    assert arm.protocol == chosen
    assert f"auto chose {chosen}" in arm.rule and f"{sizes['rte']:,}" in arm.rule and f"{sizes['mnli']:,}" in arm.rule


def test_without_auxiliaries_every_protocol_is_the_baseline_recipe():
    for protocol in ("joint", "sequential", "joint_then_finetune", "auto"):
        arm = arm_of(protocol, "equal_primary", auxiliary=())
        assert [(p.tasks, p.steps, p.eval_every, p.patience) for p in arm.phases] == [(["rte"], 100, 10, 3)]


def test_regularization_needs_a_protocol_with_a_later_phase():
    with pytest.raises(AuxlearnError, match="regularization"):
        experiment_from_dict(experiment_dict("unused", transfer={"protocol": "joint", "regularization": 0.1}))


def test_anchor_adds_the_gradient_of_the_l2_pull():
    torch.manual_seed(0)
    layer = nn.Linear(3, 2)
    anchor = Anchor(layer, delta=0.5)
    reference = [p.detach().clone() for p in layer.parameters()]
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(1.0)
    assert anchor.penalty() == pytest.approx(0.5 * sum(p.numel() for p in layer.parameters()))
    layer.zero_grad()
    anchor.add_gradient()
    for p, ref in zip(layer.parameters(), reference):
        assert torch.allclose(p.grad, 2 * 0.5 * (p.detach() - ref))  # d/dθ δ‖θ − θ₀‖²


@pytest.mark.data
def test_sequential_run_trains_each_phase_on_its_tasks(tmp_path, make_experiment):
    exp = make_experiment(
        auxiliary=["mrpc"], transfer={"protocol": "sequential", "regularization": 0.01},
        train={"steps": 6, "eval_every": 3, "sampler": {"name": "round_robin", "ratios": {"rte": 1, "mrpc": 1}}})
    results = train_experiment(exp, tmp_path / "arm", save_model=True)
    first, second = results["phases"]
    assert first["label"] == "auxiliary" and first["task_steps"] == {"mrpc": 6}
    assert second["label"] == "primary" and second["task_steps"] == {"rte": 6}
    assert results["primary_steps"] == 6 and results["steps"] == 12 and results["planned_steps"] == 12
    assert results["protocol"] == "sequential" and set(results["eval"]) == {"rte"}
    assert first["dev_best"] == {} and first["best_step"] == 6  # not evaluated on dev: the last weights go on
    phase1 = tmp_path / "arm" / "phase1_auxiliary"
    assert (phase1 / "results.json").is_file()
    logged = map(json.loads, (phase1 / "metrics.jsonl").read_text().splitlines())
    assert [(r["step"], r["dev"], sorted(r["train_loss"])) for r in logged] == [(3, {}, ["mrpc"]), (6, {}, ["mrpc"])]
    assert (tmp_path / "arm" / "model").is_dir() and not (tmp_path / "arm" / "phase1_auxiliary" / "model").exists()
    records = [json.loads(line) for line in (tmp_path / "arm" / "metrics.jsonl").read_text().splitlines()]
    assert all(r["regularization"] >= 0 for r in records) and records[-1]["regularization"] > 0


@pytest.mark.data
def test_joint_then_finetune_continues_from_the_joint_heads(tmp_path, make_experiment):
    exp = make_experiment(
        auxiliary=["mrpc"], transfer={"protocol": "joint_then_finetune", "budget": "equal_total"},
        train={"steps": 6, "eval_every": 3, "sampler": {"name": "uniform"}})
    results = train_experiment(exp, tmp_path / "arm", save_model=False)
    joint, alone = results["phases"]
    assert joint["task_steps"]["rte"] + joint["task_steps"]["mrpc"] == 6
    assert alone["reused_heads"] == ["rte"]  # the primary's head goes on from the joint checkpoint
    assert results["primary_steps"] == joint["task_steps"]["rte"] + 3


@pytest.mark.data
def test_model_folder_is_resolved_from_the_config_and_gives_its_heads(tmp_path, make_experiment, monkeypatch):
    first = make_experiment(auxiliary=["mrpc"],
                            transfer={"protocol": "joint", "budget": "equal_total"})
    train_experiment(first, tmp_path / "runs" / "first", save_model=True)
    second = experiment_dict("../runs/first/model", auxiliary=["stsb"]) | {"transfer": {"protocol": "joint"}}
    config = write_yaml(tmp_path / "configs" / "second.yaml", second)
    monkeypatch.chdir(tmp_path / "runs")  # elsewhere than the config's folder
    exp = load_experiment(config)
    assert exp.model == str((tmp_path / "runs" / "first" / "model").resolve())
    results = train_experiment(exp, tmp_path / "runs" / "second", save_model=False)
    assert results["phases"][0]["reused_heads"] == ["rte"]  # mrpc is not trained here; stsb starts fresh
    missing = write_yaml(tmp_path / "configs" / "missing.yaml", experiment_dict("./nowhere/model"))
    with pytest.raises(AuxlearnError, match="model folder './nowhere/model' not found"):
        load_experiment(missing)
    assert main(["train", str(missing)]) == 2


def test_a_sampler_that_never_trains_the_auxiliaries_cannot_be_budgeted():
    exp = experiment_from_dict(experiment_dict("unused", auxiliary=["mnli"], train={"sampler": {"name": "thompson"}}))
    with pytest.raises(AuxlearnError, match="no steps"):
        plan_arm(exp, SIZES)
