"""Adapters: one conformance suite over every registered adapter (what trains, what is saved and loaded), then the
properties of the skills layer the method papers state (routing sums, one skill = LoRA, MHR's parameter count, the
skills' average, a new task's routing), on the tiny BERT."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from peft import PeftModel
from transformers import AutoModel

from auxlearn.adapters import ADAPTERS, build_adapter
from auxlearn.adapters.routing import ADAPTER, poly_layers, routing_weights
from auxlearn.config import DEFAULT_MODEL
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks import available_tasks, get_task
from auxlearn.train.optim import build_optimizers, linear_warmup_decay

NAMES = sorted(ADAPTERS)
TASKS = ["rte", "mrpc"]
OPTIONS = {"poly": {"n_splits": 2, "n_skills": 3}}  # MHR: splits and several skills


def _model(model_dir, method, options=None, tasks=TASKS):
    known = available_tasks()
    adapter = build_adapter(method, {**OPTIONS.get(method, {}), **(options or {})}, tasks)
    torch.manual_seed(0)
    return MultiTaskModel(adapter.build(str(model_dir)), {t: get_task(t, known) for t in tasks}, pooling="mean",
                          head_dropout=0.0, adapter=adapter)


def _batch(seed=0, size=4, length=7):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, 2000, (size, length), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "labels": torch.randint(0, 2, (size,), generator=generator)}


def _train(model, tasks, steps=3, lr=1e-2):
    optimizers = build_optimizers(model, list(model.specs), per_task=False, lr=lr, weight_decay=0.0,
                                  schedule=linear_warmup_decay(steps, 0), global_step=lambda: 0)
    optimizer = optimizers[tasks[0]][0]
    model.train()
    for step in range(steps):
        for task in tasks:
            model.loss(task, _batch(step)).backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


def _nonzero_skills(model, seed=1):
    """Random B (PEFT starts it at 0, where the routing and A have no effect)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.encoder.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.5)


@pytest.mark.parametrize("method", NAMES)
def test_trains_what_it_says_and_leaves_the_rest(method, tiny_model_dir):
    model = _model(tiny_model_dir, method)
    before = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    _train(model, TASKS)
    changed = {n for n, p in model.encoder.named_parameters() if not torch.equal(p, before[n])}
    for name, param in model.encoder.named_parameters():
        assert param.requires_grad == model.adapter.trains(name), name
        if not model.adapter.trains(name):
            assert name not in changed, f"{name} is frozen, yet changed"
    assert changed, "nothing trained"
    if method != "full":  # the encoder's own weights stay as they were
        assert not any(n.endswith("base_layer.weight") or "embeddings" in n for n in changed)


@pytest.mark.parametrize("method", NAMES)
def test_fresh_adapters_leave_the_encoder_as_it_was(method, tiny_model_dir):
    """PEFT starts B at 0: before training, the adapted encoder computes the bare encoder's features."""
    model, bare = _model(tiny_model_dir, method), _model(tiny_model_dir, "full")
    model.eval(), bare.eval()
    with torch.no_grad():
        for task in TASKS:
            torch.testing.assert_close(model.features(task, _batch()), bare.features(task, _batch()), rtol=0, atol=0)


@pytest.mark.parametrize("method", NAMES)
def test_save_then_load_predicts_the_same(method, tiny_model_dir, tokenizer, tmp_path):
    model = _model(tiny_model_dir, method)
    _nonzero_skills(model)
    _train(model, TASKS)
    batch = _batch(seed=5)
    with torch.no_grad():
        expected = {task: model(task, batch) for task in TASKS}
    model.save(tmp_path / "model", tokenizer)
    loaded, _, meta = MultiTaskModel.load(tmp_path / "model")
    loaded.eval()
    assert meta["adapter"]["method"] == method and meta["adapter"]["tasks"] == TASKS
    with torch.no_grad():
        for task in TASKS:
            torch.testing.assert_close(loaded(task, batch), expected[task], rtol=0, atol=1e-6)
    if model.adapter.peft:  # PEFT's own loader on the bare encoder gives the same features
        peft_encoder = PeftModel.from_pretrained(AutoModel.from_pretrained(tiny_model_dir), str(tmp_path / "model"))
        peft_encoder.eval()
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask")}
        with torch.no_grad():
            for task in TASKS:
                ours = model.encoder(**inputs, **model.adapter.inputs(task, 4, torch.device("cpu")))
                theirs = peft_encoder(**inputs, **model.adapter.inputs(task, 4, torch.device("cpu")))
                torch.testing.assert_close(theirs.last_hidden_state, ours.last_hidden_state, rtol=0, atol=1e-6)


def test_a_saved_adapter_names_its_encoder_portably_and_loads_from_a_copy(tokenizer, tmp_path):
    """Not this install's folder of the default model (a clone or machine elsewhere has another) but its hub id,
    which PEFT users load from the hub and auxlearn from the packaged model."""
    model = _model(DEFAULT_MODEL, "lora")
    _nonzero_skills(model)
    batch = _batch(seed=2)
    with torch.no_grad():
        expected = model("rte", batch)
    model.save(tmp_path / "saved", tokenizer)
    config = json.loads((tmp_path / "saved" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    shutil.copytree(tmp_path / "saved", tmp_path / "elsewhere" / "copy")
    loaded, _, _ = MultiTaskModel.load(tmp_path / "elsewhere" / "copy")
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded("rte", batch), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", NAMES)
def test_parameter_counts_add_up(method, tiny_model_dir):
    model = _model(tiny_model_dir, method)
    counts = model.parameter_counts()
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counts["encoder"] + counts["routing"] + counts["heads"] == trained
    assert counts["encoder_size"] == sum(p.numel() for p in AutoModel.from_pretrained(tiny_model_dir).parameters())
    assert counts["heads"] == sum(p.numel() for p in model.heads.parameters())


def test_routing_weights_sum_to_one_over_the_skills_of_each_split(tiny_model_dir):
    model = _model(tiny_model_dir, "poly", {"n_splits": 4, "n_skills": 3})
    with torch.no_grad():
        for layer in poly_layers(model.encoder).values():
            layer.poly_router[ADAPTER].module_logits.normal_(0, 2)
    for name, weights in routing_weights(model.encoder).items():
        logits = poly_layers(model.encoder)[name].poly_router[ADAPTER].module_logits.detach().view(2, 4, 3)
        assert weights.shape == (2, 4, 3)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4))
        torch.testing.assert_close(weights, torch.sigmoid(logits) / torch.sigmoid(logits).sum(-1, keepdim=True))
    assert torch.tensor(model.routing()["mean"]).shape == (2, 4, 3)


def test_one_skill_and_one_split_is_plain_lora(tiny_model_dir):
    poly = _model(tiny_model_dir, "poly", {"n_splits": 1, "n_skills": 1, "r": 4})
    lora = _model(tiny_model_dir, "lora", {"r": 4, "alpha": 1.0})
    _nonzero_skills(poly)
    polys = poly_layers(poly.encoder)
    with torch.no_grad():
        for name, module in lora.encoder.named_modules():
            if name in polys:
                module.lora_A[ADAPTER].weight.copy_(polys[name].poly_lora_A[ADAPTER][0, 0].T)
                module.lora_B[ADAPTER].weight.copy_(polys[name].poly_lora_B[ADAPTER][0, 0].T)
        lora.heads.load_state_dict(poly.heads.state_dict())
    poly.eval(), lora.eval()
    batch = _batch()
    with torch.no_grad():
        for task in TASKS:
            torch.testing.assert_close(poly(task, batch), lora(task, batch), rtol=0, atol=1e-6)
            assert not torch.allclose(poly.features(task, batch), _model(tiny_model_dir, "full").features(task, batch))


def test_mhr_has_polytropons_adapter_parameters(tiny_model_dir):
    """Skill parameters (Polytropon, Ponti et al., EACL 2023): S * r * (d_in + d_out) per layer whatever the
    splits; only the routing grows with them."""
    counts = {q: _model(tiny_model_dir, "poly", {"n_splits": q, "n_skills": 3, "r": 2}).parameter_counts()
              for q in (1, 4)}
    layers = 2 * 4  # two BERT layers, four attention projections of 32 x 32
    assert counts[1]["encoder"] == counts[4]["encoder"] == layers * 3 * 2 * (32 + 32)
    assert counts[1]["routing"] == layers * len(TASKS) * 1 * 3
    assert counts[4]["routing"] == layers * len(TASKS) * 4 * 3


def test_the_task_reaches_the_routing_through_the_model(tiny_model_dir):
    model = _model(tiny_model_dir, "poly")
    _nonzero_skills(model)
    with torch.no_grad():
        for layer in poly_layers(model.encoder).values():
            layer.poly_router[ADAPTER].module_logits.normal_(0, 3)
    model.eval()
    batch = _batch()
    with torch.no_grad():
        rte, mrpc = model.features("rte", batch), model.features("mrpc", batch)
        by_hand = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                task_ids=torch.full((4,), 1)).last_hidden_state.mean(1)
    assert not torch.allclose(rte, mrpc)
    torch.testing.assert_close(mrpc, by_hand)


def test_routing_learns_at_its_own_rate_without_decay(tiny_model_dir):
    model = _model(tiny_model_dir, "poly", {"routing_lr": 0.25})
    optimizer = build_optimizers(model, TASKS, per_task=False, lr=1e-3, weight_decay=0.01, head_lr=3e-3,
                                 schedule=lambda step: 1.0, global_step=lambda: 0)["rte"][0]
    routing = {id(p) for n, p in model.named_parameters() if "poly_router" in n}
    heads = {id(p) for p in model.heads.parameters()}
    for group in optimizer.param_groups:
        kinds = {"routing" if id(p) in routing else "heads" if id(p) in heads else "encoder" for p in group["params"]}
        assert len(kinds) == 1
        kind = kinds.pop()
        assert group["lr"] == {"routing": 0.25, "heads": 3e-3, "encoder": 1e-3}[kind]
        if kind == "routing":
            assert group["weight_decay"] == 0.0
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len([p for p in model.parameters()
                                                                        if p.requires_grad])


@pytest.fixture
def pretrained(tiny_model_dir, tokenizer, tmp_path):
    """A saved MHR model of rte and mrpc with trained-looking skills and routing."""
    model = _model(tiny_model_dir, "poly")
    _nonzero_skills(model)
    with torch.no_grad():
        for layer in poly_layers(model.encoder).values():
            layer.poly_router[ADAPTER].module_logits.normal_(0, 2)
    return model, model.save(tmp_path / "pretrained", tokenizer)


def test_a_new_task_gets_a_fresh_routing_row_and_keeps_the_skills(pretrained):
    saved, folder = pretrained
    model = _model(folder, "poly", tasks=["cola", "rte"])
    old, new = poly_layers(saved.encoder), poly_layers(model.encoder)
    for name, layer in new.items():
        assert torch.equal(layer.poly_lora_A[ADAPTER], old[name].poly_lora_A[ADAPTER])
        assert torch.equal(layer.poly_lora_B[ADAPTER], old[name].poly_lora_B[ADAPTER])
        logits, saved_logits = layer.poly_router[ADAPTER].module_logits, old[name].poly_router[ADAPTER].module_logits
        assert torch.equal(logits[1], saved_logits[0])  # rte's row, known to the saved model
        assert logits[0].abs().max() <= 1e-3  # cola's, new: PEFT's initialisation


def test_routing_only_freezes_the_skills(pretrained):
    _, folder = pretrained
    model = _model(folder, "poly", {"train": "routing"}, tasks=["cola"])
    skills = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if "poly_lora" in n}
    routing = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if "poly_router" in n}
    _train(model, ["cola"])
    params = dict(model.encoder.named_parameters())
    assert all(torch.equal(params[n], value) for n, value in skills.items())
    assert all(not torch.equal(params[n], value) for n, value in routing.items())
    counts = model.parameter_counts()
    assert counts["encoder"] == 0 and counts["routing"] == 2 * 4 * 1 * 2 * 3  # layers x tasks x splits x skills


def test_skills_average_equals_uniform_routing(pretrained):
    """MHR-mu: the merged LoRA computes what the skills compute when every skill is weighted 1/S."""
    _, folder = pretrained
    uniform = _model(folder, "poly", tasks=["rte"])
    with torch.no_grad():
        for layer in poly_layers(uniform.encoder).values():
            layer.poly_router[ADAPTER].module_logits.fill_(0.3)
    merged = _model(folder, "lora", {"init": "skills_average", "r": 4}, tasks=["rte"])
    merged.heads.load_state_dict(uniform.heads.state_dict())
    uniform.eval(), merged.eval()
    with torch.no_grad():
        torch.testing.assert_close(merged("rte", _batch()), uniform("rte", _batch()), rtol=0, atol=1e-5)


def test_each_task_of_lora_per_task_trains_its_own(tiny_model_dir):
    model = _model(tiny_model_dir, "lora_per_task")
    _nonzero_skills(model)
    before = {n: p.detach().clone() for n, p in model.encoder.named_parameters() if "poly_lora" in n}
    _train(model, ["rte"])
    for name, value in before.items():
        now = dict(model.encoder.named_parameters())[name]
        assert not torch.equal(now[:, 0], value[:, 0]), name  # rte's skill
        assert torch.equal(now[:, 1], value[:, 1]), name  # mrpc's, untouched
    weights = torch.tensor(model.routing()["mean"])
    torch.testing.assert_close(weights[:, 0], torch.eye(2))


def test_full_fine_tuning_can_keep_the_word_embeddings_as_pretrained(tiny_model_dir):
    model = _model(tiny_model_dir, "full", {"freeze_word_embeddings": True})
    embeddings = model.encoder.get_input_embeddings().weight
    before = {n: p.detach().clone() for n, p in model.encoder.named_parameters()}
    optimizer = build_optimizers(model, TASKS, per_task=False, lr=1e-2, weight_decay=0.01,
                                 schedule=linear_warmup_decay(3, 0), global_step=lambda: 0)["rte"][0]
    assert not any(p is embeddings for group in optimizer.param_groups for p in group["params"])
    whole = _model(tiny_model_dir, "full")
    for trained in (model, whole):
        _train(trained, TASKS)
    changed = [{n for n, p in m.encoder.named_parameters() if not torch.equal(p, before[n])} for m in (model, whole)]
    assert "embeddings.word_embeddings.weight" in changed[1]
    assert changed[0] == changed[1] - {"embeddings.word_embeddings.weight"}  # only the token matrix stays
