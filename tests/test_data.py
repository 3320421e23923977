"""Data: dynamic padding, length grouping, tagging label alignment, dev carving, subsampling, missing splits (the
encoding cache: test_encoding_cache.py)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from auxlearn.data import encode as encode_module
from auxlearn.data.batching import EndlessBatches, collate, epoch_batches, eval_batches
from auxlearn.data.encode import IGNORE_INDEX, encode_split
from auxlearn.data.loading import load_split
from auxlearn.data.task_data import build_task_data, dev_count
from auxlearn.errors import AuxlearnError, MissingSplitError
from auxlearn.experiment import build_model, build_trainer, prepare
from auxlearn.tasks import builtin_tasks

TASKS = builtin_tasks()


def data_dir() -> str:
    return os.environ["AUXLEARN_DATA_DIR"]


def build(name, tokenizer, **options):
    options = {"data_dir": data_dir(), "max_length": 64, **options}
    return build_task_data(TASKS[name], tokenizer, **options)


@pytest.fixture(scope="module")
def rte(tokenizer):
    return build("rte", tokenizer)


# --- padding ---------------------------------------------------------------------------------------------------

@pytest.mark.data
def test_batches_are_padded_to_their_longest_sequence(rte, tokenizer):
    pad = tokenizer.pad_token_id
    rng = np.random.default_rng(0)
    for _ in range(20):
        indices = rng.choice(len(rte.train), size=8, replace=False)
        batch = collate(rte.train, indices, pad)
        lengths = [len(rte.train.input_ids[i]) for i in indices]
        assert batch["input_ids"].shape == (8, max(lengths))
        assert batch["attention_mask"].sum(1).tolist() == lengths
        for row, (i, length) in enumerate(zip(indices, lengths)):
            assert batch["input_ids"][row, :length].tolist() == rte.train.input_ids[i]
            assert (batch["input_ids"][row, length:] == pad).all()
            assert batch["token_type_ids"][row, :length].tolist() == rte.train.token_type_ids[i]
        assert batch["labels"].tolist() == [rte.train.labels[i] for i in indices]
        assert batch["example_id"].tolist() == rte.train.example_ids[indices].tolist()


@pytest.mark.parametrize("max_tokens", [None, 1, 300, 1024])
@pytest.mark.data
def test_eval_batches_cover_every_example_once_within_the_token_cap(rte, tokenizer, max_tokens):
    batches = list(eval_batches(rte.dev, 64, tokenizer.pad_token_id, max_tokens=max_tokens))
    seen = np.concatenate([indices for indices, _ in batches])
    assert sorted(seen.tolist()) == list(range(len(rte.dev)))
    lengths = rte.dev.lengths
    assert np.all(np.diff(lengths[seen]) >= 0)  # sorted by length: the least padding
    for indices, batch in batches:
        assert len(indices) <= 64
        assert batch["input_ids"].shape == (len(indices), lengths[indices].max())
        if max_tokens is not None and len(indices) > 1:  # one example alone may exceed the cap
            assert batch["input_ids"].numel() <= max_tokens
    if max_tokens == 300:  # short texts go many to a batch, long ones few
        assert len(batches[0][0]) > len(batches[-1][0])


@pytest.mark.data
def test_padding_max_length_pads_every_training_batch_to_max_length(make_experiment):
    fixed = make_experiment(data={"padding": "max_length", "max_length": 64})
    dynamic = make_experiment()
    prepared = prepare(fixed)
    shorter = 0
    for exp in (fixed, dynamic):
        trainer = build_trainer(exp, prepared, build_model(exp, prepared, exp.tasks))
        for _ in range(8):
            batch = next(trainer.iterators["rte"])
            longest = int(batch["attention_mask"].sum(1).max())
            assert batch["input_ids"].shape[1] == (64 if exp is fixed else longest)
            shorter += longest < 64
    assert shorter > 0  # the two modes really differ on these batches


def _padding(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    return int(sum(len(b) * lengths[b].max() - lengths[b].sum() for b in batches))


@pytest.mark.data
def test_length_grouping_reduces_padding_on_a_real_split(tokenizer):
    mrpc = build("mrpc", tokenizer, max_length=128)
    lengths = mrpc.train.lengths
    grouped = epoch_batches(lengths, 16, np.random.default_rng(0), group_by_length=True)
    shuffled = epoch_batches(lengths, 16, np.random.default_rng(0), group_by_length=False)
    for batches in (grouped, shuffled):  # both visit every example exactly once per epoch
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert _padding(lengths, grouped) < 0.25 * _padding(lengths, shuffled)
    # Grouped batches still come in a random order (not sorted longest first).
    maxima = [lengths[b].max() for b in grouped]
    assert maxima != sorted(maxima, reverse=True)


@pytest.mark.data
def test_endless_batches_reshuffle_each_epoch(rte, tokenizer):
    batches = EndlessBatches(rte.train, 64, tokenizer.pad_token_id, seed=0, group_by_length=True)
    per_epoch = math.ceil(len(rte.train) / 64)
    epochs = [[next(batches)["example_id"].tolist() for _ in range(per_epoch)] for _ in range(2)]
    for epoch in epochs:
        assert sorted(i for batch in epoch for i in batch) == sorted(rte.train.example_ids.tolist())
    assert epochs[0] != epochs[1]


# --- tagging ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("task, max_length", [("conll2003_ner", 64), ("conll2003_ner", 16), ("conll2003_pos", 64)])
@pytest.mark.data
def test_tagging_labels_sit_on_the_first_subword_of_each_word(tokenizer, tmp_path, task, max_length):
    spec = TASKS[task]
    rows = load_split(spec, "train", data_dir())
    # Real rows, including the longest sentences (truncated at max_length).
    longest = np.argsort([-len(t) for t in rows["tokens"][:3000]])[:20].tolist()
    rows = rows.select(sorted(set(range(200)) | set(longest)))
    split = encode_split(spec, rows, tokenizer, max_length, source="test", labelled=True, cache_dir=tmp_path)
    truncated = 0
    for i in range(len(rows)):
        words, tags = rows[i]["tokens"], rows[i][spec.label_field]
        # Independently of word_ids: each word's sub-words, then [CLS] ... [SEP] cut to max_length.
        expected, kept = [IGNORE_INDEX], 0
        pieces_so_far = 0
        for word, tag in zip(words, tags):
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            if not pieces:
                continue
            if pieces_so_far < max_length - 2:
                kept += 1
            expected += [spec.label_names.index(tag)] + [IGNORE_INDEX] * (len(pieces) - 1)
            pieces_so_far += len(pieces)
        expected = expected[: max_length - 1] + [IGNORE_INDEX]
        labels = split.labels[i]
        assert len(labels) == len(split.input_ids[i])
        assert labels == expected, (i, words)
        assert sum(label != IGNORE_INDEX for label in labels) == kept
        truncated += kept < len(words)
    if max_length == 16:
        assert truncated > 0  # the case really exercised truncation


@pytest.mark.data
def test_tagging_batches_pad_labels_with_ignore_index(tokenizer, tmp_path):
    spec = TASKS["conll2003_ner"]
    rows = load_split(spec, "train", data_dir()).select(range(40))
    split = encode_split(spec, rows, tokenizer, 64, source="test", labelled=True, cache_dir=tmp_path)
    batch = collate(split, list(range(40)), tokenizer.pad_token_id)
    assert batch["labels"].shape == batch["input_ids"].shape
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()


# --- siamese pairs ---------------------------------------------------------------------------------------------

@pytest.mark.data
def test_siamese_pairs_encode_and_pad_each_text_alone(tokenizer):
    siamese = build("rte", tokenizer, pair_encoding="siamese", max_length=32)
    rows = load_split(TASKS["rte"], "train", data_dir())
    for position in range(0, len(siamese.dev), 50):
        row = rows[int(siamese.dev.example_ids[position])]
        for field, ids in (("sentence1", siamese.dev.input_ids), ("sentence2", siamese.dev.pair_input_ids)):
            assert ids[position] == tokenizer(row[field], truncation=True, max_length=32)["input_ids"]
    assert siamese.dev.token_type_ids is None
    # Encoded with the same cache as the cross-encoded pairs, under its own key.
    assert build("rte", tokenizer, max_length=32).dev.input_ids[0] != siamese.dev.input_ids[0]
    indices = list(range(8))
    batch = collate(siamese.dev, indices, tokenizer.pad_token_id)
    for side in ("", "pair_"):
        lengths = [len(getattr(siamese.dev, f"{side}input_ids")[i]) for i in indices]
        assert batch[f"{side}input_ids"].shape == (8, max(lengths))  # each side padded to its own longest
        assert batch[f"{side}attention_mask"].sum(1).tolist() == lengths
    tokens = batch["attention_mask"].sum(1) + batch["pair_attention_mask"].sum(1)
    assert siamese.dev.lengths[indices].tolist() == tokens.tolist()  # length grouping sees both texts
    assert list(siamese.dev.select([3, 1]).pair_input_ids) == [siamese.dev.pair_input_ids[i] for i in (3, 1)]


@pytest.mark.data
def test_siamese_leaves_single_text_and_tagging_tasks_as_they_are(tokenizer):
    for task in ("cola", "conll2003_ner"):
        cross = build(task, tokenizer, max_train_examples=50)
        siamese = build(task, tokenizer, max_train_examples=50, pair_encoding="siamese")
        assert siamese.dev.pair_input_ids is None
        assert siamese.dev.input_ids == cross.dev.input_ids and siamese.dev.labels == cross.dev.labels


# --- splits ----------------------------------------------------------------------------------------------------

@pytest.mark.data
def test_dev_is_carved_from_train_disjointly_with_the_default_size(rte, tokenizer):
    total = len(load_split(TASKS["rte"], "train", data_dir()))
    train_ids, dev_ids = set(rte.train.example_ids.tolist()), set(rte.dev.example_ids.tolist())
    assert len(rte.dev) == min(math.ceil(0.1 * total), 1000)
    assert not train_ids & dev_ids
    assert train_ids | dev_ids == set(range(total))
    assert len(rte.eval) == len(load_split(TASKS["rte"], "eval", data_dir()))
    # example_id names the train row: the dev example is that row, encoded.
    rows = load_split(TASKS["rte"], "train", data_dir())
    for position in (0, len(rte.dev) // 2, len(rte.dev) - 1):
        row = rows[int(rte.dev.example_ids[position])]
        encoded = tokenizer(row["sentence1"], row["sentence2"], truncation=True, max_length=64)["input_ids"]
        assert rte.dev.input_ids[position] == encoded
        assert rte.dev.labels[position] == row["label"]


def test_default_dev_size_is_capped_at_1000():
    assert dev_count(2490, None) == 249
    assert dev_count(23_497, None) == 1000
    assert dev_count(1000, 0.25) == 250
    assert dev_count(1000, 64) == 64
    with pytest.raises(AuxlearnError, match="dev_size"):
        dev_count(100, 100)


@pytest.mark.data
def test_dev_split_is_seeded(tokenizer):
    first = build("rte", tokenizer, dev_size=64, split_seed=1)
    again = build("rte", tokenizer, dev_size=64, split_seed=1)
    other = build("rte", tokenizer, dev_size=64, split_seed=2)
    assert len(first.dev) == 64
    assert first.dev.example_ids.tolist() == again.dev.example_ids.tolist()
    assert first.train.example_ids.tolist() == again.train.example_ids.tolist()
    assert set(first.dev.example_ids.tolist()) != set(other.dev.example_ids.tolist())


@pytest.mark.data
def test_max_train_examples_subsamples_train_only(tokenizer):
    full = build("rte", tokenizer, dev_size=64, split_seed=3)
    small = build("rte", tokenizer, dev_size=64, split_seed=3, max_train_examples=100)
    assert len(small.train) == 100
    assert set(small.train.example_ids.tolist()) < set(full.train.example_ids.tolist())
    assert small.dev.example_ids.tolist() == full.dev.example_ids.tolist()  # dev does not depend on it
    assert len(set(small.train.example_ids.tolist())) == 100
    # A random sample, not the first 100 rows of the file.
    assert max(small.train.example_ids) > 500


# --- missing splits --------------------------------------------------------------------------------------------

@pytest.mark.data
def test_missing_train_split_names_task_and_split(tokenizer):
    with pytest.raises(MissingSplitError) as error:
        build("qnli", tokenizer)
    message = str(error.value)
    assert "qnli" in message and "train" in message


@pytest.mark.data
def test_missing_eval_split_names_task_and_split(tokenizer, monkeypatch):
    encoded = []
    real = encode_module._encode
    monkeypatch.setattr(encode_module, "_encode", lambda *a, **k: encoded.append(1) or real(*a, **k))
    with pytest.raises(MissingSplitError) as error:
        build("qqp", tokenizer, need_eval=True)
    assert "qqp" in str(error.value) and "validation" in str(error.value)
    assert not encoded  # it fails before spending time on encoding train
    # A task without eval can still be trained as an auxiliary; asking for its eval split names it.
    qqp = build("qqp", tokenizer, max_train_examples=50)
    assert qqp.eval is None and len(qqp.train) == 50 and len(qqp.dev) == 1000
    with pytest.raises(AuxlearnError) as error:
        qqp.split("eval")
    assert "qqp" in str(error.value) and "validation" in str(error.value)
