"""Tagging: one tag per word of a pre-split sentence; each word's tag sits on its first sub-word.

Every other position (later sub-words, special tokens, padding) holds ``IGNORE_INDEX``, which neither the
loss nor the metrics read; predictions are read at the first sub-words, so there is one tag per kept word.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch.nn import functional as F

from auxlearn.errors import AuxlearnError
from auxlearn.aang.objectives.transforms import IGNORE_INDEX
from auxlearn.tasks.types.base import TaskType, check_each, label_id
from auxlearn.tasks.types.heads import Head


class TaggingHead(Head):
    per_token = True

    def example_losses(self, logits, labels):
        token_losses = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX, reduction="none")
        counts = (labels != IGNORE_INDEX).sum(-1).clamp(min=1)
        return token_losses.sum(-1) / counts

    def loss(self, logits, labels):
        """Token-level mean over the batch, as token classification is usually trained."""
        return F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE_INDEX)


class Tagging(TaskType):
    name = "tagging"
    hub_task = "token-classification"
    head = TaggingHead
    default_metrics = ("token_accuracy",)
    metrics = frozenset({"entity_f1", "token_accuracy"})

    def validate(self, spec):
        super().validate(spec)
        if len(spec.text_fields) != 1:
            raise ValueError("a tagging task has exactly one text field (the column of word lists)")

    def check_rows(self, spec, texts, labels, row_ids, source):
        """Each row: a list of words and, when labelled, a list of as many tags."""
        words = texts[0]
        check_each(spec, spec.text_fields[0], words, row_ids, source, _is_list, "a list of words (pre-split tokens)")
        if labels is None:
            return
        check_each(spec, spec.label_field, labels, row_ids, source, _is_list, "a list of tags, one per word")
        for row_id, row_words, tags in zip(row_ids, words, labels):
            if len(row_words) != len(tags):
                raise AuxlearnError(f"task {spec.name!r}, {source}, row {row_id + 1}: {len(row_words)} tokens in "
                                    f"{spec.text_fields[0]!r} but {len(tags)} tags in {spec.label_field!r}")

    def siamese(self, spec, pair_encoding):
        return False

    def tokenize(self, texts, tokenizer, max_length, siamese):
        return tokenizer(texts[0], is_split_into_words=True, truncation=True, max_length=max_length)

    def encode_labels(self, spec, values, row_ids, source, encoded):
        tags = [[label_id(spec, tag, row_id, source) for tag in row] for row_id, row in zip(row_ids, values)]
        return [_align_tags(encoded.word_ids(i), row) for i, row in enumerate(tags)]

    def placeholder_labels(self, texts, encoded):
        """No gold tags, but predictions still need each word's first sub-word: mark them with tag 0."""
        return [_align_tags(encoded.word_ids(i), [0] * len(words)) for i, words in enumerate(texts[0])]

    def flat_labels(self, values):
        return [tag for tags in values for tag in tags]

    def collate_labels(self, labels, width):
        tags = torch.full((len(labels), width), IGNORE_INDEX, dtype=torch.long)
        for r, row in enumerate(labels):
            tags[r, : len(row)] = torch.as_tensor(row)
        return tags

    def outputs(self, predictions, labels):
        """Each example's predicted tags at its words' first sub-words (the positions that carry a label)."""
        return [predictions[row][first_subwords(tags)].tolist() for row, tags in enumerate(labels)]

    def metric_inputs(self, spec, predictions, labels):
        names = spec.label_names
        references = [[names[t] for t in tags if t != IGNORE_INDEX] for tags in labels]
        return [[names[t] for t in row] for row in predictions], references

    def readable(self, spec, prediction):
        return [spec.label_names[t] for t in prediction]


def _is_list(value) -> bool:
    return isinstance(value, (list, tuple))


def first_subwords(labels: list[int]) -> torch.Tensor:
    """Where an example's words start: the positions that carry a label."""
    return torch.as_tensor([p for p, label in enumerate(labels) if label != IGNORE_INDEX], dtype=torch.long)


def _align_tags(word_ids: list[Optional[int]], tags: list[int]) -> list[int]:
    """The tag of each word sits on its first sub-word; other sub-words and special tokens get -100."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE_INDEX if word is None or word == previous else tags[word])
        previous = word
    return labels
