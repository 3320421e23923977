"""Precision: bfloat16 autocast where the device has units for it, fp32 master weights, evaluation and prediction
in the precision the model trained in, and a one-line fallback to fp32 elsewhere."""

from __future__ import annotations

import json
import logging

import pytest
import torch

import auxlearn.train.device as device_module
import auxlearn.train.evaluation as evaluation_module
from auxlearn.config import experiment_from_dict
from auxlearn.experiment import train_experiment
from auxlearn.inference import evaluate_model, predict_file
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.train.device import resolve_precision
from conftest import experiment_dict

CPU = torch.device("cpu")


@pytest.fixture
def cpu_with_bf16(monkeypatch):
    """A CPU that reports AVX-512 BF16 (bfloat16 autocast also runs, emulated, on CPUs without it)."""
    monkeypatch.setattr(device_module, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))


@pytest.fixture
def cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    monkeypatch.setattr(device_module, "_fallback_said", set())


@pytest.fixture
def spy_forward_dtypes(monkeypatch):
    """The dtype of every head input (the encoder's output) in training and evaluation."""
    seen = {"train": [], "eval": []}
    forward = MultiTaskModel.forward

    def recording(self, task, batch):
        logits = forward(self, task, batch)
        seen["train" if self.training else "eval"].append(logits.dtype)
        return logits

    monkeypatch.setattr(MultiTaskModel, "forward", recording)
    return seen


def test_auto_resolves_to_bf16_on_a_cpu_with_bf16_units(cpu_with_bf16):
    assert resolve_precision("auto", CPU) == "bf16"
    assert resolve_precision("bf16", CPU) == "bf16"
    assert resolve_precision("fp32", CPU) == "fp32"


def test_without_bf16_units_auto_and_bf16_fall_back_to_fp32_saying_so_once(cpu_without_bf16, caplog):
    with caplog.at_level(logging.WARNING, logger="auxlearn"):
        assert resolve_precision("auto", CPU) == "fp32"
        assert resolve_precision("bf16", CPU) == "fp32"
        assert resolve_precision("fp32", CPU) == "fp32"
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "\n" not in message and "no bfloat16 units" in message and "fp32" in message


@pytest.mark.data
def test_a_tiny_model_trains_in_bf16_with_fp32_master_weights(cpu_with_bf16, spy_forward_dtypes, make_experiment,
                                                              tmp_path):
    exp = make_experiment(
        head_dropout=0.0, data={"max_train_examples": 16, "dev_size": 32},
        train={"steps": 30, "eval_every": 10, "lr": 3e-3, "precision": "bf16"})
    results = train_experiment(exp, tmp_path / "run")
    assert results["precision"] == "bf16"
    assert set(spy_forward_dtypes["train"]) == {torch.bfloat16}
    assert set(spy_forward_dtypes["eval"]) == {torch.bfloat16}  # dev and eval scoring as trained
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first, last = records[0]["train_loss"]["rte"], records[-1]["train_loss"]["rte"]
    assert last < 0.6 * first, [r["train_loss"] for r in records]
    model, _, meta = MultiTaskModel.load(tmp_path / "run" / "model")
    assert meta["precision"] == "bf16"
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # saved master weights stay fp32


@pytest.mark.data
def test_fp32_trains_without_autocast(cpu_with_bf16, spy_forward_dtypes, make_experiment, tmp_path):
    exp = make_experiment(train={"steps": 4, "eval_every": 2,
                                 "precision": "fp32"})
    results = train_experiment(exp, tmp_path / "run")
    assert results["precision"] == "fp32"
    assert set(spy_forward_dtypes["train"]) | set(spy_forward_dtypes["eval"]) == {torch.float32}


@pytest.mark.data
def test_a_bf16_model_evaluates_and_predicts_in_bf16_and_in_fp32_where_bf16_is_missing(
        cpu_with_bf16, make_experiment, tmp_path, monkeypatch):
    exp = make_experiment(train={"steps": 2, "eval_every": 2})
    results = train_experiment(exp, tmp_path / "run")
    assert results["precision"] == "bf16"  # auto, on a CPU with bf16 units
    used = []
    autocast = evaluation_module.autocast
    monkeypatch.setattr(evaluation_module, "autocast", lambda device, precision: used.append(precision)
                        or autocast(device, precision))
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"sentence1": "A cat sat.", "sentence2": "An animal sat."}) + "\n")
    predict_file(tmp_path / "run" / "model", task="rte", input_path=source, output_path=tmp_path / "out.jsonl")
    evaluate_model(tmp_path / "run" / "model", task="rte", split="dev")
    assert used and set(used) == {"bf16"}

    used.clear()
    monkeypatch.setattr(device_module, "cpu_flags", lambda: frozenset())
    evaluate_model(tmp_path / "run" / "model", task="rte", split="dev")
    assert used and set(used) == {"fp32"}


def test_precision_is_validated():
    from auxlearn.errors import AuxlearnError

    with pytest.raises(AuxlearnError, match="train.precision"):
        experiment_from_dict(experiment_dict("m", train={"precision": "fp16"}))


@pytest.mark.parametrize("name", ["tiny", "all-MiniLM-L6-v2"])
def test_the_encoder_attends_through_pytorch_sdpa_but_in_cpu_training(name, tiny_model_dir):
    """sdpa's fused kernel serves evaluation; CPU training runs cpu_dropout's bit-masked product."""
    from auxlearn.models.cpu_dropout import ATTENTION
    from auxlearn.models.encoder import load_encoder

    encoder = load_encoder(tiny_model_dir if name == "tiny" else name)
    assert encoder.config._attn_implementation == ATTENTION
