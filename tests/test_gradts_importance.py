"""GradTS pieces: head mask hooks, head importance, Kendall tau, instance filtering, the trial procedure."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import kendalltau
from torch import nn
from transformers import (
    AlbertConfig,
    AlbertModel,
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

from auxlearn.errors import AuxlearnError
from auxlearn.select.gradts import (
    HeadImportance,
    attention_sites,
    filter_instances,
    gradts_trial,
    head_importance,
    head_mask,
    head_shape,
    instance_taus,
    kendall_tau,
    minmax,
    normalize_layers,
    per_example_head_gradients,
    per_example_reference_statistic,
    rank_candidates,
    reference_importance,
)

LAYERS, HEADS, HIDDEN, VOCAB, LABELS = 2, 4, 16, 100, 3


class Classifier(nn.Module):
    """Encoder + dropout + linear head on the first token: the shape of auxlearn's task models."""

    def __init__(self, encoder: nn.Module, hidden: int, labels: int = LABELS):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, labels)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(h[:, 0]))


def bert_config(attn: str = "eager", **over) -> BertConfig:
    kw = dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
        intermediate_size=32, max_position_embeddings=64, initializer_range=0.3,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, attn_implementation=attn,
    )
    kw.update(over)
    return BertConfig(**kw)


def make_model(attn: str = "eager", dtype=torch.float64, seed: int = 0, **over) -> Classifier:
    torch.manual_seed(seed)
    cfg = bert_config(attn, **over)
    model = Classifier(BertModel(cfg, add_pooling_layer=False), cfg.hidden_size).to(dtype)
    with torch.no_grad():  # a head with non-trivial logits, so the losses have real gradients
        model.head.weight.normal_(0, 1.0)
    return model.eval()


def make_batch(n: int, seed: int = 1, start_id: int = 0, min_len: int = 3, max_len: int = 9) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=g)
    t = int(lengths.max())
    ids = torch.zeros(n, t, dtype=torch.long)
    att = torch.zeros(n, t, dtype=torch.long)
    for b, length in enumerate(lengths.tolist()):
        ids[b, :length] = torch.randint(1, VOCAB, (length,), generator=g)
        att[b, :length] = 1
    return {
        "input_ids": ids,
        "attention_mask": att,
        "labels": torch.randint(0, LABELS, (n,), generator=g),
        "example_id": torch.arange(start_id, start_id + n),
    }


def single(batch: dict, b: int) -> dict:
    """Example b of a batch on its own, padding removed."""
    length = int(batch["attention_mask"][b].sum())
    return {
        "input_ids": batch["input_ids"][b:b + 1, :length],
        "attention_mask": batch["attention_mask"][b:b + 1, :length],
        "labels": batch["labels"][b:b + 1],
        "example_id": batch["example_id"][b:b + 1],
    }


def loss_fn_for(model: Classifier):
    def loss_fn(batch):
        logits = model(batch["input_ids"], batch["attention_mask"])
        return F.cross_entropy(logits, batch["labels"], reduction="none")

    return loss_fn


def cut_head(model: Classifier, layer: int, head: int) -> None:
    """Zero the output-projection columns of one head: its context no longer reaches anything."""
    site = attention_sites(model)[layer]
    d = site.head_size
    with torch.no_grad():
        site.out_proj.weight[:, head * d:(head + 1) * d] = 0


# ------------------------------------------------------------------------------------------------ head mask


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


# ------------------------------------------------------------------------------------------------ correlation


def test_kendall_tau_equals_scipy_and_its_extremes():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = np.round(rng.random((3, 4)), 1)  # rounding creates ties, exercising tau-b
        b = np.round(rng.random((3, 4)), 1)
        assert kendall_tau(a, b) == pytest.approx(kendalltau(a.ravel(), b.ravel()).statistic, abs=1e-12)
    x = rng.random((4, 3))
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, -x) == pytest.approx(-1.0)
    assert kendall_tau(x, np.zeros((4, 3))) == 0.0  # undefined (constant) -> 0.0, documented
    with pytest.raises(ValueError, match="same shape"):
        kendall_tau(x, rng.random((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kendall_tau(x, np.full((4, 3), np.nan))


def test_rank_candidates_sorts_by_tau_then_name():
    p = np.arange(12.0).reshape(3, 4)
    ranked = rank_candidates(p, {"b": p, "a": p * 2, "rev": -p, "flat": np.zeros((3, 4))})
    assert [t for t, _ in ranked] == ["a", "b", "flat", "rev"]
    assert [tau for _, tau in ranked] == pytest.approx([1.0, 1.0, 0.0, -1.0])


def test_instance_taus_equal_a_loop_of_scipy_calls():
    rng = np.random.default_rng(7)
    primary = np.round(rng.random((4, 6)), 2)
    inst = rng.random((300, 4, 6))
    inst[:100] = np.round(inst[:100], 1)  # ties
    inst[5] = 0.3  # constant -> 0.0
    inst[6] = primary
    expected = np.array([kendalltau(primary.ravel(), m.ravel()).statistic for m in inst])
    expected = np.nan_to_num(expected, nan=0.0)
    got = instance_taus(primary, inst, chunk_elements=5_000)  # several chunks
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert got[5] == 0.0 and got[6] == pytest.approx(1.0)
    assert instance_taus(primary, np.zeros((0, 4, 6))).shape == (0,)
    # large matrices (BERT-large, 24x16) take the scipy-loop path: same answers
    big_p, big = np.round(rng.random((15, 16)), 2), np.round(rng.random((6, 15, 16)), 1)
    big[2] = 0.0
    want = np.nan_to_num([kendalltau(big_p.ravel(), m.ravel()).statistic for m in big], nan=0.0)
    np.testing.assert_allclose(instance_taus(big_p, big), want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="do not match"):
        instance_taus(primary, rng.random((3, 5, 6)))


# ------------------------------------------------------------------------------------------------ GradTS-fg


def test_filter_by_threshold_keeps_exactly_the_instances_at_or_over_it():
    ids = np.array([10, 3, 7, 42, 5, 8])
    taus = np.array([0.62, 0.61999, 0.9, -0.2, 0.62, 0.7])
    kept = filter_instances(ids, taus, threshold=0.62)
    np.testing.assert_array_equal(kept, [10, 7, 5, 8])  # >= t, input order
    assert filter_instances(ids, taus, threshold=0.95).size == 0
    np.testing.assert_array_equal(filter_instances(ids, taus, threshold=-1.0), ids)


def test_filter_by_coverage_keeps_the_top_fraction_with_deterministic_ties():
    ids = np.arange(10)[::-1].copy()  # 9, 8, ..., 0
    taus = np.array([0.1, 0.5, 0.5, 0.5, 0.2, 0.9, 0.3, 0.0, 0.4, 0.5])
    # by tau desc: id 4 (0.9), then the 0.5 ties by id: 0, 6, 7, 8, ...
    np.testing.assert_array_equal(filter_instances(ids, taus, coverage=0.3), [6, 4, 0])  # input order
    np.testing.assert_array_equal(filter_instances(ids, taus, coverage=0.4), [7, 6, 4, 0])
    assert filter_instances(ids, taus, coverage=0.3).size == 3  # 0.3 * 10 rounds to 3, not 4
    assert filter_instances(ids, taus, coverage=0.31).size == 4  # ceil
    assert filter_instances(ids, taus, coverage=0.01).size == 1
    assert filter_instances(ids, taus, coverage=1.0).size == 10
    big = filter_instances(np.arange(1000), np.random.default_rng(0).random(1000), coverage=0.55)
    assert big.size == 550


def test_filter_instances_rejects_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        filter_instances([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="exactly one"):
        filter_instances([1, 2], [0.1, 0.2], threshold=0.1, coverage=0.5)
    with pytest.raises(ValueError, match=r"coverage must be in \(0, 1\]"):
        filter_instances([1, 2], [0.1, 0.2], coverage=0.0)
    with pytest.raises(ValueError, match="aligned"):
        filter_instances([1, 2, 3], [0.1, 0.2], threshold=0.1)
    with pytest.raises(ValueError, match="unique"):
        filter_instances([1, 1], [0.1, 0.2], threshold=0.1)
    with pytest.raises(ValueError, match="NaN"):
        filter_instances([1, 2], [0.1, math.nan], threshold=0.1)


# ------------------------------------------------------------------------------------------------ GradTS-trial


class StubScorer:
    def __init__(self, scores):
        self.scores, self.calls = scores, []

    def __call__(self, tasks):
        self.calls.append(list(tasks))
        return self.scores[len(tasks) - 1]  # tasks = [primary, *prefix]; trial 0 is the primary alone


def test_trial_stops_on_a_decrease_and_keeps_the_best_prefix():
    scorer = StubScorer([0.40, 0.50, 0.60, 0.55, 0.99])
    res = gradts_trial("rte", ["mnli", "qqp", "mrpc", "cola"], scorer)
    assert scorer.calls == [["rte"], ["rte", "mnli"], ["rte", "mnli", "qqp"], ["rte", "mnli", "qqp", "mrpc"]]
    assert res.stopped_at == 3
    assert res.selected == ["mnli", "qqp"]
    assert [t["k"] for t in res.trials] == [0, 1, 2, 3]
    assert [t["score"] for t in res.trials] == [0.40, 0.50, 0.60, 0.55]
    assert res.trials[3]["tasks"] == ["rte", "mnli", "qqp", "mrpc"]
    assert res.best_score == 0.60


def test_trial_runs_every_prefix_while_scores_do_not_fall():
    scorer = StubScorer([0.4, 0.5, 0.6, 0.6, 0.7])
    res = gradts_trial("p", ["a", "b", "c", "d"], scorer)
    assert len(scorer.calls) == 5 and res.stopped_at is None
    assert res.selected == ["a", "b", "c", "d"]


def test_trial_ties_keep_the_smaller_prefix_and_compare_best_with_best():
    # trial 2 equals trial 1 (no stop, tie keeps k=1); trial 3 is below trial 2 -> stop
    res = gradts_trial("p", ["a", "b", "c", "d"], StubScorer([0.6, 0.7, 0.7, 0.69, 0.9]))
    assert res.selected == ["a"] and res.stopped_at == 3
    scorer = StubScorer([0.5, 0.8, 0.6, 0.9])  # a fall right after the first prefix stops there
    res = gradts_trial("p", ["a", "b", "c"], scorer)
    assert res.stopped_at == 2 and res.selected == ["a"] and len(scorer.calls) == 3
    res = gradts_trial("p", ["a", "b", "c", "d"], StubScorer([0.5, 0.8, 0.8, 0.85, 0.85]))
    assert res.stopped_at is None and res.selected == ["a", "b", "c"]


def test_primary_alone_is_trial_zero_and_edge_cases():
    scorer = StubScorer([0.0, 0.01])
    res = gradts_trial("p", ["a"], scorer)
    assert scorer.calls == [["p"], ["p", "a"]] and res.selected == ["a"] and res.stopped_at is None
    res = gradts_trial("p", ["a"], StubScorer([0.01, 0.01]))  # as good as the primary alone is not better
    assert res.selected == []
    res = gradts_trial("p", [], StubScorer([]))
    assert res.trials == [] and res.selected == []
    with pytest.raises(ValueError, match="own candidates"):
        gradts_trial("p", ["a", "p"], StubScorer([0.1, 0.2]))
    with pytest.raises(ValueError, match="non-finite"):
        gradts_trial("p", ["a"], StubScorer([0.1, math.nan]))
