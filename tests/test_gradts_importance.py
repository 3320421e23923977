"""GradTS head importance (and the reference code's statistic, for parity), and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from transformers import AlbertConfig, AlbertModel

from auxlearn.errors import AuxlearnError
from auxlearn.select.gradts import (
    HeadImportance,
    attention_sites,
    head_importance,
    head_shape,
    kendall_tau,
    minmax,
    normalize_layers,
    per_example_head_gradients,
    per_example_reference_statistic,
    reference_importance,
)
from gradts_models import LAYERS, HEADS, HIDDEN, VOCAB, make_model, make_batch, single, loss_fn_for, cut_head


# ------------------------------------------------------------------------------------------------ importance


def test_a_cut_head_has_zero_importance():
    model = make_model()
    cut_head(model, layer=0, head=1)
    imp = head_importance(model, loss_fn_for(model), [make_batch(5), make_batch(3, seed=2, start_id=5)])
    assert imp.task_raw[0, 1] == 0.0
    assert imp.task[0, 1] == 0.0
    assert np.all(imp.instances[:, 0, 1] == 0.0)
    others = np.delete(imp.task_raw.reshape(-1), 1)
    assert np.all(others > 0)


@pytest.mark.parametrize("kind", ["sum", "l2"])
def test_head_importance_composes_mean_layer_norm_and_minmax(kind):
    model = make_model()
    loss_fn = loss_fn_for(model)
    batches = [make_batch(4), make_batch(3, seed=5, start_id=100)]
    imp = head_importance(model, loss_fn, batches, normalization=kind)
    raw = torch.cat([per_example_head_gradients(model, loss_fn, b) for b in batches]).abs().numpy()
    np.testing.assert_allclose(imp.task_raw, raw.mean(0), rtol=1e-10)
    np.testing.assert_allclose(imp.task, minmax(normalize_layers(raw.mean(0), kind)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(imp.instances, minmax(normalize_layers(raw, kind)), rtol=1e-5, atol=1e-6)
    assert imp.task.min() == 0.0 and imp.task.max() == 1.0
    assert np.all(imp.instances.min(axis=(1, 2)) == 0.0) and np.all(imp.instances.max(axis=(1, 2)) == 1.0)
    np.testing.assert_array_equal(imp.example_ids, [0, 1, 2, 3, 100, 101, 102])
    np.testing.assert_array_equal(imp.instance(101), imp.instances[5])
    assert imp.normalization == kind and imp.statistic == "head_mask"
    other = head_importance(model, loss_fn, batches, normalization="l2" if kind == "sum" else "sum")
    assert not np.allclose(other.task, imp.task)  # the setting is honoured


def test_importance_runs_in_eval_mode_restores_modes_and_leaves_parameter_grads_alone():
    model = make_model()
    model.train()
    model.head.eval()  # a submodule with its own mode must get it back
    loss_fn = loss_fn_for(model)
    batch = make_batch(4)
    first = head_importance(model, loss_fn, [batch])
    second = head_importance(model, loss_fn, [batch])
    np.testing.assert_array_equal(first.task, second.task)  # no dropout noise
    assert model.training and model.encoder.training and not model.head.training
    model.eval()
    np.testing.assert_allclose(head_importance(model, loss_fn, [batch]).task, first.task, rtol=1e-12)
    reference_importance(model, loss_fn, [batch])
    assert all(p.grad is None for p in model.parameters())


def test_importance_save_and_load_round_trip(tmp_path):
    model = make_model()
    imp = head_importance(model, loss_fn_for(model), [make_batch(3)], normalization="l2")
    path = tmp_path / "primary.importance"
    imp.save(path)
    back = HeadImportance.load(path)
    np.testing.assert_array_equal(back.task, imp.task)
    np.testing.assert_array_equal(back.instances, imp.instances)
    np.testing.assert_array_equal(back.example_ids, imp.example_ids)
    assert back.normalization == "l2" and back.statistic == "head_mask"


def test_normalize_layers_and_minmax():
    rng = np.random.default_rng(0)
    m = rng.random((3, 5))
    m[1] = 0.0
    s = normalize_layers(m, "sum")
    np.testing.assert_allclose(s[[0, 2]].sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(s[1] == 0.0)  # an all-zero layer stays zero instead of 0/0
    q = normalize_layers(m, "l2")
    np.testing.assert_allclose(np.linalg.norm(q[[0, 2]], axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(q[0] / s[0], q[0, 0] / s[0, 0])  # same direction, other scale

    mm = minmax(rng.random((4, 6)) * 7 + 3)
    assert mm.min() == 0.0 and mm.max() == 1.0
    assert np.all(minmax(np.full((2, 3), 0.4)) == 0.0)  # constant matrix guard
    stack = minmax(rng.random((5, 3, 4)))  # a stack is rescaled matrix by matrix
    assert np.all(stack.min(axis=(1, 2)) == 0.0) and np.all(stack.max(axis=(1, 2)) == 1.0)
    stack_s = normalize_layers(rng.random((5, 3, 4)), "sum")
    np.testing.assert_allclose(stack_s.sum(axis=-1), 1.0, rtol=1e-12)

    with pytest.raises(ValueError, match="unknown normalization"):
        normalize_layers(m, "max")
    with pytest.raises(ValueError, match="non-negative"):
        normalize_layers(-m, "sum")


# ------------------------------------------------------------------------------------------------ reference parity


def test_reference_statistic_equals_hand_computation_from_key_value_grads():
    model = make_model()
    loss_fn = loss_fn_for(model)
    batch = make_batch(4)
    stat = per_example_reference_statistic(model, loss_fn, batch)  # batched, padded
    assert stat.shape == (4, LAYERS, HEADS)
    for b in range(4):
        ex = single(batch, b)
        model.zero_grad(set_to_none=True)
        loss_fn(ex).sum().backward()
        for layer, site in enumerate(attention_sites(model)):
            a = site.key.weight.grad.abs() + site.value.weight.grad.abs()  # [out, in]; the query is ignored
            out, inp = a.shape
            chunks = a.reshape(out, HEADS, inp // HEADS)  # the reference splits the INPUT dimension
            hand = torch.stack([chunks[:, h, :].mean() for h in range(HEADS)])
            np.testing.assert_allclose(stat[b, layer], hand.numpy(), rtol=1e-9, atol=1e-14)
    model.zero_grad(set_to_none=True)

    imp = reference_importance(model, loss_fn, [batch])
    assert imp.statistic == "reference"
    np.testing.assert_allclose(imp.task_raw, stat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(imp.task, minmax(normalize_layers(stat.mean(0), "sum")), rtol=1e-12)


def test_reference_statistic_differs_from_head_mask_statistic_because_of_its_grouping():
    model = make_model()
    cut_head(model, layer=0, head=1)
    loss_fn = loss_fn_for(model)
    batches = [make_batch(6)]
    hm = head_importance(model, loss_fn, batches)
    ref = reference_importance(model, loss_fn, batches)
    # head (0, 1) is dead: the head-mask statistic sees it, the reference's column chunks mix every head
    assert hm.task_raw[0, 1] == 0.0
    assert ref.task_raw[0, 1] > 0.0
    # the rows of W_K / W_V that really belong to head 1 get no gradient at all
    site = attention_sites(model)[0]
    d = site.head_size
    for b in range(6):
        model.zero_grad(set_to_none=True)
        loss_fn(single(batches[0], b)).sum().backward()
        assert site.key.weight.grad[d:2 * d].abs().max() < 1e-12
        assert site.value.weight.grad[d:2 * d].abs().max() == 0.0
    model.zero_grad(set_to_none=True)
    assert kendall_tau(hm.task, ref.task) < 0.9


# ------------------------------------------------------------------------------------------------ errors


def test_clear_error_for_an_encoder_without_attention_heads():
    with pytest.raises(AuxlearnError, match="Sequential has no recognisable attention heads"):
        head_shape(nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 8)))
    albert = AlbertModel(AlbertConfig(vocab_size=VOCAB, embedding_size=8, hidden_size=HIDDEN, num_hidden_layers=2,
                                      num_attention_heads=HEADS, intermediate_size=32))
    with pytest.raises(AuxlearnError, match="AlbertModel"):
        head_importance(albert, lambda b: torch.zeros(1), [{"example_id": [0]}])


def test_clear_errors_for_bad_loss_functions_and_batches():
    model = make_model()
    batch = make_batch(3)
    with pytest.raises(AuxlearnError, match=r"one loss per example, shape \[3\]"):
        head_importance(model, lambda b: loss_fn_for(model)(b).mean(), [batch])
    with pytest.raises(AuxlearnError, match="example_id"):
        head_importance(model, loss_fn_for(model), [{k: v for k, v in batch.items() if k != "example_id"}])
    with pytest.raises(AuxlearnError, match="does not depend"):
        head_importance(model, lambda b: torch.zeros(3, requires_grad=True) * 2, [batch])
    with pytest.raises(AuxlearnError, match="unique"):
        head_importance(model, loss_fn_for(model), [batch, batch])
    with pytest.raises(AuxlearnError, match="at least one example"):
        head_importance(model, loss_fn_for(model), [])
