"""Experiment tracking (train.log_with) read back offline: TensorBoard's event files of a tiny `run` (every arm its
own run with its curves), MLflow's local file store of a two-phase `train` (the phases one after the other, the
weighting's task weights, the config as parameters, the eval score), the bandit's utilities in a selection's run,
a tracker that is unknown or not installed stopping the command before anything trains; and the progress bar."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from auxlearn.config import experiment_from_dict
from auxlearn.identity import config_identity
from auxlearn.pipeline import run_pipeline, run_select
from auxlearn.train import tracking
from cli_runs import assert_clean_failure, config, run
from conftest import experiment_dict, write_yaml

pytestmark = pytest.mark.data


def scalars(folder: Path) -> tuple[EventMultiplexer, dict[str, list[str]]]:
    """The TensorBoard runs below ``folder`` with their scalar tags (accelerate's hyper-parameter sub-runs left out)."""
    runs = EventMultiplexer()
    runs.AddRunsFromDirectory(str(folder))
    runs.Reload()
    return runs, {name: tags["scalars"] for name, tags in runs.Runs().items() if tags["scalars"]}


def steps(runs: EventMultiplexer, run_name: str, tag: str) -> list[int]:
    return [event.step for event in runs.Scalars(run_name, tag)]


def test_a_run_logs_every_arm_to_tensorboard(tmp_path, tiny_model_dir):
    exp = experiment_from_dict(experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], preset=1, seeds=[0, 1], transfer={"protocol": "sequential"},
        train={"steps": 6, "eval_every": 3, "log_with": "tensorboard"}))  # one name for a list of one
    results = run_pipeline(exp, tmp_path / "run")
    runs, tags = scalars(tmp_path / "run" / "tracking" / "test")  # grouped under the experiment's name
    arms = ("baseline", "control", "final")
    assert set(tags) == {f"{arm}/seed_{seed}" for arm in arms for seed in (0, 1)}
    for name, tagged in tags.items():
        arm, seed = name.split("/seed_")
        total = results["stages"][arm]["runs"][seed]["steps"]
        assert steps(runs, name, "eval/rte/main") == [total]  # the arm's eval score, after its last step
        assert runs.Scalars(name, "eval/rte/main")[0].value == pytest.approx(results["stages"][arm]["eval"][seed])
        assert steps(runs, name, "dev/rte/main")[-1] == total and {"lr", "sampler/p/rte"} <= set(tagged)
        if arm == "final":  # sequential: mrpc's phase first, then rte's, its steps after mrpc's
            auxiliary = results["stages"]["final"]["runs"][seed]["phases"][0]["steps"]
            assert steps(runs, name, "loss/mrpc") == list(range(1, auxiliary + 1))
            assert steps(runs, name, "loss/rte") == list(range(auxiliary + 1, total + 1))
        else:
            assert steps(runs, name, "loss/rte") == list(range(1, total + 1)) and "loss/mrpc" not in tagged
        stored = next((tmp_path / "run" / "tracking" / "test" / name).glob("*/hparams.yml"))  # the config
        hparams = yaml.safe_load(stored.read_text())
        assert hparams["train.lr"] == 0.001 and json.loads(hparams["auxiliary"]) == (["mrpc"] if arm == "final" else [])


def test_train_logs_its_phases_one_after_the_other_to_mlflow(tmp_path, tiny_model_dir, monkeypatch):
    import mlflow

    for variable in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "MLFLOW_EXPERIMENT_NAME"):
        monkeypatch.delenv(variable, raising=False)
    path = config(tmp_path, tiny_model_dir, auxiliary=["mrpc"],
                  transfer={"protocol": "joint_then_finetune", "budget": "equal_total"},
                  train={"steps": 6, "eval_every": 3, "log_with": ["mlflow"], "weighting": {"name": "uncertainty"}})
    out = tmp_path / "out"
    code, stdout, _ = run("train", path, "--out", out)
    assert code == 0
    store = (out / "tracking" / "mlruns").resolve().as_uri()
    assert stdout.splitlines()[0] == (f"tracking in {out / 'tracking'}: MLFLOW_ALLOW_FILE_STORE=true mlflow ui "
                                      f"--backend-store-uri {store}")  # said before training
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    (found,) = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert found.info.run_name == "out" and found.info.status == "FINISHED"
    assert found.data.params["train.lr"] == "0.001" and found.data.params["train.weighting.name"] == "uncertainty"
    results = json.loads((out / "results.json").read_text())
    joint, total = results["phases"][0]["steps"], results["steps"]

    def history(metric: str) -> list[int]:
        return [m.step for m in client.get_metric_history(found.info.run_id, metric)]

    assert history("loss/rte") == list(range(1, total + 1))  # the joint phase, then the fine-tuning phase
    assert history("loss/mrpc") == history("weighting/weight/mrpc") == list(range(1, joint + 1))
    assert history("eval/rte/main") == [total]
    assert found.data.metrics["eval/rte/main"] == pytest.approx(results["eval"]["rte"]["main"])


def test_the_bandit_logs_its_utilities(tmp_path, make_experiment):
    # STS-B's correlation moves with every update of a tiny model (RTE's accuracy on 16 dev pairs can sit still for
    # the whole bandit, its rewards then all 1/2 and the utilities on the prior's mean).
    exp = make_experiment(primary="stsb", auxiliary=["mrpc"], train={"log_with": ["tensorboard"]},
                          select={"method": "autosem", "rounds": 4, "round_steps": 2, "reward_dev_size": 16,
                                  "threshold": None, "top_k": 1, "min_plays": 0})
    run_select(exp, tmp_path / "run")
    runs, tags = scalars(tmp_path / "run" / "tracking" / "test")
    (name,) = tags  # the bandit's one joint run, named by its folder
    assert name.startswith("select/")
    utilities = [runs.Scalars(name, f"sampler/utility/{task}") for task in ("stsb", "mrpc")]
    assert [len(events) for events in utilities] == [8, 8]  # every step
    assert {event.value for events in utilities for event in events} != {0.5}  # they move off the prior's mean


def test_atlas_cells_and_adapt_arms_are_runs_named_by_their_folder(tmp_path, tiny_model_dir):
    from auxlearn.atlas.config import Cell, load_atlas
    from auxlearn.atlas.worker import train_cell
    from auxlearn.fewshot.adaptation import run_fewshot

    small = {"data": {"max_train_examples": 16, "dev_size": 8, "max_length": 32},
             "train": {"steps": 2, "eval_every": 2, "log_with": ["tensorboard"]}}
    document = experiment_dict(tiny_model_dir, **small)
    del document["primary"], document["seeds"]
    document["atlas"] = {"primaries": {"rte": {}}, "candidates": ["mrpc"]}
    atlas = load_atlas(write_yaml(tmp_path / "atlas.yaml", document))
    train_cell(atlas, Cell("rte", "pair", 0, "mrpc"), tmp_path / "atlas", {})
    assert set(scalars(tmp_path / "atlas" / "tracking" / "test")[1]) == {"rte/pair_mrpc/seed_0"}
    exp = experiment_from_dict(experiment_dict(tiny_model_dir, auxiliary=["mrpc"], adapter={"method": "poly"},
                                               fewshot={"shots": [4], "arms": {"lora": {}}}, **small))
    run_fewshot(exp, tmp_path / "adapt")
    assert set(scalars(tmp_path / "adapt" / "tracking" / "test")[1]) == {"pretrain", "k4/lora/seed_0"}


def test_an_unknown_or_missing_tracker_stops_before_training(tmp_path, tiny_model_dir, monkeypatch):
    out = tmp_path / "out"
    code, _, err = run("train", config(tmp_path, tiny_model_dir, train={"log_with": ["tensorbord"]}), "--out", out)
    assert_clean_failure(code, err, out, "train.log_with.0", "'tensorboard', 'mlflow', 'trackio' or 'wandb'")
    monkeypatch.setitem(tracking.INSTALLED, "wandb", lambda: False)
    code, _, err = run("train", config(tmp_path, tiny_model_dir, train={"log_with": ["wandb"]}), "--out", out)
    assert_clean_failure(code, err, out, "wandb is not installed", "pip install 'auxlearn[wandb]'")
    assert code == 2


def test_trackers_are_not_part_of_what_trains(make_experiment):
    tracked = make_experiment(train={"log_with": ["tensorboard", "mlflow"]})
    assert config_identity(tracked) == config_identity(make_experiment())
    with pytest.raises(Exception, match="names a tracker twice"):
        make_experiment(train={"log_with": ["mlflow", "mlflow"]})


def test_weightings_give_their_weights_and_aang_its_factor_weights():
    import torch

    from auxlearn.train.weightings import build_weighting

    static = build_weighting("static", {"weights": {"rte": 2.0}}, ["rte", "mrpc"])
    weight = torch.ones(1, requires_grad=True)
    static.backward({"rte": weight.sum(), "mrpc": 3 * weight.sum()}, [weight])
    assert static.scalars() == {"weight/rte": 2.0, "weight/mrpc": 1.0}
    assert build_weighting("single", {}, ["rte"]).scalars() == {}  # a weight of 1 says nothing
    aang = build_weighting("aang", {}, ["rte", "mrpc", "stsb"])
    before = aang.scalars()
    assert before["factor/input/mrpc"] == before["factor/input/stsb"] == pytest.approx(0.5)
    aang.update({"rte": 0.1, "mrpc": 0.9, "stsb": -0.5}, 0.2, step=3)  # mrpc's gradient agrees with dev's
    after = aang.scalars()
    assert after["factor/input/mrpc"] > 0.5 > after["factor/input/stsb"]
    assert after["split/primary"] + after["split/auxiliary"] == pytest.approx(1.0)


def test_the_progress_bar_names_the_phase_and_shows_a_dev_score_once_there_is_one(make_experiment, capsys):
    from auxlearn.experiment import train_experiment

    exp = make_experiment(auxiliary=["mrpc"], transfer={"protocol": "sequential"},
                          train={"steps": 6, "eval_every": 3, "progress": True})
    train_experiment(exp, None)
    drawn = capsys.readouterr().err.replace("\n", "\r").split("\r")
    bars = {phase: [bar for bar in drawn if bar.startswith(f"{phase}:")] for phase in ("auxiliary", "primary")}
    assert bars["auxiliary"] and bars["primary"]
    assert not any("dev" in bar for bar in bars["auxiliary"])  # the auxiliary phase scores no dev: nothing shown
    assert not any(missing in bar for bar in drawn for missing in ("nan", "–"))
    assert "dev" not in bars["primary"][0] and re.search(r"task=rte, loss=\d\.\d{4}, rte dev=\d\.\d{4}",
                                                         bars["primary"][-1])
