"""A training run interrupted at any step and re-run into its folder goes on from its last checkpoint and ends
with exactly the numbers, curves and weights of an uninterrupted run (model, optimisers, sampler or bandit, data
order, every random generator)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from auxlearn.config import experiment_from_dict
from auxlearn.experiment import train_experiment
from conftest import experiment_dict
from kill_runs import killed_at_step, without_timing

pytestmark = pytest.mark.data

def _curve(folder):
    return [without_timing(json.loads(line)) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def _weights(folder):
    return {**load_file(str(folder / "model" / "model.safetensors")),
            **load_file(str(folder / "model" / "heads.safetensors"))}


ARMS = {
    # A random sampler with per-task optimisers: its generator, both data orders and two optimisers are restored.
    "joint": dict(auxiliary=["mrpc"], transfer={"protocol": "joint", "budget": "equal_total"},
                  train={"sampler": {"name": "proportional"}, "optimizer": "per_task", "eval_every": 2}),
    # Two phases (MRPC, then RTE from its weights): the finished first phase is loaded, not trained again.
    "sequential": dict(auxiliary=["mrpc"], transfer={"protocol": "sequential", "budget": "equal_total"},
                       train={"sampler": {"name": "uniform"}, "steps": 16}),
}


@pytest.mark.parametrize("arm", sorted(ARMS))
def test_an_interrupted_run_resumes_to_the_uninterrupted_numbers(tmp_path, tiny_model_dir, monkeypatch, arm):
    sections = ARMS[arm]
    doc = experiment_dict(tiny_model_dir, **{k: v for k, v in sections.items() if k != "train"},
                          data={"max_train_examples": 40}, train={"steps": 12, "checkpoint_every": 3,
                                                                   **sections["train"]})
    exp = experiment_from_dict(doc)
    whole = train_experiment(exp, tmp_path / "whole")
    # Joint: killed in step 5 (resumes from 3), then in its 7th step (step 10, resumes from 9). Sequential: 8 steps
    # of MRPC, then 8 of RTE; killed in RTE's 5th step, so phase 2 resumes from its step 3.
    kills = (5, 7) if arm == "joint" else (13,)
    for kill in kills:
        killed_at_step(monkeypatch, kill, lambda: train_experiment(exp, tmp_path / "killed"))
    assert not (tmp_path / "killed" / "results.json").exists()
    assert (tmp_path / "killed" / "checkpoint" / "checkpoint.json").is_file()
    resumed = train_experiment(exp, tmp_path / "killed")
    assert resumed["resumed_from_step"] == (9 if arm == "joint" else 3)
    assert [p["steps"] for p in resumed["phases"]] == ([12] if arm == "joint" else [8, 8])
    assert without_timing(resumed) == without_timing(whole)
    assert _curve(tmp_path / "killed") == _curve(tmp_path / "whole")
    mine, theirs = _weights(tmp_path / "killed"), _weights(tmp_path / "whole")
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    leftovers = [p.name for p in (tmp_path / "killed").rglob("*") if "checkpoint" in p.name or p.name == "model"
                 and p.parent.name.startswith("phase")]
    assert leftovers == []  # a finished arm keeps no checkpoint and no earlier phase's model


def test_a_checkpoint_of_another_training_is_not_resumed(tmp_path, tiny_model_dir, monkeypatch):
    doc = experiment_dict(tiny_model_dir, train={"steps": 9, "checkpoint_every": 3})
    killed_at_step(monkeypatch, 5, lambda: train_experiment(experiment_from_dict(doc), tmp_path))
    changed = experiment_from_dict({**doc, "train": {**doc["train"], "lr": 5e-4}})
    results = train_experiment(changed, tmp_path)
    assert results["resumed_from_step"] == 0
    assert without_timing(results) == without_timing(train_experiment(changed, tmp_path / "fresh"))
    steps = [record["step"] for record in map(json.loads, (tmp_path / "metrics.jsonl").read_text().splitlines())]
    assert steps == [5, 9]  # the killed run's records were removed with it


def test_checkpoints_can_be_turned_off(tmp_path, tiny_model_dir, monkeypatch):
    doc = experiment_dict(tiny_model_dir, train={"steps": 9, "checkpoint_every": None})
    killed_at_step(monkeypatch, 8, lambda: train_experiment(experiment_from_dict(doc), tmp_path))
    assert not any(p.name.endswith("checkpoint") for p in tmp_path.iterdir())
    assert train_experiment(experiment_from_dict(doc), tmp_path)["resumed_from_step"] == 0


def test_an_interrupted_bandit_resumes_with_its_posteriors(tmp_path, make_experiment, monkeypatch):
    """AutoSeM's bandit run (a sampler owned by the selector): resumed mid-way from its checkpoint, then, finished,
    read back with the state it learned instead of trained again."""
    from auxlearn.experiment import prepare
    from auxlearn.stage import Stage
    from auxlearn.train.samplers.thompson import ThompsonBanditSampler

    exp = make_experiment(auxiliary=["mrpc", "stsb"],
                          data={"max_train_examples": 40}, train={"checkpoint_every": 4})
    prepared = prepare(exp)

    def bandit_run(folder):
        sampler = ThompsonBanditSampler(exp.tasks, {t: 40 for t in exp.tasks}, total_steps=16, seed=0)
        results = Stage(exp, prepared, folder).train_with("bandit", sampler, steps=16, eval_every=2,
                                                          optimizer="per_task")
        return results, sampler.describe()

    whole, learned = bandit_run(tmp_path / "whole")
    killed_at_step(monkeypatch, 10, lambda: bandit_run(tmp_path / "killed"))
    resumed, relearned = bandit_run(tmp_path / "killed")
    assert resumed["resumed_from_step"] == 8
    assert relearned == learned and without_timing(resumed) == without_timing(whole)
    stamp = (tmp_path / "killed" / "bandit" / "metrics.jsonl").stat().st_mtime_ns
    again, read_back = bandit_run(tmp_path / "killed")
    assert read_back == learned and again == resumed
    assert (tmp_path / "killed" / "bandit" / "metrics.jsonl").stat().st_mtime_ns == stamp  # not trained again


def test_a_damaged_checkpoint_is_an_error_naming_it(tmp_path, make_experiment, monkeypatch):
    from auxlearn.errors import DamagedFileError

    exp = make_experiment(train={"steps": 9, "checkpoint_every": 3})
    killed_at_step(monkeypatch, 5, lambda: train_experiment(exp, tmp_path))
    (tmp_path / "checkpoint" / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(DamagedFileError, match=f"{tmp_path / 'checkpoint'}.*delete it to start over"):
        train_experiment(exp, tmp_path)
