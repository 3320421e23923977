"""Re-running into the same folder continues where a run stopped: finished arms (seeds, trials, stages) are read
back, not trained again, and give the same numbers; anything that changed what an arm trains on retrains it."""

from __future__ import annotations

import json
import shutil

import pytest

from auxlearn.experiment import train_experiment
from auxlearn.pipeline import run_pipeline
from conftest import write_yaml


def _mtime(path):
    return path.stat().st_mtime_ns


@pytest.mark.data
def test_a_finished_arm_is_read_back_and_a_changed_one_retrained(tmp_path, make_experiment):
    exp = make_experiment()
    first = train_experiment(exp, tmp_path)
    stamp = _mtime(tmp_path / "metrics.jsonl")
    assert train_experiment(exp, tmp_path) == first
    assert _mtime(tmp_path / "metrics.jsonl") == stamp  # not trained again

    longer = make_experiment(train={"steps": 12})
    assert train_experiment(longer, tmp_path)["steps"] == 12

    (tmp_path / "results.json").write_text('{"protocol": ', encoding="utf-8")  # damaged by a crash
    again = train_experiment(longer, tmp_path)
    assert again["steps"] == 12 and json.loads((tmp_path / "results.json").read_text())["steps"] == 12


def test_an_edited_task_file_retrains_the_arm(tmp_path, make_experiment):
    rows = [{"text": f"sentence {i} {'good' if i % 2 else 'bad'}", "label": ["bad", "good"][i % 2]}
            for i in range(40)]

    def write_data(data):
        (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")

    write_data(rows)
    task_file = write_yaml(tmp_path / "tasks.yaml", {"tasks": [{
        "name": "mood", "type": "classification", "text_fields": ["text"], "label_field": "label",
        "files": {"train": "data.jsonl", "eval": "data.jsonl"}}]})
    exp = make_experiment(primary="mood", task_files=[str(task_file)],
                          data={"dev_size": 8})
    out = tmp_path / "run"
    train_experiment(exp, out)
    stamp = _mtime(out / "metrics.jsonl")
    train_experiment(exp, out)
    assert _mtime(out / "metrics.jsonl") == stamp  # the same rows: finished
    write_data([{**r, "label": "good"} if i == 0 else r for i, r in enumerate(rows)])  # one label corrected
    train_experiment(exp, out)
    assert _mtime(out / "metrics.jsonl") != stamp


@pytest.mark.data
def test_a_killed_run_resumes_without_retraining_finished_seeds(tmp_path, make_experiment):
    # min_gain -1: the pair is kept whatever its dev gain, so the final trains.
    exp = make_experiment(auxiliary=["mrpc"], seeds=[0, 1],
                          select={"method": "exhaustive", "seeds": 1, "min_gain": -1.0},
                          mix={"method": "uniform"},
                          data={"max_train_examples": 32})
    run = tmp_path / "run"
    first = run_pipeline(exp, run)
    finished = {p: _mtime(p) for p in run.rglob("metrics.jsonl")}
    # As if killed while training the last final seed: its arm never wrote results.json.
    shutil.rmtree(run / "final" / "seed_1")
    (run / "results.json").unlink()
    second = run_pipeline(exp, run)
    for key in ("gain", "selected", "ratios"):
        assert second[key] == first[key], key
    for stage in ("baseline", "final"):
        assert second["stages"][stage]["eval"] == first["stages"][stage]["eval"], stage
    retrained = sorted(str(p.relative_to(run)) for p, stamp in finished.items() if not p.exists()
                       or _mtime(p) != stamp)
    # Only the killed seed trained again (both its phases); the baseline, the selection trials and seed 0 did not.
    assert "final/seed_1/metrics.jsonl" in retrained and all(p.startswith("final/seed_1/") for p in retrained)
    trained_once = [str(p.relative_to(run)) for p in finished]
    assert any(p.startswith("select/") for p in trained_once) and any(p.startswith("baseline/") for p in trained_once)
