"""The config's ``objectives`` section: how the tasks an objective trains (AANG's generated objectives, a
``masked_lm`` task) meet the encoder. On an encoder without a pretrained masked-LM head (all-MiniLM-L6-v2), an LM
head starts from random weights and its first, large gradients run through the whole encoder: on citation intent
every denoising arm ended about 18 points of macro-F1 below the primary alone (``bench/aang.py``, seeds 0 and 1).

These settings change nothing for an experiment that trains no such task, so its identity leaves them out
(``identity.py``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Provisional: to be set from bench/aang.py's measurements (each arm with and without warm-up, 5 paired seeds on
# two primaries). On citation intent with all-MiniLM-L6-v2 (batch 16, 0.15 s a step on a 2-core CPU), a tied head's
# masked-LM loss falls from 10.3 to about 6.5 in 200-300 steps at 3e-3 (next-token prediction: to about 5.3), with
# little left to gain after 200; 200 steps are about two epochs of its 1,519 training sentences.
DEFAULT_HEAD_WARMUP = 200
DEFAULT_HEAD_WARMUP_LR = 3e-3


class ObjectivesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    head_warmup: int = Field(
        DEFAULT_HEAD_WARMUP, ge=0,
        description="steps that fit each LM head (masked LM, next token) with the encoder frozen on its objective's "
                    "own text before the encoder trains, cached per encoder, text, objective and settings; 0: none")
    head_warmup_lr: float = Field(DEFAULT_HEAD_WARMUP_LR, gt=0,
                                  description="learning rate of the head warm-up (AdamW on the head alone)")
    untie_heads: bool = Field(
        False, description="each LM head's output matrix its own parameter (a copy of the input embeddings), "
                           "not tied to them: a vocabulary x hidden matrix per head")
    freeze_embeddings: bool = Field(
        False, description="the encoder's input embeddings stay frozen while a model with an LM head trains")
    lr_scale: float = Field(
        1.0, gt=0, description="the learning rate of generated objectives' heads, as a multiple of the heads' "
                               "(train.head_lr, else train.lr)")
