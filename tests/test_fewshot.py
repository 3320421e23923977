"""k-shot draws, the few-shot study (`auxlearn adapt`) end to end on the tiny BERT, and a saved adapter model
through `auxlearn evaluate` and `predict`."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from auxlearn.cli import main
from auxlearn.config import experiment_from_dict
from auxlearn.data.shots import draw_shots
from auxlearn.errors import AuxlearnError
from auxlearn.experiment import prepare, with_shots
from auxlearn.fewshot.adaptation import arm_experiment
from auxlearn.fewshot.arms import ARMS
from conftest import experiment_dict, write_yaml

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def rte(make_experiment):
    exp = make_experiment(data={"max_train_examples": 200, "dev_size": 60})
    return exp, prepare(exp)


def _classes(split) -> dict[int, int]:
    values, counts = np.unique(split.labels, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


def test_shots_draw_k_per_class_for_train_and_dev_and_each_seed_anew(rte):
    exp, prepared = rte
    drawn = {seed: with_shots(_with(exp, 4, seed), prepared) for seed in (0, 1)}
    for data in drawn.values():
        task = data.data["rte"]
        assert _classes(task.train) == {0: 4, 1: 4} and _classes(task.dev) == {0: 4, 1: 4}
        assert not set(task.train.example_ids) & set(task.dev.example_ids)  # dev from the dev carve
        assert set(task.train.example_ids) <= set(prepared.data["rte"].train.example_ids)
    assert set(drawn[0].data["rte"].train.example_ids) != set(drawn[1].data["rte"].train.example_ids)
    again = with_shots(_with(exp, 4, 0), prepared).data["rte"]
    assert list(again.train.example_ids) == list(drawn[0].data["rte"].train.example_ids)
    assert len(prepared.data["rte"].train) == 200  # the prepared data is left whole for other seeds


def _with(exp, shots, seed):
    document = exp.model_dump()
    document["data"]["shots"], document["seed"] = shots, seed
    return experiment_from_dict(document, check=False)


def test_every_arm_of_a_seed_trains_on_the_same_draw(rte, tmp_path):
    exp, prepared = rte
    poly = experiment_from_dict({**exp.model_dump(), "auxiliary": ["mrpc"], "adapter": {"method": "poly"}},
                                check=False)
    ids = {arm: list(with_shots(arm_experiment(poly, arm, shots=4, seed=3, pretrained=str(tmp_path)),
                                prepared).data["rte"].train.example_ids) for arm in ARMS}
    assert len({tuple(v) for v in ids.values()}) == 1


def test_a_class_short_of_k_gives_all_it_has_with_a_warning(rte, caplog):
    split = rte[1].data["rte"].dev
    with caplog.at_level(logging.WARNING):
        drawn = draw_shots(split, 2, 1000, (0, 0), "rte's dev split")
    assert len(drawn) == len(split) and "rte's dev split has fewer than 1000" in caplog.text


def test_shots_need_a_classification_primary(tiny_model_dir):
    with pytest.raises(AuxlearnError, match="data.shots draws k examples per class.*'stsb' is a regression task"):
        experiment_from_dict(experiment_dict(tiny_model_dir, primary="stsb", data={"shots": 4}))


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_model_dir):
    """`auxlearn adapt` over two composed files: MHR pre-trained on MRPC + CoLA, RTE from 4 and 8 shots, 2 seeds."""
    folder = tmp_path_factory.mktemp("adapt")
    base = write_yaml(folder / "rte.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc", "cola"], data={"max_train_examples": 120, "dev_size": 40},
        train={"steps": 6, "eval_every": 3}, seeds=[0, 1]))
    mhr = write_yaml(folder / "mhr.yaml", {"adapter": {"method": "poly", "n_skills": 2, "n_splits": 2},
                                           "fewshot": {"shots": [4, 8], "pretrain": {"steps": 8, "eval_every": 4},
                                                       "arms": {**{a: {} for a in ARMS}, "full": {"lr": 1e-4}}}})
    argv = ["adapt", f"{base}+{mhr}", "--out", str(folder / "out")]
    assert main(argv) == 0
    return folder / "out", argv


@pytest.mark.slow  # the `study` fixture trains for ~12 s
def test_the_study_trains_every_arm_at_every_k_and_seed(study):
    out, _ = study
    results = json.loads((out / "results.json").read_text())
    assert results["kind"] == "fewshot" and results["pool"] == ["mrpc", "cola"]
    for k in ("4", "8"):
        for arm in ARMS:
            runs = results["runs"][k][arm]
            assert set(runs) == {"0", "1"}
            for seed, run in runs.items():
                stored = json.loads((out / f"k{k}" / arm / f"seed_{seed}" / "results.json").read_text())
                assert run["eval"] == stored["eval"]["rte"]["main"]
                assert stored["train_sizes"] == {"rte": 2 * int(k)}
                assert stored["config"]["model"] == (str(out / "pretrain" / "model") if ARMS[arm].pretrained
                                                     else results["config"]["model"])
            gain = results["comparison"][k][arm]["vs_lora"]
            if arm != "lora":
                assert gain["mean"] == pytest.approx(np.mean([runs[s]["eval"] - results["runs"][k]["lora"][s]["eval"]
                                                              for s in runs]))
    z, mhr = results["runs"]["4"]["mhr_z"]["0"]["parameters"], results["runs"]["4"]["mhr"]["0"]["parameters"]
    assert z["encoder"] == 0 and z["routing"] == 2 * 4 * 1 * 2 * 2  # layers x projections x task x splits x skills
    assert mhr["encoder"] == 2 * 4 * 2 * 4 * (32 + 32)  # the skills: S * r * (d_in + d_out) per layer
    assert results["runs"]["4"]["mhr_mu"]["0"]["parameters"]["encoder"] == 2 * 4 * 4 * (32 + 32)  # one LoRA


@pytest.mark.slow  # the `study` fixture trains for ~12 s
def test_the_study_report_shows_the_comparison_parameters_and_routing(study):
    out, _ = study
    results = json.loads((out / "results.json").read_text())
    report = (out / "report.md").read_text()
    for k, rows in results["comparison"].items():
        assert f"k = {k} examples per class" in report
        for row in rows.values():
            assert f"{row['mean']:.4f} ± {row['std']:.4f}" in report
    assert "report_figures/routing.png" in report and "report_figures/fewshot.png" in report
    assert "| MHR-z | a new routing row alone, the skills frozen | 0 | 32 |" in report
    assert (out / "report.html").is_file()


@pytest.mark.slow  # the `study` fixture trains for ~12 s
def test_a_rerun_of_the_study_trains_nothing(study, monkeypatch):
    out, argv = study
    before = (out / "results.json").read_text()

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr("auxlearn.experiment.train_phase", refuse)
    assert main(argv) == 0
    assert json.loads((out / "results.json").read_text())["runs"] == json.loads(before)["runs"]


def test_a_saved_adapter_model_evaluates_and_predicts(tiny_model_dir, tmp_path, capsys):
    config = write_yaml(tmp_path / "exp.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], adapter={"method": "poly", "n_skills": 2, "n_splits": 2},
        transfer={"protocol": "joint"}))
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 0
    trained = json.loads((tmp_path / "run" / "results.json").read_text())
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run" / "model"), "--task", "rte"]) == 0
    assert json.loads(capsys.readouterr().out)["rte"] == pytest.approx(trained["eval"]["rte"])
    (tmp_path / "in.jsonl").write_text(json.dumps({"sentence1": "A cat sat.", "sentence2": "An animal sat."}) + "\n")
    assert main(["predict", str(tmp_path / "run" / "model"), "--task", "rte", "--input", str(tmp_path / "in.jsonl"),
                 "--output", str(tmp_path / "out.jsonl")]) == 0
    prediction = json.loads((tmp_path / "out.jsonl").read_text())
    assert prediction["prediction"] in ("entailment", "not_entailment")
    routing = json.loads((tmp_path / "run" / "model" / "routing.json").read_text())
    assert routing["tasks"] == ["rte", "mrpc"] and len(routing["layers"]) == 2 * 4
