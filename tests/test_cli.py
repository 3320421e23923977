"""The command line: tasks, train, evaluate, predict; and every bad input of the issue gives a clear message,
a non-zero exit code, no traceback and nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from auxlearn.data.task_data import build_task_data
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.train.evaluation import Inference, predict
from auxlearn.cli import build_parser
from cli_runs import assert_clean_failure, config, run
from conftest import REPO, experiment_dict, write_yaml

DATA = Path(os.environ["AUXLEARN_DATA_DIR"])


def rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


# --- tasks -----------------------------------------------------------------------------------------------------

@pytest.mark.data
def test_tasks_lists_sizes_and_missing_splits():
    code, out, err = run("tasks")
    assert code == 0 and "Traceback" not in err
    table = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    rte_train = pq.read_metadata(DATA / "glue/rte/train-00000-of-00001.parquet").num_rows
    rte_eval = pq.read_metadata(DATA / "glue/rte/validation-00000-of-00001.parquet").num_rows
    dev = min(-(-rte_train // 10), 1000)
    assert table["rte"][:6] == ["rte", "classification", "accuracy", str(rte_train - dev), str(dev), str(rte_eval)]
    assert table["mrpc"][2] == "f1+accuracy"
    qnli = table["qnli"]
    assert qnli[3:5] == ["-", "-"] and qnli[5] == str(
        pq.read_metadata(DATA / "glue/qnli/validation-00000-of-00001.parquet").num_rows)
    assert "no train split" in " ".join(qnli[6:])
    assert table["qqp"][5] == "-" and "no eval split" in " ".join(table["qqp"][6:])
    assert {"cola", "sst2", "stsb", "mnli", "wnli", "conll2003_ner", "conll2003_pos"} <= set(table)


# --- train, evaluate, predict ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("cli")
    path = write_yaml(folder / "exp.yaml", experiment_dict(tiny_model_dir, train={"steps": 20, "eval_every": 4}))
    out = folder / "out"
    code, stdout, stderr = run("train", path, "--out", out, "--set", "train.steps=8")
    return {"code": code, "stdout": stdout, "stderr": stderr, "out": out}


@pytest.mark.data
def test_train_writes_results_and_model(cli_run):
    assert cli_run["code"] == 0, cli_run["stderr"]
    out = cli_run["out"]
    results = json.loads((out / "results.json").read_text())
    assert results["steps"] == 8 and results["config"]["train"]["steps"] == 8  # --set took effect
    assert "rte eval: accuracy=" in cli_run["stdout"]
    assert str(out / "results.json") in cli_run["stdout"]
    for name in ("config.json", "heads.safetensors", "tasks.json", "auxlearn.json", "tokenizer.json"):
        assert (out / "model" / name).is_file()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.data
def test_evaluate_prints_json_metrics_of_the_saved_model(cli_run):
    out = cli_run["out"]
    results = json.loads((out / "results.json").read_text())
    code, stdout, err = run("evaluate", out / "model", "--task", "rte", "--split", "dev")
    assert code == 0, err
    # The dev split is rebuilt from the model's metadata: the score is the best checkpoint's dev score.
    assert json.loads(stdout) == results["dev_best"]
    code, stdout, err = run("evaluate", out / "model", "--task", "rte")
    assert code == 0, err
    assert json.loads(stdout) == results["eval"]


@pytest.mark.data
def test_predict_writes_one_line_per_input(cli_run, tmp_path):
    model_dir = cli_run["out"] / "model"
    eval_rows = rows(DATA / "glue/rte/validation-00000-of-00001.parquet")
    # Long pairs too (beyond the run's max_length of 64): predict must encode them as training did.
    chosen = sorted(range(len(eval_rows)), key=lambda i: -len(eval_rows[i]["sentence1"]))[:5] + [0, 1, 2]
    records = [{"sentence1": eval_rows[i]["sentence1"], "sentence2": eval_rows[i]["sentence2"], "id": i}
               for i in chosen]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records) + "\n")  # a blank line is skipped
    code, _, err = run("predict", model_dir, "--task", "rte", "--input", source, "--output", tmp_path / "out.jsonl")
    assert code == 0, err
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(lines) == len(records)
    assert [{k: v for k, v in line.items() if k != "prediction"} for line in lines] == records
    assert {line["prediction"] for line in lines} <= {"entailment", "not_entailment"}
    # The same predictions as the model gives on the eval split.
    model, tokenizer, meta = MultiTaskModel.load(model_dir)
    data = build_task_data(model.specs["rte"], tokenizer, data_dir=str(DATA),
                           max_length=meta["data"]["max_length"]["rte"], need_eval=True)
    position = {int(e): p for p, e in enumerate(data.eval.example_ids)}
    ids = predict(model, "rte", data.eval, Inference(torch.device("cpu"), tokenizer.pad_token_id, batch_size=64))
    assert [line["prediction"] for line in lines] == [model.specs["rte"].label_names[ids[position[i]]]
                                                      for i in chosen]
    # Without --output the lines go to stdout.
    code, stdout, _ = run("predict", model_dir, "--task", "rte", "--input", source)
    assert code == 0 and [json.loads(line) for line in stdout.splitlines()] == lines


@pytest.mark.data
def test_predict_and_evaluate_bad_input(cli_run, tmp_path):
    model_dir = cli_run["out"] / "model"
    code, _, err = run("predict", model_dir, "--task", "mrpc", "--input", tmp_path / "x.jsonl")
    assert code != 0 and "mrpc" in err and "rte" in err and "Traceback" not in err
    (tmp_path / "bad.jsonl").write_text('{"sentence1": "a"}\n')
    code, _, err = run("predict", model_dir, "--task", "rte", "--input", tmp_path / "bad.jsonl")
    assert code != 0 and "sentence2" in err and "line 1" in err
    code, _, err = run("evaluate", tmp_path / "nowhere")
    assert code != 0 and "nowhere" in err and "Traceback" not in err


# --- bad input -------------------------------------------------------------------------------------------------

def test_unknown_task_lists_the_known_ones(tmp_path, tiny_model_dir):
    code, _, err = run("train", config(tmp_path, tiny_model_dir, primary="rtee"), "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "'rtee'", "known tasks", "rte", "mrpc", "conll2003_ner")


def test_unknown_auxiliary_task_is_named(tmp_path, tiny_model_dir):
    code, _, err = run("train", config(tmp_path, tiny_model_dir, auxiliary=["mrcp"]), "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "'mrcp'", "known tasks")


@pytest.mark.parametrize("document, override, needles", [
    ({"train": {"lrr": 0.1}}, None, ["train.lrr", "unknown key"]),
    ({"data": {"max_len": 64}}, None, ["data.max_len", "unknown key"]),
    ({"optimiser": "x"}, None, ["optimiser", "unknown key"]),
    ({}, "train.lrr=0.1", ["train.lrr", "unknown key"]),
    ({}, "trian.lr=0.1", ["trian", "unknown key"]),
    ({}, "train.lr=fast", ["train.lr", "number"]),
    ({}, "train.steps", ["train.steps", "key=value"]),
])
def test_bad_config_keys_are_named_with_their_path(tmp_path, tiny_model_dir, document, override, needles):
    path = config(tmp_path, tiny_model_dir, **document)
    code, _, err = run("train", path, "--out", tmp_path / "out", *(["--set", override] if override else []))
    assert_clean_failure(code, err, tmp_path / "out", *needles)


@pytest.mark.data
def test_unknown_sampler_option_is_named(tmp_path, tiny_model_dir):
    path = config(tmp_path, tiny_model_dir, train={"sampler": {"name": "temperature", "temprature": 2}})
    code, _, err = run("train", path, "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "temprature", "temperature")


def test_missing_config_file(tmp_path):
    code, _, err = run("train", tmp_path / "nope.yaml", "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "nope.yaml", "not found")


@pytest.mark.data
def test_missing_split_of_a_builtin_task(tmp_path, tiny_model_dir):
    code, _, err = run("train", config(tmp_path, tiny_model_dir, primary="qnli"), "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "qnli", "'train'")
    code, _, err = run("train", config(tmp_path, tiny_model_dir, primary="qqp"), "--out", tmp_path / "out")
    assert_clean_failure(code, err, tmp_path / "out", "qqp", "'validation'")


@pytest.mark.data
def test_max_length_above_the_model_limit_is_clamped_with_a_warning(tmp_path, tiny_model_dir):
    path = config(tmp_path, tiny_model_dir, data={"max_length": 512}, train={"steps": 2, "eval_every": 2})
    with pytest.warns(UserWarning, match=r"max_length 512 exceeds the model's limit 128; using 128"):
        code, _, err = run("train", path, "--out", tmp_path / "out")
    assert code == 0, err
    meta = json.loads((tmp_path / "out" / "model" / "auxlearn.json").read_text())
    assert meta["data"]["max_length"] == {"rte": 128}
    assert (tmp_path / "out" / "results.json").is_file()


@pytest.mark.data
def test_non_finite_loss_stops_names_the_task_and_keeps_the_last_good_checkpoint(tmp_path, tiny_model_dir,
                                                                                   monkeypatch):
    calls = {"n": 0}
    real = MultiTaskModel.loss

    def loss(self, task, batch, logits=None):
        calls["n"] += 1
        value = real(self, task, batch, logits)
        return value * float("nan") if calls["n"] > 5 else value

    monkeypatch.setattr(MultiTaskModel, "loss", loss)
    round_robin = {"name": "round_robin", "ratios": {"rte": 1, "mrpc": 1}}
    # eval_every counts the primary's batches: one of every two steps here, so the joint phase scores every 2 steps
    path = config(tmp_path, tiny_model_dir, auxiliary=["mrpc"], train={"steps": 20, "eval_every": 1,
                                                                       "sampler": round_robin},
                  transfer={"protocol": "joint", "budget": "equal_total"})
    out = tmp_path / "out"
    code, _, err = run("train", path, "--out", out)
    assert code != 0 and "Traceback" not in err and err.count("\n") == 1
    # The sixth loss is the sixth step (no accumulation); round robin trains mrpc on every second step.
    assert "'mrpc'" in err and "nan" in err and "step 6" in err and "checkpoint" in err
    assert not (out / "results.json").exists()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    model, _, _ = MultiTaskModel.load(out / "model")  # the kept checkpoint is a whole, loadable model folder
    assert set(model.specs) == {"rte", "mrpc"}
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_installed_command_prints_no_traceback(tmp_path, tiny_model_dir):
    """The real console script, in a fresh process: a clear message on stderr, exit code 2, no traceback."""
    path = config(tmp_path, tiny_model_dir, primary="rtee")
    script = REPO / ".venv" / "bin" / "auxlearn"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "auxlearn.cli"]
    done = subprocess.run([*command, "train", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"auxlearn: error: config file {path}: unknown task 'rtee'; known tasks:")
    assert not (tmp_path / "out").exists()


def test_set_takes_several_pairs_and_version_prints_the_version(tmp_path, tiny_model_dir, capsys):
    from auxlearn.config_files import load_experiment
    from auxlearn.version import __version__

    path = config(tmp_path, tiny_model_dir)
    args = build_parser().parse_args(["train", str(path), "--set", "train.steps=85", "train.eval_every=1000",
                                      "--set", "seed=3"])
    assert args.set == ["train.steps=85", "train.eval_every=1000", "seed=3"]
    exp = load_experiment(path, args.set)
    assert (exp.train.steps, exp.train.eval_every, exp.seed) == (85, 1000, 3)
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"auxlearn {__version__}"
