"""The contract every registered method keeps, checked over the registries themselves (SELECTORS, MIXERS,
SAMPLERS, WEIGHTINGS, ADAPTERS, PROTOCOLS, ARMS), so a method is checked the moment it is registered.

Options: the defaults validate, and a bad value or an unknown key is a config error naming its key. Selectors:
the selection is a subset of the candidates, the scores cover them, the same seed gives the same selection,
the eval split is never read, and the report can explain the result. Mixers: the ratios cover the tasks and the
mixture's sampler builds. Samplers: probabilities sum to 1, and ``state_dict`` -> ``load_state_dict`` continues
the same draws. Protocols and few-shot arms: as their tests at the end say.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from auxlearn.adapters import ADAPTERS
from auxlearn.adapters.poly import PolyOptions
from auxlearn.arm_plan import plan_budget
from auxlearn.config import experiment_from_dict
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import prepare
from auxlearn.fewshot.adaptation import arm_experiment
from auxlearn.fewshot.arms import ARMS
from auxlearn.mix import MIXERS, build_mixer
from auxlearn.plugins import options_of
from auxlearn.protocols import PROTOCOLS, Arm
from auxlearn.report_kit.blocks import Code, Figure, Paragraph, Table
from auxlearn.report_kit.run_data import RunData
from auxlearn.select import SELECTORS, build_selector
from auxlearn.stage import Stage
from auxlearn.stage_cost import PlanContext
from auxlearn.train.samplers import SAMPLERS, build_sampler
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.weightings import WEIGHTINGS, build_weighting
from conftest import experiment_dict
from contract_kit import Unreadable, planned_steps, record_trainers, write_tiny_atlas

CANDIDATES = ["mrpc", "stsb"]
# The smallest settings of the methods that train; any other method runs with its defaults.
FAST = {
    "autosem": {"rounds": 4, "round_steps": 2, "min_plays": 0, "reward_dev_size": 8},
    "exhaustive": {"steps": 2, "seeds": 2},
    "gradts": {"mode": "top_k", "top_k": 1, "finetune_examples": 8, "finetune_batch_size": 8,
               "importance_examples": 8, "importance_batch_size": 8},
    "gp-bo": {"n_trials": 2, "n_startup_trials": 1, "steps": 2},
    "random": {"n_trials": 2, "n_startup_trials": 1, "steps": 2},
}
SELECTOR_FAST = {"alignment": {"steps": 4, "every": 2}}  # selectors whose name another family's method shares
FAMILIES = {"select": SELECTORS, "mix": MIXERS, "train.sampler": SAMPLERS, "train.weighting": WEIGHTINGS,
            "adapter": ADAPTERS}
METHODS = [(where, name) for where, registry in FAMILIES.items() for name in registry]


def required(options_class, tasks: list[str]) -> dict:
    """Values for the options a method has no default for. The suite knows ``ratios`` (by task); a method with
    another required option must teach it here."""
    values = {}
    for key, field in options_class.model_fields.items():
        if field.is_required():
            assert key == "ratios", f"{options_class.__qualname__}.{key} has no default: tell this suite a value"
            values[key] = {task: i + 1 for i, task in enumerate(tasks)}
    return values


def method_config(tiny_model_dir, where: str, name: str, options: dict) -> dict:
    """An experiment document with the method at ``where`` (select, mix, train.sampler or train.weighting) and its
    options."""
    document = experiment_dict(tiny_model_dir, auxiliary=CANDIDATES)
    if where.startswith("train."):
        document["train"][where.removeprefix("train.")] = {"name": name, **options}
    else:
        document[where] = {"method": name, **options}
    return document


# ------------------------------------------------------------------------------------------------ options


@pytest.mark.parametrize("where, name", METHODS)
def test_option_defaults_validate(where, name):
    options_class = FAMILIES[where][name].Options
    given = required(options_class, ["rte", *CANDIDATES])
    defaults = options_class.model_validate(given)
    for key, field in options_class.model_fields.items():  # pydantic does not check a default unless given
        if not field.is_required():
            assert options_class.model_validate({**given, key: getattr(defaults, key)}) == defaults, key


@pytest.mark.parametrize("where, name", METHODS)
def test_a_bad_option_is_a_config_error_naming_its_key(where, name, tiny_model_dir):
    options_class = FAMILIES[where][name].Options
    given = required(options_class, ["rte", *CANDIDATES])
    experiment_from_dict(method_config(tiny_model_dir, where, name, given))
    for key in [*options_class.model_fields, "no_such_option"]:
        with pytest.raises(AuxlearnError, match=re.escape(f"{where}.{key}: ")):
            experiment_from_dict(method_config(tiny_model_dir, where, name, {**given, key: object()}))
    with pytest.raises(AuxlearnError, match=re.escape(f"{where}: unknown method 'no_such_method'; known: ")):
        experiment_from_dict(method_config(tiny_model_dir, where, "no_such_method", {}))


# ---------------------------------------------------------------------------------------- selectors, mixers


@pytest.fixture(scope="module")
def exp(make_experiment):
    return make_experiment(
        auxiliary=CANDIDATES, data={"max_train_examples": 16, "dev_size": 8, "max_length": 32},
        train={"steps": 2, "eval_every": 2}, transfer={"protocol": "joint", "budget": "equal_total"})


@pytest.fixture(scope="module")
def prepared(exp):
    return prepare(exp)


@pytest.fixture
def no_eval(prepared, monkeypatch):
    for data in prepared.data.values():
        monkeypatch.setattr(data, "eval", Unreadable())
    return prepared


def _blocks_ok(blocks) -> bool:
    return all(isinstance(b, (Paragraph, Table, Figure, Code)) for b in blocks)


@pytest.fixture(scope="module")
def tiny_atlas(tmp_path_factory, tiny_model_dir):
    return write_tiny_atlas(tmp_path_factory.mktemp("atlas"), tiny_model_dir)


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_selector_contract(name, exp, no_eval, tmp_path, tiny_atlas, monkeypatch):
    options = {"atlas": tiny_atlas} if name == "atlas" else SELECTOR_FAST.get(name, FAST.get(name, {}))
    selector = build_selector(name, options)
    cost = selector.cost(PlanContext(exp, no_eval))  # what it will train, said before it trains
    trainers = record_trainers(monkeypatch)
    first = selector.select(Stage(exp, no_eval, tmp_path / "select_0"))
    assert planned_steps(cost) == sorted(trainers), "its cost plans the trainings it runs, with their steps"
    assert selector.trains or not trainers, "one that says it trains nothing (the plan runs it) trains nothing"
    assert len(first.selected) <= selector.keeps_at_most(len(CANDIDATES))
    again = build_selector(name, options).select(Stage(exp, no_eval, tmp_path / "select_1"))
    assert first.method == name
    assert set(first.selected) <= set(CANDIDATES) and len(set(first.selected)) == len(first.selected)
    assert not first.scores or set(first.scores) == set(CANDIDATES)
    assert all(math.isfinite(s) for s in first.scores.values())
    assert (again.selected, again.scores) == (first.selected, pytest.approx(first.scores)), "same seed, same result"
    assert first.options == SELECTORS[name].Options(**options).model_dump(mode="json")
    selection = json.loads(json.dumps(first.to_json()))  # what selection.json holds
    run = RunData(tmp_path, {"primary": exp.primary, "selected": first.selected, "stages": {
        "baseline": {"eval": {"0": 0.5}}, "select": {"method": name, "scores": first.scores}}}, selection)
    report = SELECTORS[name].report
    assert report.explain(run) and _blocks_ok(report.evidence(run))


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(MIXERS))
def test_mixer_contract(name, exp, no_eval, tmp_path, monkeypatch):
    tasks = [exp.primary, *CANDIDATES]
    options = {**required(MIXERS[name].Options, tasks), **FAST.get(name, {})}
    mixer = build_mixer(name, options)
    context = PlanContext(exp, no_eval)
    cost, planned = mixer.cost(context, tasks), mixer.planned_mixture(context, tasks)
    trainers = record_trainers(monkeypatch)
    mixture = mixer.mix(Stage(exp, no_eval, tmp_path / "mix"), tasks)
    assert planned_steps(cost) == sorted(trainers), "its cost plans the trials it trains, with their steps"
    assert planned.tasks[0] == exp.primary and set(planned.tasks) <= set(planned.ratios)
    if not cost.trainings:  # it trains nothing to choose: it plans the very mixture it chooses
        assert (planned.sampler, planned.ratios, planned.train) == (mixture.sampler, mixture.ratios, mixture.train)
    generated = list(mixture.ratios)[len(tasks):]  # objectives a generating mixer adds, after the given tasks
    assert mixture.method == name and list(mixture.ratios)[:len(tasks)] == tasks
    assert not generated or mixer.generates
    known = available_tasks()
    assert all(get_task(t, known).objective is not None for t in generated)
    assert all(r >= 0 for r in mixture.ratios.values()) and mixture.ratios[exp.primary] > 0
    assert mixture.options == MIXERS[name].Options(**options).model_dump(mode="json")
    sampler_options = {k: v for k, v in mixture.sampler.items() if k != "name"}
    sampler = build_sampler(mixture.sampler["name"], sampler_options, mixture.tasks,
                            {t: 1 for t in mixture.tasks}, total_steps=10, seed=0)
    assert sum(sampler.probabilities(0).values()) == pytest.approx(1.0)
    weighting = mixture.train.get("weighting")
    if weighting:  # the final model's loss weighting, over the mixture's tasks
        build_weighting(weighting["name"], {k: v for k, v in weighting.items() if k != "name"}, mixture.tasks)
    mixture_json = json.loads(json.dumps(mixture.to_json()))
    run = RunData(tmp_path, {"primary": exp.primary, "metric": "accuracy", "selected": CANDIDATES,
                             "ratios": mixture.ratios, "stages": {"baseline": {"eval": {"0": 0.5}},
                                                                   "mix": {"method": name}}}, mixture=mixture_json)
    report = MIXERS[name].report
    assert isinstance(report.outcome(run), str) and _blocks_ok(report.evidence(run))


# ------------------------------------------------------------------------------------------------- samplers


TASKS = ["a", "b", "c"]
SIZES = {"a": 400, "b": 90, "c": 10}


def _drive(sampler, steps) -> list[str]:
    """Draw a task per step; every 5th step the primary's dev score moves (adaptive samplers learn from it)."""
    drawn = []
    for step in steps:
        drawn.append(sampler.next_task(step))
        if step % 5 == 4:
            sampler.update(step, math.sin(step))
    return drawn


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_contract(name):
    options = required(SAMPLERS[name].Options, TASKS)

    def make(seed: int):
        return build_sampler(name, options, TASKS, SIZES, total_steps=100, seed=seed)

    sampler = make(3)
    _drive(sampler, range(40))
    for step in (0, 40, 99):
        probabilities = sampler.probabilities(step)
        assert set(probabilities) == set(TASKS) and all(p >= 0 for p in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0)
    state = json.loads(json.dumps(sampler.state_dict()))  # a checkpoint goes through JSON
    restored = make(99)
    restored.load_state_dict(state)
    assert _drive(restored, range(40, 100)) == _drive(sampler, range(40, 100))
    assert restored.state_dict() == sampler.state_dict()
    assert json.dumps(sampler.describe())  # results.json holds it


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sampler_probabilities_are_a_distribution_for_any_sizes_and_step(name):
    """A property over random draws: task counts, train sizes (1 to 10^6 examples), total steps and the step."""
    rng = np.random.default_rng(0)
    for _ in range(25):
        tasks = [f"t{i}" for i in range(int(rng.integers(1, 6)))]
        sizes = {t: int(rng.integers(1, 1_000_000)) for t in tasks}
        total = int(rng.integers(1, 5000))
        sampler = build_sampler(name, required(SAMPLERS[name].Options, tasks), tasks, sizes, total_steps=total,
                                seed=int(rng.integers(1000)))
        probabilities = sampler.probabilities(int(rng.integers(total)))
        assert list(probabilities) == tasks and all(p >= 0 for p in probabilities.values())
        assert sum(probabilities.values()) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------- protocols, arms


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_protocol_contract(name, tiny_model_dir):
    """Whatever it chooses, under any weighting the config lets it train: a registered protocol that keeps its own
    choice, whose phases train every task, end on the primary, and do what its flags say."""
    protocol, tasks, plan = PROTOCOLS[name](), {"rte", *CANDIDATES}, plan_budget("equal_primary", 100, 1 / 3)
    experiment_from_dict(experiment_dict(tiny_model_dir, transfer={"protocol": name}), check=False)
    with pytest.raises(AuxlearnError, match=re.escape("transfer.protocol: unknown protocol 'no_such'; known: ")):
        experiment_from_dict(experiment_dict(tiny_model_dir, transfer={"protocol": "no_such"}), check=False)
    for sizes in ({"rte": 100, "mrpc": 900, "stsb": 900}, {"rte": 5000, "mrpc": 100, "stsb": 100}):
        arm = Arm("rte", CANDIDATES, {"name": "uniform"}, 10, 2, 0.1, sizes)
        for weighting in [w for w in WEIGHTINGS.values() if protocol.joint or not w.every_task]:  # as the config
            chosen, rule = protocol.choose(arm, weighting)
            phases = PROTOCOLS[chosen]().phases(arm, plan)
            assert rule and PROTOCOLS[chosen]().choose(arm, weighting)[0] == chosen and phases[-1].selector == "rte"
            assert set().union(*(p.tasks for p in phases)) == tasks and all(p.steps >= 1 for p in phases)
            assert phases[-1].evaluate and sum(p.steps for p in phases) >= plan.primary_steps + plan.auxiliary_steps
            joint, pulled = any(set(p.tasks) == tasks for p in phases), phases[-1].regularization > 0
            assert (PROTOCOLS[chosen].joint, PROTOCOLS[chosen].regularizes) == (joint, pulled)
            assert (joint or not weighting.every_task) and pulled <= protocol.regularizes


@pytest.mark.parametrize("name", list(ARMS))
def test_fewshot_arm_contract(name, tiny_model_dir, tmp_path):
    """Trained by default, with train settings of its own; an adapter section that validates for any pre-trained
    poly adapter; an experiment that starts from the pre-trained model or the encoder, as it says."""
    arm, document = ARMS[name](), experiment_dict(tiny_model_dir, auxiliary=CANDIDATES, adapter={"method": "poly"})
    assert arm.name == name and arm.label and arm.polytropon and arm.what
    for poly in (PolyOptions(), PolyOptions(r=2, n_splits=2, target_modules=["query"], train="routing")):
        options_of(ADAPTERS, (section := arm.adapter(poly)).pop("method"), section)
    exp = experiment_from_dict(document, check=False)
    variant = arm_experiment(exp, name, shots=4, seed=1, pretrained=str(tmp_path))
    assert list(exp.fewshot.arms) == list(ARMS) and variant.adapter.method == arm.adapter(PolyOptions())["method"]
    assert variant.model == (str(tmp_path) if arm.pretrained else exp.model) and variant.auxiliary == []
    for arms, error in (({name: {"no_such": 1}}, f"fewshot: arms.{name}.no_such: unknown key"),
                        ({"no_such": {}}, "fewshot.arms: unknown arm 'no_such'; known: ")):
        with pytest.raises(AuxlearnError, match=re.escape(error)):
            experiment_from_dict({**document, "fewshot": {"arms": arms}}, check=False)
