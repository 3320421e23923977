"""LM heads before the encoder trains (issue 33): the warm-up fits a head on its text with the encoder frozen and is
cached like tokenization; untied heads and frozen embeddings; the objectives' learning-rate scale; the guard line
when heads would start from random weights; and the ``objectives`` section counting in an identity only where it
can change what trains."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import auxlearn.aang.head_warmup as warmup
from auxlearn.aang.head_warmup import WarmUp, warm_head
from auxlearn.aang.objectives.batches import ObjectiveBatcher
from auxlearn.aang.objectives.space import TAPT
from auxlearn.config import experiment_from_dict
from auxlearn.identity import config_identity
from auxlearn.models.encoder import load_encoder
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks.user import load_task_file
from conftest import DOMAIN_LINES, experiment_dict

OBJECTIVE = "rte/bert/bidirectional/denoise"


@pytest.fixture()
def papers(domain_file, tokenizer, tiny_model_dir, tmp_path):
    """A model with the masked-LM task ``papers`` on the tiny encoder, its encoded text and a warm-up plan."""
    from auxlearn.data.task_data import build_task_data

    spec = load_task_file(domain_file)["papers"]
    data = build_task_data(spec, tokenizer, data_dir=None, max_length=32, dev_size=4, cache_dir=tmp_path / "cache")
    plan = WarmUp(steps=60, lr=0.1, batch_size=8, group_by_length=True, precision="fp32", encoder=["tiny"],
                  model=tiny_model_dir, cache_dir=str(tmp_path / "cache"))
    torch.manual_seed(0)
    return MultiTaskModel(load_encoder(tiny_model_dir), {"papers": spec}), data.train, plan


def _text_loss(model, tokenizer) -> float:
    encoded = tokenizer(DOMAIN_LINES[:8], padding=True, return_tensors="pt")
    batch = ObjectiveBatcher(TAPT, tokenizer, seed=3)(dict(encoded))
    model.eval()
    with torch.no_grad():
        return model.loss("papers", batch).item()


def test_a_warmed_head_predicts_its_text_and_the_encoder_is_untouched(papers, tokenizer):
    model, split, plan = papers
    encoder = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    before = _text_loss(model, tokenizer)
    model.train()
    report = warm_head(model, "papers", split, tokenizer, plan)
    assert model.encoder.training and all(p.requires_grad for p in model.encoder.parameters())  # as it was
    after = _text_loss(model, tokenizer)
    assert before > 9.5 and after < before - 3  # ln(30,522) = 10.3 at a fresh head
    assert report["steps"] == 60 and report["loss_end"] < report["loss_start"] - 3 and len(report["curve"]) == 20
    assert all(torch.equal(encoder[k], v) for k, v in model.encoder.state_dict().items())


def test_the_warmed_head_is_cached_and_fitted_again_when_text_or_settings_change(papers, tokenizer, monkeypatch):
    model, split, plan = papers
    fits = []
    fit = warmup._fit
    monkeypatch.setattr(warmup, "_fit", lambda *args: fits.append(1) or fit(*args))
    first = warm_head(model, "papers", split, tokenizer, plan)
    state = {k: v.clone() for k, v in model.head("papers").state_dict().items()}
    torch.nn.init.normal_(model.head("papers").dense.weight)  # a head a run would have drawn for another seed
    assert warm_head(model, "papers", split, tokenizer, plan) == first and len(fits) == 1  # read, not fitted
    assert all(torch.equal(state[k], v) for k, v in model.head("papers").state_dict().items())
    warm_head(model, "papers", split.select(range(20)), tokenizer, plan)  # other text
    warm_head(model, "papers", split, tokenizer, WarmUp(**{**plan.__dict__, "steps": 30}))  # other settings
    warm_head(model, "papers", split, tokenizer, WarmUp(**{**plan.__dict__, "encoder": ["another"]}))
    assert len(fits) == 4
    cached = sorted((Path(plan.cache_dir) / "warm_heads").glob("*"))
    assert len(cached) == 4
    for path in cached:
        path.write_bytes(b"not a safetensors file")  # damaged: fitted again, and replaced
    warm_head(model, "papers", split, tokenizer, plan)
    warm_head(model, "papers", split, tokenizer, plan)
    assert len(fits) == 5


@pytest.mark.data
def test_every_seed_of_an_experiment_shares_one_warm_up(make_experiment, monkeypatch):
    """The head starts from the warm-up's own seed, so the run's seed does not enter the cache key; the record of
    the fit goes into results.json."""
    from auxlearn.experiment import build_model, prepare, train_phase

    fits = []
    fit = warmup._fit
    monkeypatch.setattr(warmup, "_fit", lambda *args: fits.append(1) or fit(*args))
    settings = dict(auxiliary=[OBJECTIVE], objectives={"head_warmup": 5}, train={"steps": 2, "eval_every": 2})
    heads = []
    for seed in (0, 1):
        exp = make_experiment(seed=seed, **settings)
        prepared = prepare(exp)
        heads.append(build_model(exp, prepared, exp.tasks).head(OBJECTIVE).state_dict())
    assert len(fits) == 1 and all(torch.equal(heads[0][k], heads[1][k]) for k in heads[0])
    results = train_phase(exp, None, prepared, score_eval=False).results
    assert results["warmed_heads"][OBJECTIVE]["steps"] == 5 and len(fits) == 1


def test_an_untied_head_has_its_own_output_matrix_saved_and_loaded(papers, tokenizer, tmp_path):
    model, _, _ = papers
    untied = MultiTaskModel(model.encoder, model.specs, untie_heads=True)
    head, embeddings = untied.head("papers"), untied.encoder.get_input_embeddings().weight
    assert head.decoder is not None and head.decoder.data_ptr() != embeddings.data_ptr()
    assert torch.equal(head.decoder, embeddings) and "heads.papers.decoder" in dict(untied.named_parameters())
    assert model.head("papers").decoder is None and "heads.papers.decoder" not in dict(model.named_parameters())
    with torch.no_grad():
        head.decoder.add_(0.01)
    untied.save(tmp_path / "model", tokenizer)
    loaded, _, meta = MultiTaskModel.load(tmp_path / "model")
    assert meta["untie_heads"] is True and torch.equal(loaded.head("papers").decoder, head.decoder)
    assert _text_loss(loaded, tokenizer) == pytest.approx(_text_loss(untied, tokenizer), abs=1e-6)


@pytest.mark.data
def test_frozen_embeddings_stay_while_the_untied_head_and_the_encoder_train(make_experiment):
    from auxlearn.experiment import prepare, train_phase

    exp = make_experiment(auxiliary=[OBJECTIVE], train={"steps": 4, "eval_every": 4, "sampler": {"name": "uniform"}},
                          transfer={"protocol": "joint"},
                          objectives={"head_warmup": 0, "untie_heads": True, "freeze_embeddings": True})
    model = train_phase(exp, None, prepare(exp), score_eval=False).model
    start = load_encoder(exp.model)
    trained, fresh = model.encoder.state_dict(), start.state_dict()
    assert torch.equal(trained["embeddings.word_embeddings.weight"], fresh["embeddings.word_embeddings.weight"])
    assert not torch.equal(trained["encoder.layer.0.attention.self.query.weight"],
                           fresh["encoder.layer.0.attention.self.query.weight"])
    assert not torch.equal(model.head(OBJECTIVE).decoder, fresh["embeddings.word_embeddings.weight"])


@pytest.mark.data
def test_the_objectives_learning_rate_scale_is_a_parameter_group_of_their_heads(make_experiment):
    from auxlearn.experiment import build_model, build_trainer, prepare

    exp = make_experiment(auxiliary=["mrpc", OBJECTIVE], objectives={"head_warmup": 0, "lr_scale": 0.25},
                          train={"head_lr": 2e-3})
    prepared = prepare(exp)
    model = build_model(exp, prepared, exp.tasks)
    optimizer = build_trainer(exp, prepared, model).optimizers["rte"][0]

    def rate(task: str) -> float:
        first = next(model.head(task).parameters())
        return next(g["lr"] for g in optimizer.param_groups if any(p is first for p in g["params"]))

    assert rate(OBJECTIVE) == pytest.approx(0.25 * rate("rte")) and rate("mrpc") == rate("rte")
    assert rate("rte") == pytest.approx(2e-3 * optimizer.param_groups[0]["lr"] / exp.train.lr)


def _guard_lines(caplog, folder: str, **sections) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        experiment_from_dict(experiment_dict(folder, **sections))
    return [r.getMessage() for r in caplog.records if "no pretrained masked-LM head" in r.getMessage()]


@pytest.mark.data
def test_the_guard_says_in_one_line_when_lm_heads_would_start_from_random_weights(caplog, tiny_model_dir, tmp_path,
                                                                                  tokenizer, domain_file):
    off = {"objectives": {"head_warmup": 0}}
    [line] = _guard_lines(caplog, tiny_model_dir, mix={"method": "aang"}, **off)
    assert "mix: aang" in line and "18 points" in line and "objectives.head_warmup" in line and "\n" not in line
    [line] = _guard_lines(caplog, tiny_model_dir, auxiliary=["papers"], task_files=[str(domain_file)], **off)
    assert "'papers'" in line and "mix:" not in line
    assert not _guard_lines(caplog, tiny_model_dir, mix={"method": "aang"})  # warm-up on
    assert not _guard_lines(caplog, tiny_model_dir, auxiliary=["mrpc"], **off)  # no LM head
    assert not _guard_lines(caplog, tiny_model_dir, mix={"method": "aang", "space": {"outputs": ["task"]}}, **off)
    from conftest import save_tiny_masked_lm

    save_tiny_masked_lm(tmp_path / "mlm", tokenizer)
    assert not _guard_lines(caplog, str(tmp_path / "mlm"), mix={"method": "aang"}, **off)  # its own LM head


def test_the_objectives_settings_count_only_where_they_change_what_trains(tiny_model_dir, domain_file):
    def identity(**sections) -> dict:
        return config_identity(experiment_from_dict(experiment_dict(tiny_model_dir, **sections), check=False))

    changed = {"objectives": {"head_warmup": 7, "untie_heads": True, "lr_scale": 0.5}}
    assert identity(**changed) == identity() and "objectives" not in identity()  # rte alone: as before the section
    assert identity(auxiliary=["mrpc"], **changed) == identity(auxiliary=["mrpc"])
    for tasks in ({"auxiliary": [OBJECTIVE]}, {"auxiliary": ["papers"], "task_files": [str(domain_file)]}):
        assert identity(**tasks, **changed) != identity(**tasks) and "objectives" in identity(**tasks)
