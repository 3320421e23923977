"""The masked-LM task type: domain text without labels, its tied LM head, its loss on the objective's targets only,
saved and loaded like any head; a task file declares one and `auxlearn tasks` lists it."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch.nn import functional as F

from auxlearn.errors import AuxlearnError
from auxlearn.models.encoder import load_encoder
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.aang.objectives.batches import ObjectiveBatcher
from auxlearn.aang.objectives.space import Objective
from auxlearn.tasks.spec import DataSource, TaskSpec
from auxlearn.tasks.user import load_task_file
from conftest import DOMAIN_LINES as LINES

TAPT = Objective("task", "bert", "bidirectional", "denoise")


def test_a_text_file_is_a_masked_lm_task(domain_file, tokenizer, tmp_path):
    from auxlearn.data.task_data import build_task_data

    spec = load_task_file(domain_file)["papers"]
    assert spec.task_type.name == "masked_lm" and spec.label_field is None and spec.metrics == []
    data = build_task_data(spec, tokenizer, data_dir=None, max_length=32, dev_size=4, cache_dir=tmp_path / "cache")
    assert (len(data.train), len(data.dev)) == (36, 4) and data.eval is None
    assert not data.train.labelled


def test_auxlearn_tasks_lists_a_text_source(domain_file, capsys):
    from auxlearn.cli import main

    assert main(["tasks", "--task-file", str(domain_file)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("papers"))
    assert "masked_lm" in row and "no labels" in row and "36" in row


@pytest.mark.parametrize("fields, problem", [
    ({"type": "masked_lm", "label_field": "label"}, "no label_field"),
    ({"type": "classification"}, "needs a label_field"),
])
def test_a_spec_that_does_not_fit_its_type_is_refused(fields, problem):
    with pytest.raises(ValueError, match=problem):
        TaskSpec(**{"name": "x", "text_fields": ["text"], "source": DataSource(files={"train": "x.txt"}), **fields})


@pytest.fixture()
def model_and_batch(domain_file, tokenizer, tiny_model_dir):
    spec = load_task_file(domain_file)["papers"]
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(tiny_model_dir), {"papers": spec})
    encoded = tokenizer(LINES[:8], padding=True, return_tensors="pt")
    batch = ObjectiveBatcher(TAPT, tokenizer, rate=0.3, seed=0)(
        {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]})
    return model, batch


def test_the_lm_head_is_tied_to_the_input_embeddings(model_and_batch, tokenizer):
    model, _ = model_and_batch
    head = model.head("papers")
    embeddings = model.encoder.get_input_embeddings()
    assert head._embeddings[0] is embeddings and head.bias.shape == (len(tokenizer),)
    assert set(head.state_dict()) == {"dense.weight", "dense.bias", "norm.weight", "norm.bias", "bias"}


def test_the_loss_is_cross_entropy_at_the_targets_only(model_and_batch):
    model, batch = model_and_batch
    head, labels = model.head("papers"), batch["labels"]
    loss = model.loss("papers", batch)
    hidden = model.encoder(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_pattern"]).last_hidden_state
    full = F.linear(head.norm(F.gelu(head.dense(hidden))), model.encoder.get_input_embeddings().weight, head.bias)
    expected = F.cross_entropy(full.transpose(1, 2), labels, ignore_index=-100)  # every position, then masked
    assert (labels != -100).sum() > 5 and torch.allclose(loss, expected, atol=1e-5)
    loss.backward()
    assert model.encoder.get_input_embeddings().weight.grad.abs().sum() > 0  # through the tied projection
    none = {**batch, "labels": torch.full_like(labels, -100)}
    empty = model.loss("papers", none)
    assert empty.item() == 0.0


def test_a_saved_model_keeps_the_head_without_a_copy_of_the_embeddings(model_and_batch, tokenizer, tmp_path):
    model, batch = model_and_batch
    model.save(tmp_path / "model", tokenizer)
    stored = load_file(str(tmp_path / "model" / "heads.safetensors"))
    assert max(t.numel() for t in stored.values()) == len(tokenizer)  # the bias; no vocabulary x hidden matrix
    loaded, _, _ = MultiTaskModel.load(tmp_path / "model")
    model.eval(), loaded.eval()
    with torch.no_grad():
        assert torch.allclose(model("papers", batch), loaded("papers", batch))


def test_a_masked_lm_task_cannot_be_the_primary(domain_file, tiny_model_dir):
    from auxlearn.config import experiment_from_dict
    from conftest import experiment_dict

    with pytest.raises(AuxlearnError, match="primary: 'papers' is a masked_lm task, which has no labels"):
        experiment_from_dict(experiment_dict(tiny_model_dir, primary="papers", task_files=[str(domain_file)]))


def test_evaluate_and_predict_skip_or_refuse_a_masked_lm_head(model_and_batch, tokenizer, tmp_path, capsys):
    from auxlearn.cli import main

    model, _ = model_and_batch
    model.save(tmp_path / "model", tokenizer)
    assert main(["evaluate", str(tmp_path / "model")]) == 0
    assert capsys.readouterr().out.strip() == "{}"  # nothing it could score
    (tmp_path / "in.jsonl").write_text('{"text": "a line"}\n', encoding="utf-8")
    assert main(["predict", str(tmp_path / "model"), "--task", "papers", "--input", str(tmp_path / "in.jsonl")]) == 2
    assert "no labels to score or predict" in capsys.readouterr().err


@pytest.mark.data
def test_the_lm_head_starts_from_the_checkpoints_own_where_it_has_one(domain_file, tokenizer, tiny_model_dir,
                                                                      tmp_path):
    from auxlearn.config import experiment_from_dict
    from auxlearn.experiment import build_model, prepare
    from conftest import experiment_dict, save_tiny_masked_lm

    torch.manual_seed(1)
    with_head = save_tiny_masked_lm(tmp_path / "bert-mlm", tokenizer)
    torch.nn.init.normal_(with_head.cls.predictions.bias)  # not the zeros a fresh head has
    with_head.save_pretrained(tmp_path / "bert-mlm")
    heads = {}
    for name, folder in (("pretrained", str(tmp_path / "bert-mlm")), ("encoder only", tiny_model_dir)):
        exp = experiment_from_dict(experiment_dict(folder, auxiliary=["papers"], task_files=[str(domain_file)],
                                                   data={"max_train_examples": 16, "dev_size": 4},
                                                   objectives={"head_warmup": 0}))  # the start, not warmed
        heads[name] = build_model(exp, prepare(exp), exp.tasks).head("papers")
    pretrained = with_head.cls.predictions
    assert torch.equal(heads["pretrained"].bias, pretrained.bias)
    assert torch.equal(heads["pretrained"].dense.weight, pretrained.transform.dense.weight)
    assert torch.equal(heads["pretrained"].norm.weight, pretrained.transform.LayerNorm.weight)
    assert heads["encoder only"].bias.abs().sum() == 0  # fresh


@pytest.mark.data
def test_a_masked_lm_auxiliary_trains_bert_masked_lm_on_its_text_and_resumes(domain_file, make_experiment, tmp_path,
                                                                              monkeypatch):
    """Drawn by a sampler beside RTE, the text task trains on TAPT's batches (its loss starts near ln(vocabulary));
    killed and resumed, its masking draws continue where they were."""
    import json
    import math

    from auxlearn.experiment import train_experiment
    from kill_runs import killed_at_step, without_timing

    exp = make_experiment(
        auxiliary=["papers"], task_files=[str(domain_file)], data={"max_train_examples": 32},
        train={"steps": 12, "eval_every": 2, "checkpoint_every": 4, "sampler": {"name": "uniform"}},
        transfer={"protocol": "joint", "budget": "equal_total"})
    whole = train_experiment(exp, tmp_path / "whole")
    records = [json.loads(line) for line in (tmp_path / "whole" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["train_loss"]["papers"] for r in records if "papers" in r["train_loss"]]
    assert losses and all(math.isfinite(v) for v in losses) and abs(losses[0] - math.log(30522)) < 1.5

    killed_at_step(monkeypatch, 7, lambda: train_experiment(exp, tmp_path / "killed"))
    resumed = train_experiment(exp, tmp_path / "killed")
    assert resumed["resumed_from_step"] == 4 and without_timing(resumed) == without_timing(whole)
