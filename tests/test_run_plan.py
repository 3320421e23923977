"""The plan `auxlearn run` prints first (run_plan.py): its steps are the ones the run then trains, it changes no
result, `--dry-run` prints it and writes nothing, its estimate is of the right size, and bad input still stops
before its warm-up. Each selector's and mixer's own cost is checked in the contract suite (test_contracts.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import auxlearn.step_timing as step_timing
from auxlearn.experiment import prepare
from auxlearn.pipeline import run_pipeline
from auxlearn.run_plan import format_plan, plan_run, priced_plan
from auxlearn.stage_cost import Timing
from auxlearn.select import build_selector
from auxlearn.stage import Stage
from cli_runs import config, run
from contract_kit import record_trainers

pytestmark = pytest.mark.data
# Every candidate kept, so the mixing and the final model train; equal_primary makes the final model longer than
# the baseline, so the control trains too.
RUN = {"auxiliary": ["mrpc", "stsb"], "select": {"method": "all"}, "mix": {"method": "uniform"},
       "transfer": {"protocol": "joint", "budget": "equal_primary"}}


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A cache of its own: the plan warms up instead of reading another test's timings."""
    monkeypatch.setenv("AUXLEARN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def warm_ups(monkeypatch):
    """The warm-ups that ran."""
    calls, warm_up = [], step_timing._warm_up

    def counting(exp, prepared):
        calls.append(exp.name)
        return warm_up(exp, prepared)

    monkeypatch.setattr(step_timing, "_warm_up", counting)
    return calls


@pytest.fixture(scope="module")
def planned_run(tmp_path_factory, make_experiment):
    """One run with its plan, in a cache of its own (so it warmed up)."""
    folder = tmp_path_factory.mktemp("planned")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUXLEARN_CACHE", str(folder / "cache"))
        results = run_pipeline(make_experiment(**RUN), folder / "run")
    return {"folder": folder / "run", "results": results}


def test_the_plan_steps_are_the_ones_the_run_trains(planned_run):
    results = planned_run["results"]
    plan, stages = results["plan"]["stages"], results["stages"]
    assert set(plan) == {"baseline", "select", "mix", "final", "control"} and set(stages) == set(plan)
    assert plan["select"]["trainings"] == [] and plan["mix"]["trainings"] == []  # 'all' and 'uniform' train nothing
    for name in ("baseline", "final", "control"):
        planned = {t["label"].removeprefix("seed_"): t for t in plan[name]["trainings"]}
        assert {seed: t["steps"] for seed, t in planned.items()} == {
            seed: run["planned_steps"] for seed, run in stages[name]["runs"].items()}, name
        for seed, run_ in stages[name]["runs"].items():
            assert [p["steps"] for p in planned[seed]["phases"]] == [p["steps"] for p in run_["phases"]], name
    assert plan["final"]["trainings"][0]["phases"][0]["tasks"] == ["rte", "mrpc", "stsb"]
    assert plan["control"]["steps"] == plan["final"]["steps"] > plan["baseline"]["steps"]


def test_the_estimate_is_of_the_right_size(planned_run):
    """Within 10x of the real seconds of the stages that trained, each and in all (not a timing test: the
    machine may be busy), and the warm-up itself short."""
    results = planned_run["results"]
    estimated, seconds = results["plan"]["estimated_seconds"], results["seconds"]
    for name in ("baseline", "final", "control"):
        assert 0.1 < seconds[name] / estimated[name] < 10, (name, seconds[name], estimated[name])
    trained = sum(seconds[n] for n in ("baseline", "select", "mix", "final", "control"))
    assert 0.1 < trained / estimated["total"] < 10
    warm_up = results["plan"]["warm_up"]
    assert warm_up["cached"] is None and warm_up["steps"] >= 3 and warm_up["seconds"] < 30


def strip_times(value):
    """A results or metrics document without what measures time (and without the plan)."""
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items() if "seconds" not in k and k not in ("plan", "threads")}
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def test_the_plan_changes_no_result(planned_run, tmp_path, make_experiment, warm_ups, fresh_cache):
    """The same run without its plan gives bitwise the same scores, curves and weights; and the plan warmed up
    between the data and the first arm (so its random draws would have shown)."""
    unplanned = tmp_path / "run"
    results = run_pipeline(make_experiment(**RUN), unplanned, plan=False)
    assert warm_ups == [] and "plan" not in results
    planned = planned_run["folder"]
    assert strip_times(results) == strip_times(planned_run["results"])
    files = sorted(p.relative_to(planned) for p in planned.rglob("*") if p.suffix in (".jsonl", ".safetensors"))
    assert any(f.suffix == ".safetensors" for f in files) and files == sorted(
        p.relative_to(unplanned) for p in unplanned.rglob("*") if p.suffix in (".jsonl", ".safetensors"))
    for file in files:
        if file.suffix == ".safetensors":
            assert (planned / file).read_bytes() == (unplanned / file).read_bytes(), file
        else:
            lines = [[strip_times(json.loads(line)) for line in (folder / file).read_text().splitlines()]
                     for folder in (planned, unplanned)]
            assert lines[0] == lines[1], file


def test_the_warm_up_leaves_the_random_states_as_they_were(make_experiment, fresh_cache):
    exp = make_experiment(**RUN)
    prepared = prepare(exp)

    def draws(warm_up: bool):
        torch.manual_seed(1), np.random.seed(1), random.seed(1)
        if warm_up:
            timing, measured = step_timing.machine_timing(exp, prepared)
            assert measured["cached"] is None and timing.train_token > 0 and timing.eval_token > 0
        return torch.rand(1).item(), np.random.rand(), random.random()

    assert draws(warm_up=True) == draws(warm_up=False)


def test_timings_of_one_task_are_measured_again_for_several(make_experiment, warm_ups, fresh_cache):
    """The cache serves a second plan; but timings taken on the primary alone cannot tell a step's fixed part from
    its tokens', so a plan with candidates warms up again (and is then served from the cache)."""
    alone, several = make_experiment(), make_experiment(**RUN)
    for exp in (alone, alone, several, several, alone):
        step_timing.machine_timing(exp, prepare(exp))
    assert len(warm_ups) == 2


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path, tiny_model_dir, monkeypatch, warm_ups, fresh_cache):
    monkeypatch.chdir(tmp_path)  # the default run folder, runs/<name>, would be here
    path = config(tmp_path, tiny_model_dir, **RUN)
    out = tmp_path / "out"
    code, stdout, stderr = run("run", "--dry-run", path, "--out", out)
    assert code == 0, stderr
    assert not out.exists() and not (tmp_path / "runs").exists()
    lines = stdout.splitlines()
    assert lines[0].startswith("plan: 1 seed(s)") and lines[-1].startswith("estimate: a ")
    stages = [line.split()[0] for line in lines[2:-1]]
    assert stages == ["baseline", "select", "mix", "final", "control", "total"]
    assert warm_ups == ["test"]
    code, again, _ = run("run", "--dry-run", path, "--out", out)  # the timings come from the cache now
    assert code == 0 and warm_ups == ["test"] and "timings cached from a warm-up" in again


@pytest.mark.parametrize("sections, args, needle", [
    ({"select": {"method": "exhaustive", "top_k": 0}}, [], "select.top_k"),
    ({"select": {"method": "autosem", "rounds": 2, "min_plays": 2}}, [], "rounds=2 is too few"),
    ({"primary": "no_such_task"}, [], "no_such_task"),
    ({}, ["--baseline-from", "nowhere"], "--baseline-from nowhere"),
])
def test_bad_input_stops_before_the_warm_up(tmp_path, tiny_model_dir, warm_ups, fresh_cache, sections, args, needle):
    path = config(tmp_path, tiny_model_dir, **{**RUN, **sections})
    code, _, stderr = run("run", "--dry-run", path, "--out", tmp_path / "out", *args)
    assert code == 2 and needle in stderr and "Traceback" not in stderr
    assert warm_ups == [] and not (tmp_path / "out").exists()


def test_the_baseline_says_how_many_passes_over_the_primary_its_steps_are(make_experiment):
    exp = make_experiment(**RUN, data={"max_train_examples": {"rte": 40}, "dev_size": 8},
                          train={"steps": 25, "batch_size": 8, "grad_accum": 2})
    assert plan_run(exp, prepare(exp)).stages["baseline"].what == (
        "rte alone, 25 steps of 16 = 10 epochs of its 40 training examples")


def test_a_selection_that_keeps_fewer_is_planned_with_the_costliest(make_experiment):
    """exhaustive with top_k 1 keeps one candidate, which the plan cannot know without training: the final model is
    planned with the one whose arm is longest, which under the proportional sampler and equal_primary is the larger
    task."""
    sections = {**RUN, "select": {"method": "exhaustive", "top_k": 1}, "mix": {"method": "proportional"}}
    for big, small in (("mrpc", "stsb"), ("stsb", "mrpc")):
        exp = make_experiment(**sections, data={"max_train_examples": {"rte": 48, big: 96, small: 24}, "dev_size": 8})
        plan = plan_run(exp, prepare(exp))
        final = plan.stages["final"]
        assert final.trainings[0].phases[0]["tasks"] == ["rte", big] and "the 1 costliest of 2" in final.note


def test_a_selector_that_trains_nothing_is_run_by_the_plan(tmp_path, make_experiment, monkeypatch):
    """similarity keeps one candidate by embeddings alone: the plan runs it, plans the final model with that one
    (not the costliest) and says so; the run then keeps the same, and nothing trained while planning."""
    sections = {**RUN, "select": {"method": "similarity", "top_k": 1}}
    exp = make_experiment(**sections, data={"max_train_examples": {"rte": 48, "mrpc": 96, "stsb": 24}, "dev_size": 8})
    prepared = prepare(exp)
    trainings = record_trainers(monkeypatch)
    plan = plan_run(exp, prepared)
    assert trainings == []
    kept = build_selector("similarity", {"top_k": 1}).select(Stage(exp, prepared, tmp_path)).selected
    assert len(kept) == 1 and f"keeps {kept[0]}" in plan.stages["select"].note
    assert plan.stages["final"].trainings[0].phases[0]["tasks"] == ["rte", *kept]
    assert "costliest" not in plan.stages["final"].note


def test_the_estimate_multiplies_the_timings(make_experiment, monkeypatch):
    """Twice the seconds per token and per set-up give about twice the estimate; the printed plan says what it
    rests on."""
    exp = make_experiment(**RUN)
    prepared = prepare(exp)
    slow, fast = Timing(0.2, 0.01, 2e-5, 1e-5), Timing(0.1, 0.005, 1e-5, 5e-6)
    for timing in (slow, fast):
        monkeypatch.setattr("auxlearn.run_plan.machine_timing", lambda *_, t=timing: (t, {"seconds": 1.0}))
        plan = priced_plan(exp, prepared)
        if timing is slow:
            slow_total = plan.seconds
    assert plan.seconds == pytest.approx(slow_total / 2)
    assert "ms per step" in format_plan(plan) and plan.to_json()["estimated_seconds"]["total"] == plan.seconds


def test_the_fit_separates_the_step_from_its_tokens():
    assert step_timing._fit([(100, 0.02 + 100e-4), (400, 0.02 + 400e-4)]) == pytest.approx((0.02, 1e-4))
    assert step_timing._fit([(100, 0.01), (110, 0.011)])[0] == 0  # too alike to tell: through the origin
    assert step_timing._fit([(100, 0.05), (400, 0.01)]) == (0.0, pytest.approx(9 / 170000))  # slower when shorter


def test_the_plan_is_json(planned_run):
    plan = json.loads(Path(planned_run["folder"], "results.json").read_text())["plan"]
    assert plan["estimated_seconds"]["total"] == pytest.approx(sum(
        v for k, v in plan["estimated_seconds"].items() if k != "total"))
