"""Two `auxlearn mix` workers on one study in a real PostgreSQL server (tests/mix_workers.py), as two machines
would share it: every trial is scored once, by one of them, and none is lost or run twice."""

import pytest

from auxlearn.mix.ratio_trials import search_ratios
from conftest import experiment_dict, write_yaml
from mix_workers import postgres_server, run_workers, study_summary

pytestmark = [pytest.mark.data, pytest.mark.slow]
TASKS = ["rte", "mrpc", "stsb"]
N_TRIALS = 6


def test_two_postgresql_workers_score_each_trial_once(tmp_path, tiny_model_dir):
    config = write_yaml(tmp_path / "exp.yaml", experiment_dict(
        tiny_model_dir, auxiliary=TASKS[1:], data={"max_train_examples": 32, "dev_size": 16},
        mix={"method": "random", "n_trials": N_TRIALS, "steps": 4, "study_name": "workers"}))
    with postgres_server() as storage:
        workers = run_workers(config, storage, tmp_path / "runs", timeout=240)
        assert workers["codes"] == [0, 0], workers["logs"]
        summary = study_summary(storage, "workers")
    assert summary["scored"] == N_TRIALS and summary["states"]["COMPLETE"] == N_TRIALS
    # the only other trial a worker may leave: one it asked for as the other took the last (SURPLUS, no proposal)
    assert summary["states"].get("FAIL", 0) == summary["surplus"] <= 1 and "RUNNING" not in summary["states"]
    assert summary["distinct_numbers"] == summary["trials"] and summary["duplicate_params"] == 0
    assert len(summary["scored_by_worker"]) == 2  # both workers took trials
    # Each proposal's sampler is seeded by its index, so the workers drew from the one-process proposals
    # (all of them unless a surplus trial took an index).
    reference = search_ratios(lambda ratios: 0.0, TASKS, method="random", n_trials=N_TRIALS + 1, seed=0)
    proposals = [t["ratios"] for t in reference.trials]
    assert all(params in proposals for params in summary["scored_params"])
