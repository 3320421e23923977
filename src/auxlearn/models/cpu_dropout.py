"""Dropout whose masks cost a quarter of torch's on a CPU: 16 random bits an element, four elements a draw.

On a CPU, torch's dropout draws one number from its Mersenne twister per element, one after another: the mask of
a [16, 40, 384] batch costs 1.6 ms, about fifty additions' worth, and the masks of all-MiniLM-L6-v2's 13 dropout
layers and 6 attention dropouts took 14 % of a bfloat16 training step on a Xeon with AMX (``bench/step_profile.py``).
Drawing 64-bit numbers and reading each as four 16-bit ones draws a quarter as many (0.64 ms for that batch, the
compare and scale included). The drop probability is rounded to a multiple of 1/65,536 (0.1 becomes 0.100006).
The numbers still come from torch's generator, so seeds and checkpoints (which save its state) work as before.

Attention dropout sits inside ``scaled_dot_product_attention``, whose CPU kernels with dropout take the unfused
path; its fused kernel without dropout was slower still in training here (0.86x, ``bench/step_profile.py``). So
in training on a CPU, attention with dropout runs the eager product (scores, softmax, mask, product) with a bit
mask, registered with transformers' attention interface as ``auxlearn_sdpa``; in evaluation, on other devices
and wherever the case is not plain bidirectional attention (causal, grouped keys, position biases), it is
transformers' own ``sdpa`` path unchanged. Elsewhere (a GPU) both are torch's own dropout.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION = "auxlearn_sdpa"
_LEVELS = 1 << 16


def bit_dropout_mask(like: torch.Tensor, p: float) -> torch.Tensor:
    """The scaled keep-mask of dropout with probability ``p`` for a tensor shaped as ``like``, in its dtype."""
    count = like.numel()
    # The whole 64-bit range: random_() with no bounds leaves the sign bit 0, which would bias every fourth lane.
    words = torch.empty((count + 3) // 4, dtype=torch.int64, device=like.device).random_(-2**63, None)
    bits = words.view(torch.int16)[:count].view(like.shape)
    keep = bits >= round(p * _LEVELS) - _LEVELS // 2  # int16 spans [-32768, 32767]: P(drop) = round(p * 2^16) / 2^16
    return keep.to(like.dtype).mul_(1.0 / (1.0 - p))


class BitDropout(nn.Dropout):
    """``nn.Dropout`` with the bit mask on a CPU in training; torch's own elsewhere (and in place)."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or self.inplace or input.device.type != "cpu":
            return super().forward(input)
        return input * bit_dropout_mask(input, self.p)


def _attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
               attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
               **kwargs):
    """Bidirectional multi-head attention with a bit mask on its weights, in CPU training; else transformers'."""
    plain = (dropout > 0.0 and module.training and query.device.type == "cpu" and not kwargs.get("is_causal")
             and not getattr(module, "is_causal", False) and kwargs.get("position_bias") is None
             and key.shape[1] == query.shape[1])
    if not plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    scores = torch.matmul(query, key.transpose(2, 3)) * (query.size(-1) ** -0.5 if scaling is None else scaling)
    if attention_mask is not None:  # sdpa's mask: True where a query may attend, or additive
        scores = (scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
                  if attention_mask.dtype == torch.bool else scores + attention_mask)
    weights = torch.softmax(scores, dim=-1)
    weights = weights * bit_dropout_mask(weights, dropout)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION, _attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def use_bit_dropout(encoder: nn.Module) -> nn.Module:
    """``encoder`` with every ``nn.Dropout`` a ``BitDropout`` and, where it attends through ``sdpa``, its attention
    through ``auxlearn_sdpa``; its weights, config file and outputs in evaluation are unchanged."""
    for module in encoder.modules():
        if type(module) is nn.Dropout:
            module.__class__ = BitDropout
    config = getattr(encoder, "config", None)
    if getattr(config, "_attn_implementation", None) == "sdpa":
        encoder.set_attn_implementation(ATTENTION)
    return encoder
