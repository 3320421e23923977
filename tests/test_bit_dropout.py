"""Dropout from 16-bit draws (models/cpu_dropout.py): the right rate and scale, torch's seeding, and an encoder that
computes what stock transformers computes wherever no mask is drawn."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from torch import nn
from transformers import AutoModel

from auxlearn.models.cpu_dropout import ATTENTION, BitDropout, bit_dropout_mask
from auxlearn.models.encoder import load_encoder


@pytest.mark.parametrize("p", [0.1, 0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_mask_drops_p_of_the_elements_and_keeps_the_mean(p, dtype):
    torch.manual_seed(0)
    mask = bit_dropout_mask(torch.empty(400_000, dtype=dtype), p)
    assert mask.dtype == dtype and mask.shape == (400_000,)
    dropped = (mask == 0).float().mean().item()
    assert abs(dropped - p) < 0.004  # 400,000 draws: the standard error is <= 0.0008
    values = mask.unique().float().tolist()
    assert len(values) == 2 and values[0] == 0.0 and values[1] == pytest.approx(1 / (1 - p), rel=1e-2)
    assert abs(mask.float().mean().item() - 1.0) < 0.01


def test_masks_follow_torch_seed_and_differ_between_draws():
    like = torch.empty(3, 7, 5)  # 105 elements: not a multiple of the four a draw gives
    torch.manual_seed(3)
    first, second = bit_dropout_mask(like, 0.3), bit_dropout_mask(like, 0.3)
    torch.manual_seed(3)
    assert torch.equal(bit_dropout_mask(like, 0.3), first)
    assert not torch.equal(first, second)


def test_dropped_elements_get_no_gradient_and_kept_ones_the_scale():
    layer = BitDropout(0.5).train()
    x = torch.randn(64, 32, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    dropped = y.detach() == 0
    assert 0.3 < dropped.float().mean().item() < 0.7
    assert torch.all(x.grad[dropped] == 0) and torch.allclose(x.grad[~dropped], torch.full_like(x.grad[~dropped], 2.0))
    assert torch.equal(layer.eval()(x), x)


def _batch():
    ids = torch.randint(5, 100, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    return ids, mask


def test_the_encoder_drops_through_bit_masks_and_evaluates_as_stock_transformers(tiny_model_dir):
    ours, stock = load_encoder(tiny_model_dir), AutoModel.from_pretrained(tiny_model_dir)
    assert ours.config._attn_implementation == ATTENTION and stock.config._attn_implementation == "sdpa"
    dropouts = [m for m in ours.modules() if isinstance(m, nn.Dropout)]
    assert dropouts and all(type(m) is BitDropout for m in dropouts)
    ids, mask = _batch()
    with torch.no_grad():
        assert torch.equal(ours.eval()(input_ids=ids, attention_mask=mask).last_hidden_state,
                           stock.eval()(input_ids=ids, attention_mask=mask).last_hidden_state)


def test_training_attention_with_nothing_dropped_is_the_stock_attention(tiny_model_dir):
    """The eager product that training on a CPU runs, padding mask included, against sdpa in evaluation."""
    ours, stock = load_encoder(tiny_model_dir), AutoModel.from_pretrained(tiny_model_dir).eval()
    for module in ours.modules():
        if isinstance(module, nn.Dropout):
            module.p = 1e-7  # rounds to no drop at all: the bit path runs, and keeps everything
    ids, mask = _batch()
    with torch.no_grad():
        trained = ours.train()(input_ids=ids, attention_mask=mask).last_hidden_state
        evaluated = stock(input_ids=ids, attention_mask=mask).last_hidden_state
    real = mask.bool()
    assert torch.allclose(trained[real], evaluated[real], atol=1e-5)
    ours.train()(input_ids=ids, attention_mask=mask).last_hidden_state.sum().backward()
    assert all(p.grad is not None for p in ours.encoder.parameters())


def test_training_draws_the_masks_from_torch_seed(tiny_model_dir):
    encoder = load_encoder(tiny_model_dir).train()
    ids, mask = _batch()
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        with torch.no_grad():
            runs.append(encoder(input_ids=ids, attention_mask=mask).last_hidden_state)
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_a_saved_encoder_loads_with_plain_transformers(tiny_model_dir, tmp_path):
    load_encoder(tiny_model_dir).save_pretrained(tmp_path)
    assert "_attn_implementation" not in json.loads((tmp_path / "config.json").read_text())
    code = ("from transformers import AutoModel; "
            f"print(AutoModel.from_pretrained({str(tmp_path)!r}).config._attn_implementation)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "sdpa"
