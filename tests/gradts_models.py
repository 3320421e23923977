"""Tiny encoders and batches for the GradTS tests: a classifier over any of several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertConfig, BertModel

from auxlearn.select.gradts import attention_sites


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
