"""The attention patterns R of the objective space: which positions each position may attend to.

Each pattern is a boolean mask [batch, 1, query, key] that BERT-style encoders take as ``attention_mask``
(True: may attend). Padding keys are never visible. ``left_to_right`` lets position i see j <= i;
``right_to_left`` j >= i, the same rule mirrored (AANG's reference code combines its padding mask along the other
axis there: Dery et al., ICLR 2023; here padding is removed from the keys for every pattern alike);
``random_factorised`` (XLNet's factorisation order) draws a random order of the positions per sequence and lets
i see the positions that come no later than i in it. A query left with no visible key (a padding position under
a one-way pattern) sees itself, so attention stays defined; nothing is ever predicted there.
"""

from __future__ import annotations

from typing import Literal, Optional, get_args

import torch

Pattern = Literal["bidirectional", "left_to_right", "right_to_left", "random_factorised"]
PATTERNS: tuple[str, ...] = get_args(Pattern)
ONE_WAY = ("left_to_right", "right_to_left")


def attention_pattern(pattern: Pattern, attention_mask: torch.Tensor,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """The [B, 1, T, T] mask of ``pattern`` for a batch whose padding mask is ``attention_mask`` [B, T]."""
    real = attention_mask.bool()
    batch, length = real.shape
    positions = torch.arange(length, device=real.device)
    if pattern == "bidirectional":
        allowed = torch.ones(batch, length, length, dtype=torch.bool, device=real.device)
    elif pattern == "left_to_right":
        allowed = (positions[None, :] <= positions[:, None]).expand(batch, length, length)
    elif pattern == "right_to_left":
        allowed = (positions[None, :] >= positions[:, None]).expand(batch, length, length)
    elif pattern == "random_factorised":
        # rank[b, i]: where position i comes in sequence b's random order; i sees j when rank[j] <= rank[i].
        order = torch.stack([torch.randperm(length, generator=generator) for _ in range(batch)]).to(real.device)
        rank = torch.empty_like(order).scatter_(1, order, positions.expand(batch, length))
        allowed = rank[:, None, :] <= rank[:, :, None]
    else:
        raise ValueError(f"unknown attention pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    mask = allowed & real[:, None, :]
    alone = ~mask.any(dim=-1)  # [B, T] queries that see nothing
    mask = mask | (alone[:, :, None] & torch.eye(length, dtype=torch.bool, device=real.device)[None])
    return mask[:, None]
