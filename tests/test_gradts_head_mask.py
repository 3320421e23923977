"""GradTS head masks: one mask per head and per example, on every supported architecture."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from transformers import (
    BertConfig,
    BertModel,
    DebertaV2Config,
    DebertaV2Model,
    DistilBertConfig,
    DistilBertModel,
    MPNetConfig,
    MPNetModel,
    RobertaConfig,
    RobertaModel,
)

from auxlearn.select.gradts import attention_sites, head_importance, head_mask, head_shape, per_example_head_gradients
from gradts_models import LAYERS, HEADS, HIDDEN, VOCAB, make_model, make_batch, single, loss_fn_for


def test_head_shape_and_sites_of_bert():
    model = make_model()
    assert head_shape(model) == (LAYERS, HEADS)
    sites = attention_sites(model)
    assert [s.layer for s in sites] == list(range(LAYERS))
    assert all(s.head_size == HIDDEN // HEADS for s in sites)
    assert sites[1].out_proj is model.encoder.encoder.layer[1].attention.output.dense
    assert sites[0].key is model.encoder.encoder.layer[0].attention.self.key


def test_mask_gradient_matches_central_finite_differences():
    model = make_model(dtype=torch.float64)
    loss_fn = loss_fn_for(model)
    batch = make_batch(3)
    grad = per_example_head_gradients(model, loss_fn, batch)
    assert grad.shape == (3, LAYERS, HEADS)
    assert grad.abs().max() > 1e-4  # the check below must not pass on all-zero gradients

    eps = 1e-6
    fd = torch.zeros_like(grad)
    with torch.no_grad():
        for b in range(3):
            for l in range(LAYERS):
                for h in range(HEADS):
                    vals = []
                    for sign in (1, -1):
                        mask = torch.ones(3, LAYERS, HEADS, dtype=torch.float64)
                        mask[b, l, h] += sign * eps
                        with head_mask(model, mask):
                            vals.append(loss_fn(batch)[b])
                    fd[b, l, h] = (vals[0] - vals[1]) / (2 * eps)
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_batched_per_example_gradients_equal_a_batch_size_one_loop(attn):
    model = make_model(attn, dtype=torch.float64)
    loss_fn = loss_fn_for(model)
    batch = make_batch(6)
    assert len(set(batch["attention_mask"].sum(1).tolist())) > 1  # padding really differs across examples
    batched = per_example_head_gradients(model, loss_fn, batch)
    looped = torch.cat([per_example_head_gradients(model, loss_fn, single(batch, b)) for b in range(6)])
    torch.testing.assert_close(batched, looped, rtol=1e-9, atol=1e-12)
    # the per-example rows really differ (a batch-mean gradient copied to every row would fail above)
    assert not torch.allclose(batched[0], batched[1])

    # and the full importance does not depend on how the examples were batched
    by_batch = head_importance(model, loss_fn, [batch])
    by_one = head_importance(model, loss_fn, [single(batch, b) for b in range(6)])
    np.testing.assert_allclose(by_batch.task, by_one.task, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(by_batch.instances, by_one.instances, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(by_batch.example_ids, np.arange(6))


def _encoders():
    kw = dict(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
              intermediate_size=32, max_position_embeddings=64)
    return {
        "bert-eager": lambda: BertModel(BertConfig(**kw, attn_implementation="eager")),
        "bert-sdpa": lambda: BertModel(BertConfig(**kw, attn_implementation="sdpa")),
        "roberta": lambda: RobertaModel(RobertaConfig(**kw, pad_token_id=1)),
        "distilbert": lambda: DistilBertModel(DistilBertConfig(
            vocab_size=VOCAB, dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=32, max_position_embeddings=64)),
        "mpnet": lambda: MPNetModel(MPNetConfig(**kw)),
        "deberta-v2": lambda: DebertaV2Model(DebertaV2Config(**kw)),
    }


@pytest.mark.parametrize("arch", list(_encoders()))
def test_mask_of_ones_is_identity_and_zero_mask_equals_zeroed_head_slice(arch):
    torch.manual_seed(0)
    enc = _encoders()[arch]().eval()
    assert head_shape(enc) == (LAYERS, HEADS)
    batch = make_batch(2)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        base = enc(**inputs).last_hidden_state
        with head_mask(enc, torch.ones(2, LAYERS, HEADS)):
            ones = enc(**inputs).last_hidden_state
        torch.testing.assert_close(ones, base, rtol=0, atol=0)

        layer, head = 1, 2
        mask = torch.ones(2, LAYERS, HEADS)
        mask[0, layer, head] = 0.0  # example 0 only
        with head_mask(enc, mask):
            masked = enc(**inputs).last_hidden_state
        cut = copy.deepcopy(enc)
        cut_head_site = attention_sites(cut)[layer]
        d = cut_head_site.head_size
        cut_head_site.out_proj.weight[:, head * d:(head + 1) * d] = 0
        expected = cut(**inputs).last_hidden_state
        assert (masked[0] - base[0]).abs().max() > 1e-4  # masking the head changed example 0 ...
        torch.testing.assert_close(masked[0], expected[0], rtol=1e-5, atol=1e-6)  # ... exactly like cutting it
        torch.testing.assert_close(masked[1], base[1], rtol=0, atol=0)  # ... and left example 1 alone

        # the hooks are gone after the context, also when it exits through an exception
        assert all(len(s.out_proj._forward_pre_hooks) == 0 for s in attention_sites(enc))
        with pytest.raises(RuntimeError, match="boom"):
            with head_mask(enc, mask):
                raise RuntimeError("boom")
        assert all(len(s.out_proj._forward_pre_hooks) == 0 for s in attention_sites(enc))
        torch.testing.assert_close(enc(**inputs).last_hidden_state, base, rtol=0, atol=0)


def test_shared_mask_and_bad_mask_shapes():
    enc = make_model().encoder
    batch = make_batch(2)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    shared = torch.rand(LAYERS, HEADS, dtype=torch.float64)
    with torch.no_grad():
        with head_mask(enc, shared):
            a = enc(**inputs).last_hidden_state
        with head_mask(enc, shared.expand(2, -1, -1)):
            b = enc(**inputs).last_hidden_state
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"\[B, 2, 4\]"):
        head_mask(enc, torch.ones(2, LAYERS, HEADS + 1))
    with pytest.raises(ValueError, match="3 examples but the batch has 2"):
        with torch.no_grad(), head_mask(enc, torch.ones(3, LAYERS, HEADS, dtype=torch.float64)):
            enc(**inputs)
