"""`select: {method: gradts}` end to end on a tiny random BERT and real slices of RTE, MRPC and STS-B (the trial
rule alone: test_gradts_trial.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from auxlearn.config import experiment_from_dict
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import prepare
from auxlearn.select import SELECTORS, build_selector
from auxlearn.select.gradts import HeadImportance, filter_instances, instance_taus, kendall_tau
from auxlearn.select.gradts import measure
from auxlearn.select.gradts import selector as gradts_selector
from auxlearn.select.gradts.selector import GradTSSelector
from auxlearn.stage import Stage

from conftest import experiment_dict, save_tiny_bert

pytestmark = pytest.mark.data
FAST = {"finetune_examples": 32, "finetune_batch_size": 8, "importance_examples": 32,
        "importance_batch_size": 16}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tokenizer) -> str:
    """A random 2-layer BERT with 4 heads per layer (8 heads: taus take more distinct values than with 2x2)."""
    return save_tiny_bert(tmp_path_factory.mktemp("bert-2x4"), tokenizer, num_attention_heads=4)


@pytest.fixture(scope="module")
def exp(model_dir):
    return experiment_from_dict(experiment_dict(
        model_dir, auxiliary=["mrpc", "stsb"], data={"max_train_examples": 48, "max_length": 48},
        train={"steps": 4, "eval_every": 2}))


@pytest.fixture(scope="module")
def prepared(exp):
    return prepare(exp)


def gradts(**options) -> GradTSSelector:
    return GradTSSelector(GradTSSelector.Options(**options))


@pytest.fixture()
def counted(monkeypatch):
    """Count fine-tunes and importance passes of the selector."""
    calls = {"finetune": 0, "importance": 0}
    finetune, importance = measure.finetune, measure.head_importance

    def counting_finetune(*args, **kwargs):
        calls["finetune"] += 1
        return finetune(*args, **kwargs)

    def counting_importance(*args, **kwargs):
        calls["importance"] += 1
        return importance(*args, **kwargs)

    monkeypatch.setattr(measure, "finetune", counting_finetune)
    monkeypatch.setattr(measure, "head_importance", counting_importance)
    return calls


@pytest.fixture(scope="module")
def first_run(exp, prepared, tmp_path_factory):
    """One top-k selection with the cache on: the matrices every later test re-reads from the cache."""
    folder = tmp_path_factory.mktemp("gradts") / "select"
    selection = gradts(mode="top_k", top_k=1, **FAST).select(Stage(exp, prepared, folder))
    return selection, folder


def test_registered_and_options_checked():
    assert SELECTORS["gradts"] is GradTSSelector
    with pytest.raises(AuxlearnError, match="select.mode: "):
        build_selector("gradts", {"mode": "best"})
    with pytest.raises(AuxlearnError, match="select.top_k: mode top_k needs top_k >= 1"):
        build_selector("gradts", {"mode": "top_k"})
    with pytest.raises(AuxlearnError, match="select.instances: instances must be"):
        build_selector("gradts", {"instances": {"threshold": 0.5, "coverage": 0.5}})
    with pytest.raises(AuxlearnError, match="select.instances: instances.coverage must be in"):
        build_selector("gradts", {"instances": {"coverage": 1.5}})
    with pytest.raises(AuxlearnError, match="select.trial_sampler: fixed.ratios: Field required"):
        build_selector("gradts", {"trial_sampler": "fixed"})
    with pytest.raises(AuxlearnError, match="select.tau: unknown option of 'gradts'; allowed: mode, threshold"):
        build_selector("gradts", {"tau": 0.5})


def test_end_to_end_writes_matrices_and_taus(first_run, prepared):
    selection, folder = first_run
    assert selection.method == "gradts"
    assert set(selection.scores) == {"mrpc", "stsb"}
    ranking = selection.details["ranking"]
    assert [r["tau"] for r in ranking] == sorted((r["tau"] for r in ranking), reverse=True)
    assert selection.selected == [ranking[0]["task"]]
    for task in ("rte", "mrpc", "stsb"):
        imp = HeadImportance.load(folder / "importance" / f"{task}.npz")
        assert imp.task.shape == (2, 4) and imp.task.min() == 0.0 and imp.task.max() == 1.0
        assert imp.num_examples == 32
        assert set(imp.example_ids.tolist()) <= set(prepared.data[task].train.example_ids.tolist())
        cost = selection.details["costs"][task]
        assert cost["finetune_steps"] == 4 and cost["finetune_seconds"] > 0 and cost["importance_seconds"] > 0
    written = json.loads((folder / "gradts.json").read_text())
    assert written["taus"] == pytest.approx(selection.scores)
    assert [r["task"] for r in written["ranking"]] == [r["task"] for r in ranking]
    primary = HeadImportance.load(folder / "importance" / "rte.npz")
    for task in ("mrpc", "stsb"):
        other = HeadImportance.load(folder / "importance" / f"{task}.npz")
        assert selection.scores[task] == pytest.approx(kendall_tau(primary.task, other.task))


def test_cache_is_reused(first_run, exp, prepared, tmp_path, counted):
    selection, folder = first_run
    again = gradts(mode="top_k", top_k=1, **FAST).select(Stage(exp, prepared, tmp_path / "select"))
    assert counted == {"finetune": 0, "importance": 0}
    assert again.scores == selection.scores
    assert all(c["cached"] for c in again.details["costs"].values())
    assert again.details["costs"]["rte"]["computed"]["finetune_steps"] == 4
    a = HeadImportance.load(folder / "importance" / "mrpc.npz")
    b = HeadImportance.load(tmp_path / "select" / "importance" / "mrpc.npz")
    np.testing.assert_array_equal(a.instances, b.instances)
    # a setting that changes the result is a new cache entry
    gradts(mode="top_k", top_k=1, **{**FAST, "normalization": "l2"}).select(
        Stage(exp, prepared, tmp_path / "l2"))
    assert counted == {"finetune": 3, "importance": 3}


def test_a_damaged_cache_entry_is_measured_again(first_run, exp, prepared, tmp_path, counted, caplog):
    from auxlearn.data.encode import default_cache_dir

    selection, _ = first_run
    for entry in (default_cache_dir() / "importance").glob("mrpc-*.npz"):
        entry.write_bytes(b"damaged")
    again = gradts(mode="top_k", top_k=1, **FAST).select(Stage(exp, prepared, tmp_path / "select"))
    assert counted == {"finetune": 1, "importance": 1}
    assert again.scores == pytest.approx(selection.scores)
    assert "unreadable" in caplog.text


def _stub_importance(monkeypatch, matrices):
    """Replace fine-tuning + importance by fixed task-level matrices."""
    def importance(stage, task, options, *, whole_split=False):
        m = np.asarray(matrices[task], dtype=np.float64)
        return HeadImportance(task=m, instances=m[None].astype(np.float32), example_ids=np.array([0]),
                              task_raw=m), {"cached": False}

    monkeypatch.setattr(gradts_selector, "task_importance", importance)


def test_threshold_and_top_k_follow_the_taus(exp, prepared, tmp_path, monkeypatch):
    p = np.arange(8.0).reshape(2, 4) / 7
    mrpc = p.copy()
    mrpc.flat[[0, 1]] = mrpc.flat[[1, 0]]  # one discordant pair of 28
    stsb = p[::-1, ::-1].copy()  # reversed: tau -1
    _stub_importance(monkeypatch, {"rte": p, "mrpc": mrpc, "stsb": stsb})
    taus = {"mrpc": kendall_tau(p, mrpc), "stsb": -1.0}
    assert taus["mrpc"] == pytest.approx(26 / 28)

    def run(name, **options):
        selection = gradts(**options).select(Stage(exp, prepared, tmp_path / name))
        assert selection.scores == pytest.approx(taus)
        return selection.selected

    assert run("a", mode="threshold", threshold=0.9) == ["mrpc"]
    assert run("b", mode="threshold", threshold=taus["mrpc"]) == ["mrpc"]  # tau >= t keeps equality
    assert run("c", mode="threshold", threshold=0.95) == []
    assert run("d", mode="threshold", threshold=-1.0) == ["mrpc", "stsb"]
    assert run("e", mode="top_k", top_k=1) == ["mrpc"]
    assert run("f", mode="top_k", top_k=5) == ["mrpc", "stsb"]


def test_threshold_and_top_k_on_real_taus(first_run, exp, prepared, tmp_path):
    taus = first_run[0].scores
    ranked = sorted(taus, key=lambda t: (-taus[t], t))
    picked = gradts(mode="threshold", threshold=min(taus.values()), **FAST).select(
        Stage(exp, prepared, tmp_path / "a"))
    assert picked.selected == ranked
    picked = gradts(mode="threshold", threshold=max(taus.values()) + 1e-9, **FAST).select(
        Stage(exp, prepared, tmp_path / "b"))
    assert picked.selected == []
    picked = gradts(mode="top_k", top_k=5, **FAST).select(Stage(exp, prepared, tmp_path / "c"))
    assert picked.selected == ranked


@pytest.mark.parametrize("scores, expected, ran", [
    ((0.5, 0.6, 0.7), 2, 3),   # improving: the primary alone and both prefixes run, the longer wins
    ((0.5, 0.7, 0.6), 1, 3),   # decrease: stop after trial 2, keep the first prefix
    ((0.7, 0.6, 0.9), 0, 2),   # trial 1 falls below the primary alone: stop there, select nothing
    ((0.6, 0.6, 0.6), 0, 3),   # no prefix STRICTLY beats the primary alone: select nothing
])
def test_trial_mode_decisions(first_run, exp, prepared, tmp_path, monkeypatch, scores, expected, ran):
    order = [r["task"] for r in first_run[0].details["ranking"]]
    calls = []

    def fake_train(self, name, *, auxiliary, sampler=None, steps=None, seed=None, **train):
        calls.append({"name": name, "auxiliary": list(auxiliary), "steps": steps, "sampler": sampler, "seed": seed,
                      "train": train})
        return {"dev_best": {"rte": {"main": scores[len(calls) - 1]}}}

    monkeypatch.setattr(Stage, "train", fake_train)
    selection = gradts(mode="trial", trial_steps=7, trial_sampler="uniform", **FAST).select(
        Stage(exp, prepared, tmp_path / "s"))
    assert [c["auxiliary"] for c in calls] == [order[:k] for k in range(ran)]  # trial 0: the primary alone
    assert [c["name"] for c in calls] == [f"trial_{k}" for k in range(ran)]  # one folder per trial
    # every trial, trial 0 included, trains through the same path: same steps, sampler, seed and settings
    assert all({**c, "name": None, "auxiliary": None} == {**calls[0], "name": None, "auxiliary": None}
               for c in calls)
    assert calls[0]["steps"] == 7 and calls[0]["sampler"] == {"name": "uniform"}
    assert calls[0]["train"] == {"eval_tasks": []}
    assert selection.selected == order[:expected]
    trials = selection.details["trials"]
    assert [t["k"] for t in trials] == list(range(ran)) and trials[0]["tasks"] == ["rte"]
    assert [t["score"] for t in trials] == list(scores[:ran])
    written = json.loads((tmp_path / "s" / "gradts.json").read_text())
    assert written["trials"] == selection.details["trials"] and written["selected"] == selection.selected


def test_trial_mode_trains_for_real(exp, prepared, tmp_path):
    """The default trial budget is the experiment's train.steps; each trial, the primary alone (trial 0)
    included, writes its own folder with the same training settings and seed."""
    selection = gradts(mode="trial", **FAST).select(Stage(exp, prepared, tmp_path / "select"))
    trials = selection.details["trials"]
    assert 2 <= len(trials) <= 3 and trials[0]["k"] == 0
    configs = []
    for trial in trials:
        results = json.loads((tmp_path / "select" / f"trial_{trial['k']}" / "results.json").read_text())
        assert results["tasks"] == trial["tasks"]
        configs.append(results["config"])
    # (the arm's total steps depend on its tasks through the transfer budget; the requested budget does not)
    assert configs[0]["train"]["steps"] == exp.train.steps and configs[0]["auxiliary"] == []
    assert all(c["seed"] == configs[0]["seed"] and c["train"] == configs[0]["train"] for c in configs)
    best = max(t["score"] for t in trials)
    first_best = next(t for t in trials if t["score"] == best)
    assert selection.selected == first_best["tasks"][1:]


def test_fg_keeps_instances_at_or_over_the_threshold(exp, prepared, tmp_path):
    stage = Stage(exp, prepared, tmp_path / "select")
    probe = gradts(mode="top_k", top_k=2, instances={"coverage": 1.0}, **FAST).select(stage)
    primary = HeadImportance.load(tmp_path / "select" / "importance" / "rte.npz")
    for task in ("mrpc", "stsb"):
        imp = HeadImportance.load(tmp_path / "select" / "importance" / f"{task}.npz")
        # with fg the candidates' importance covers their whole train split
        assert sorted(imp.example_ids.tolist()) == sorted(prepared.data[task].train.example_ids.tolist())
        assert sorted(probe.instances[task]) == sorted(imp.example_ids.tolist())
    mrpc = HeadImportance.load(tmp_path / "select" / "importance" / "mrpc.npz")
    taus = instance_taus(primary.task, mrpc.instances)
    t = float(np.median(taus))
    selection = gradts(mode="top_k", top_k=2, instances={"threshold": t}, **FAST).select(
        Stage(exp, prepared, tmp_path / "select2"))
    expected = {int(i) for i, tau in zip(mrpc.example_ids, taus) if tau >= t}
    assert set(selection.instances["mrpc"]) == expected
    assert 0 < len(expected) < mrpc.num_examples
    assert selection.details["instances"]["mrpc"]["kept"] == len(expected)
    written = json.loads((tmp_path / "select2" / "gradts.json").read_text())
    assert written["instances"]["mrpc"]["kept"] == len(expected)


def test_parity_reference_changes_the_statistic(first_run, exp, prepared, tmp_path):
    gradts(mode="top_k", top_k=1, parity="reference", **FAST).select(Stage(exp, prepared, tmp_path / "s"))
    mask = HeadImportance.load(first_run[1] / "importance" / "rte.npz")
    ref = HeadImportance.load(tmp_path / "s" / "importance" / "rte.npz")
    assert mask.statistic == "head_mask" and ref.statistic == "reference"
    np.testing.assert_array_equal(mask.example_ids, ref.example_ids)
    assert not np.allclose(mask.task_raw, ref.task_raw)


def test_pipeline_with_fg(model_dir, tmp_path):
    from auxlearn.pipeline import run_pipeline

    exp = experiment_from_dict(experiment_dict(
        model_dir, auxiliary=["mrpc", "stsb"], data={"max_train_examples": 48, "max_length": 48},
        train={"steps": 4, "eval_every": 2},
        select={"method": "gradts", "mode": "top_k", "top_k": 1, "instances": {"coverage": 0.5}, **FAST},
        mix={"method": "uniform"}, transfer={"protocol": "joint"}))
    results = run_pipeline(exp, tmp_path / "run")
    assert (tmp_path / "run" / "results.json").is_file()
    selection = json.loads((tmp_path / "run" / "select" / "selection.json").read_text())
    (aux,) = selection["selected"]
    kept = selection["instances"][aux]
    assert len(kept) == 24  # ceil(0.5 * 48)
    primary = HeadImportance.load(tmp_path / "run" / "select" / "importance" / "rte.npz")
    imp = HeadImportance.load(tmp_path / "run" / "select" / "importance" / f"{aux}.npz")
    expected = filter_instances(imp.example_ids, instance_taus(primary.task, imp.instances), coverage=0.5)
    assert sorted(kept) == sorted(expected.tolist())
    assert results["selected"] == [aux] and results["stages"]["select"]["method"] == "gradts"
    final = json.loads((tmp_path / "run" / "final" / "seed_0" / "results.json").read_text())
    assert final["tasks"] == ["rte", aux]
    assert final["train_sizes"] == {"rte": 48, aux: 24}
