"""Early stopping: on the primary's dev score in its metric's direction, after ``patience`` evaluations without a
gain, and, in a joint arm, counted in the primary's batches, so that auxiliary batches never shorten the primary's
recipe."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from auxlearn.data.loading import load_split
from auxlearn.experiment import train_experiment
from auxlearn.tasks import builtin_tasks
from conftest import write_yaml
from test_training import read_metrics

pytestmark = pytest.mark.data


# --- early stopping --------------------------------------------------------------------------------------------

def _assert_best_and_patience(out, results, primary, patience, budget, lower_is_better):
    records = read_metrics(out)
    scores = [r["dev"][primary]["main"] for r in records]
    pick = np.argmin if lower_is_better else np.argmax
    best = int(pick(scores))  # numpy picks the first of equal scores, as strict improvement does
    assert results["best_step"] == records[best]["step"]
    assert results["dev_best"] == records[best]["dev"]
    assert results["stopped"] == "patience"
    assert results["steps"] < budget and results["steps"] == records[-1]["step"]
    assert len(records) - 1 - best == patience  # stopped right after `patience` evaluations without a gain
    assert scores[best] != scores[int((np.argmax if lower_is_better else np.argmin)(scores))]
    return scores


def test_early_stopping_on_a_maximised_regression_metric(make_experiment, tmp_path):
    exp = make_experiment(
        primary="stsb", data={"max_train_examples": 32, "dev_size": 48},
        train={"steps": 400, "eval_every": 2, "patience": 3, "lr": 3e-3})
    results = train_experiment(exp, tmp_path)
    assert builtin_tasks()["stsb"].direction == "maximize"
    _assert_best_and_patience(tmp_path, results, "stsb", 3, 400, lower_is_better=False)
    assert set(results["eval"]["stsb"]) == {"pearson", "spearman", "main"}


def test_early_stopping_on_a_minimised_user_metric(make_experiment, tmp_path):
    rows = load_split(builtin_tasks()["stsb"], "train", os.environ["AUXLEARN_DATA_DIR"]).select(range(160))
    lines = ["text,score"] + [f"\"{r['sentence1'].replace(chr(34), '')}\",{r['label']}" for r in rows]
    (tmp_path / "train.csv").write_text("\n".join(lines[:121]) + "\n")
    (tmp_path / "eval.csv").write_text("\n".join([lines[0], *lines[121:]]) + "\n")
    write_yaml(tmp_path / "tasks.yaml", {"tasks": [{
        "name": "similarity", "type": "regression", "files": {"train": "train.csv", "eval": "eval.csv"},
        "text_fields": ["text"], "label_field": "score", "metrics": ["mse", "pearson"], "main_metric": "mse"}]})
    exp = make_experiment(
        primary="similarity", task_files=[str(tmp_path / "tasks.yaml")],
        data={"max_train_examples": None, "dev_size": 40},
        train={"steps": 400, "eval_every": 2, "patience": 3, "lr": 3e-3})
    results = train_experiment(exp, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "model" / "tasks.json").read_text())["similarity"]["direction"] == \
        "minimize"
    scores = _assert_best_and_patience(tmp_path / "run", results, "similarity", 3, 400, lower_is_better=True)
    assert results["dev_best"]["similarity"]["main"] == min(scores)
    assert results["eval"]["similarity"]["main"] == results["eval"]["similarity"]["mse"]
    assert math.isfinite(results["eval"]["similarity"]["mse"])


def test_a_joint_arms_patience_counts_the_primarys_batches(make_experiment, tmp_path):
    """RTE draws one batch in four beside MNLI: it is scored every 2 of its own batches (8 steps), and the arm stops
    after 3 evaluations without a gain, 6 RTE batches, as RTE alone would, not after 6 steps."""
    exp = make_experiment(
        auxiliary=["mrpc"], data={"max_train_examples": 32, "dev_size": 48},
        train={"steps": 100, "eval_every": 2, "patience": 3, "lr": 3e-3,
               "sampler": {"name": "round_robin", "ratios": {"rte": 1, "mrpc": 3}}},
        transfer={"protocol": "joint", "budget": "equal_primary"})
    results = train_experiment(exp, tmp_path)
    records = read_metrics(tmp_path)
    assert results["phases"][0]["label"] == "joint" and results["planned_steps"] == 400
    assert [r["step"] for r in records] == [8 * (i + 1) for i in range(len(records))]
    assert all(r["batches"] == {"rte": 2, "mrpc": 6} for r in records)  # 2 of the primary's batches apart
    assert results["phases"][0]["stopped"] == "patience" and results["steps"] < 400
    best = [r["step"] for r in records].index(results["best_step"])
    assert len(records) - 1 - best == 3  # 3 evaluations without a gain: 6 of RTE's batches, 24 steps
