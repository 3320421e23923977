"""Loss weightings: one conformance suite over every registered weighting, the update of each checked against a
hand computation or its defining property on toy losses, and a training run under a weighting."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch

from auxlearn.tasks.types.classification import ClassificationHead
from auxlearn.train.weightings import WEIGHTINGS, build_weighting
from auxlearn.train.weighting_base import StepContext

NAMES = sorted(WEIGHTINGS)


def _toy():
    """A shared parameter and a head per task; the two tasks' gradients on the shared one conflict."""
    shared = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    heads = {"a": torch.nn.Parameter(torch.tensor([0.7])), "b": torch.nn.Parameter(torch.tensor([-0.4]))}
    target = {"a": torch.tensor([2.0, 1.0, 0.0]), "b": torch.tensor([-1.0, -3.0, 1.0])}

    def losses():
        return {t: ((shared - target[t]) ** 2).sum() * heads[t].abs().sum() + heads[t].pow(2).sum()
                for t in ("a", "b")}

    return shared, heads, losses


def _grads(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


class _ToyModel(torch.nn.Module):
    """An 'encoder' (a linear map) and a classifier head per task: enough for a weighting that measures dev."""

    def __init__(self, tasks):
        super().__init__()
        torch.manual_seed(0)
        self.encoder = torch.nn.Linear(3, 4)
        self.heads = torch.nn.ModuleDict({t: ClassificationHead(4, 2, 0.0) for t in tasks})

    def features(self, task, batch):
        return torch.tanh(self.encoder(batch["input_ids"]))

    def head(self, task):
        return self.heads[task]

    def loss(self, task, batch):
        return self.heads[task].loss(self.heads[task](self.features(task, batch)), batch["labels"])


class _Batches:
    """Endless seeded toy batches with a checkpointable state, as EndlessBatches gives."""

    def __init__(self, size, seed):
        self.size, self.generator = size, torch.Generator().manual_seed(seed)

    def __next__(self):
        x = torch.randn(self.size, 3, generator=self.generator)
        return {"input_ids": x, "labels": (x[:, 0] > 0).long()}

    def state_dict(self):
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])


def _attached(name, tasks, options=None, model=None):
    weighting = build_weighting(name, options or {}, tasks, seed=0)
    model = model or _ToyModel(tasks)
    weighting.attach(StepContext(model, tasks[0], 8, 1, dev_batches=_Batches, device=torch.device("cpu"),
                                 autocast=contextlib.nullcontext))
    return weighting, model


@pytest.mark.parametrize("name", NAMES)
def test_every_weighting_leaves_a_finite_update_and_describes_itself(name):
    tasks = ["a", "b", "c"]
    weighting, model = _attached(name, tasks)
    params = list(model.parameters())
    data = _Batches(8, 5)
    for _ in range(3):  # aang measures dev on its third step
        for p in params:
            p.grad = None
        trained = weighting.tasks_of_step("b")
        assert trained[0] == "a" if weighting.every_task else trained == ["b"]
        weights = weighting.backward({t: model.loss(t, next(data)) for t in trained}, params)
        assert set(weights) <= set(trained)
        encoder = model.encoder.weight.grad
        assert encoder is not None and torch.isfinite(encoder).all() and encoder.abs().sum() > 0
    described = json.loads(json.dumps(weighting.describe()))
    assert described["name"] == name and described["cost"]
    copy, _ = _attached(name, tasks, model=model)
    copy.load_state_dict(weighting.state_dict())
    assert copy.describe() == weighting.describe()
    assert copy.tasks_of_step("b") == weighting.tasks_of_step("b")  # a resumed run draws what it would have


def test_single_is_the_loss_as_it_is():
    shared, heads, losses = _toy()
    expected = _grads(losses()["b"], [shared])[0]
    build_weighting("single", {}, ["a", "b"]).backward({"b": losses()["b"]}, [shared, *heads.values()])
    assert torch.allclose(shared.grad, expected)


def test_static_sums_the_losses_with_their_weights():
    shared, heads, losses = _toy()
    step = losses()
    expected = 0.25 * _grads(step["a"], [shared], )[0] + 1.0 * _grads(step["b"], [shared])[0]
    weights = build_weighting("static", {"weights": {"a": 0.25}}, ["a", "b"]).backward(
        losses(), [shared, *heads.values()])
    assert weights == {"a": 0.25, "b": 1.0} and torch.allclose(shared.grad, expected)


def test_uncertainty_weighs_each_loss_by_its_learned_variance():
    """Kendall et al.: sum of exp(-s)/2 L + s/2; at s = 0 each loss weighs 1/2, and Adam's first step moves s by
    lr against the sign of dL/ds = (1 - L)/2: up for a loss above 1 (its weight falls), down for one below."""
    shared, heads, losses = _toy()
    def scaled():
        step = losses()
        return {"a": step["a"], "b": 0.1 * step["b"]}

    step = scaled()
    assert step["a"].item() > 1 > step["b"].item()
    expected = _grads(0.5 * (step["a"] + step["b"]), [shared])[0]
    step = scaled()
    weighting = build_weighting("uncertainty", {"lr": 0.1}, ["a", "b"])
    weights = weighting.backward(step, [shared, *heads.values()])
    assert weights == pytest.approx({"a": 0.5, "b": 0.5}) and torch.allclose(shared.grad, expected)
    assert weighting.describe()["log_variances"] == pytest.approx({"a": 0.1, "b": -0.1}, abs=1e-4)


def _task_gradients(losses, params):
    step = losses()
    return [torch.cat([g.flatten() if g is not None else torch.zeros(p.numel()) for g, p in
                       zip(_grads(step[t], params), params)]) for t in ("a", "b")]


def test_upgrad_and_dualproj_never_conflict_with_a_task():
    """Their update has a non-negative inner product with every task's gradient (UPGrad's defining property)."""
    for name in ("upgrad", "dualproj"):
        shared, heads, losses = _toy()
        params = [shared, *heads.values()]
        g_a, g_b = _task_gradients(losses, params)
        assert torch.dot(g_a, g_b) < 0  # the toy's tasks conflict
        build_weighting(name, {}, ["a", "b"]).backward(losses(), params)
        update = torch.cat([p.grad.flatten() for p in params])
        assert torch.dot(update, g_a) >= -1e-5 and torch.dot(update, g_b) >= -1e-5, name


def test_pcgrad_projects_each_gradient_off_the_other_by_hand():
    shared, heads, losses = _toy()
    params = [shared, *heads.values()]
    g_a, g_b = _task_gradients(losses, params)
    expected = (g_a - torch.dot(g_a, g_b) / g_b.dot(g_b) * g_b) + (g_b - torch.dot(g_b, g_a) / g_a.dot(g_a) * g_a)
    build_weighting("pcgrad", {}, ["a", "b"]).backward(losses(), params)
    assert torch.allclose(torch.cat([p.grad.flatten() for p in params]), expected, atol=1e-5)


def test_alignment_measures_each_gradients_cosine_with_the_primarys_on_shared_parameters():
    shared, heads, losses = _toy()
    params = [shared, *heads.values()]
    weighting = build_weighting("alignment", {"every": 2}, ["a", "b"])
    assert weighting.tasks_of_step("b") == ["b"]  # step 1 trains the sampler's task alone
    weighting.backward({"b": losses()["b"]}, params)
    assert weighting.alignment() == {}
    for p in params:
        p.grad = None
    assert weighting.tasks_of_step("b") == ["a", "b"]  # step 2 measures: every task
    a, b = (_grads(loss, params) for loss in losses().values())
    expected = torch.nn.functional.cosine_similarity(a[0], b[0], dim=0)  # the heads are not shared
    weighting.backward(losses(), params)
    assert weighting.alignment() == {"b": pytest.approx(float(expected))} and weighting.measurements == 1
    assert float(expected) < 0  # the toy's tasks conflict on the shared parameter
    for param, ga, gb in zip(params, a, b):  # the measured step trains both tasks: their gradients summed
        total = sum(g for g in (ga, gb) if g is not None)
        assert torch.allclose(param.grad, total)


@pytest.mark.data
@pytest.mark.parametrize("weighting", [{"name": "static", "weights": {"mrpc": 0.5}}, {"name": "upgrad"}])
def test_a_run_under_a_weighting_trains_every_task_at_every_step(tmp_path, make_experiment, weighting):
    from auxlearn.experiment import train_experiment

    exp = make_experiment(auxiliary=["mrpc"], train={"weighting": weighting},
                          transfer={"protocol": "joint"})
    results = train_experiment(exp, tmp_path)
    assert results["planned_steps"] == exp.train.steps  # the primary trains at each step: equal_primary's budget
    assert results["task_steps"] == {"rte": exp.train.steps, "mrpc": exp.train.steps}
    mean = results["weighting"]["mean_weights"]
    assert set(mean) == {"rte", "mrpc"} and (weighting["name"] != "static" or mean == {"rte": 1.0, "mrpc": 0.5})


def test_several_tasks_in_a_step_need_one_optimiser_and_a_joint_arm(tiny_model_dir, make_experiment):
    from auxlearn.config import experiment_from_dict
    from auxlearn.errors import AuxlearnError
    from auxlearn.arm_plan import plan_arm
    from conftest import experiment_dict

    with pytest.raises(AuxlearnError, match="use optimizer: shared"):
        experiment_from_dict(experiment_dict(tiny_model_dir, train={"weighting": {"name": "static"},
                                                                    "optimizer": "per_task"}))
    with pytest.raises(AuxlearnError, match="no auxiliary phase: use transfer.protocol joint, joint_then_finetune"):
        experiment_from_dict(experiment_dict(tiny_model_dir, auxiliary=["mrpc"], transfer={"protocol": "sequential"},
                                             train={"weighting": {"name": "static"}}))
    auto = make_experiment(auxiliary=["mrpc"],
                           train={"weighting": {"name": "upgrad"}})
    arm = plan_arm(auto, {"rte": 5000, "mrpc": 100})  # auto's size rule would pick sequential here
    assert arm.protocol == "joint" and "every task at every step" in arm.rule and arm.total_steps == 10
    aang = make_experiment(auxiliary=["mrpc"], transfer={"finetune_lr": 1e-5},
                           train={"weighting": {"name": "aang"}})
    joint, finetune = plan_arm(aang, {"rte": 5000, "mrpc": 100}).phases  # AANG's search, then its final phase
    assert joint.weighting["name"] == "aang" and joint.steps == 10 and joint.tasks == ["rte", "mrpc"]
    assert finetune.weighting == {"name": "single"} and finetune.tasks == ["rte"]
    assert finetune.lr == 1e-5 and finetune.score_start and finetune.steps == 10
