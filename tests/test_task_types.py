"""Every registered task type honours the same contract on a tiny random BERT: encode, collate, head, loss,
predictions, metrics (types with labels); row checks and metric sets (all types); plus the properties a type
declares (label dtype, tags on first sub-words). The masked-LM type's own contract is in test_masked_lm.py."""

from __future__ import annotations

import json
import math

import datasets
import numpy as np
import pytest
import torch

from auxlearn.data.batching import collate
from auxlearn.data.encode import IGNORE_INDEX, encode_split
from auxlearn.errors import AuxlearnError
from auxlearn.models.encoder import load_encoder
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks.metrics import METRICS
from auxlearn.tasks.spec import DataSource, TaskSpec
from auxlearn.tasks.types import TASK_TYPES
from auxlearn.train.evaluation import Inference, predict

TYPES = sorted(TASK_TYPES)
LABELLED = [name for name in TYPES if TASK_TYPES[name].labelled]
SENTENCES = ["the cat sat on the mat", "unbelievably , nobody came to the zymurgy lecture", "Ada Lovelace wrote it",
             "Paris is in France", "a b c", "tokenizers split rare words like antidisestablishmentarianism",
             "no", "short texts and long texts are padded differently in a batch"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC"]
SOURCE = "toy.csv"
BAD_ROW = 2


def _pairs(rng, n):
    return {"first": [SENTENCES[i] for i in rng.integers(0, len(SENTENCES), n)],
            "second": [SENTENCES[i] for i in rng.integers(0, len(SENTENCES), n)]}


def _classification(rng, n):
    labels = [["no", "yes"][i] for i in rng.permutation(np.arange(n) % 2)]
    return {"text_fields": ["first", "second"], "label_names": ["no", "yes"]}, {**_pairs(rng, n), "label": labels}, \
        "maybe"


def _regression(rng, n):
    return {"text_fields": ["first", "second"]}, {**_pairs(rng, n), "label": rng.uniform(0, 5, n).tolist()}, "high"


def _tagging(rng, n):
    words = [SENTENCES[i].split() for i in rng.permutation(n) % len(SENTENCES)]
    tags = [[TAGS[t] for t in rng.integers(0, len(TAGS), len(row))] for row in words]
    return {"text_fields": ["tokens"], "label_names": TAGS}, {"tokens": words, "label": tags}, ["O", "B-MISC"]


def _masked_lm(rng, n):
    return {"text_fields": ["text"]}, {"text": [SENTENCES[i] for i in rng.permutation(n) % len(SENTENCES)]}, None


# Example rows per type: spec fields, columns (a "label" column for a type with labels) and a label value the
# type must reject.
EXAMPLES = {"classification": _classification, "regression": _regression, "tagging": _tagging,
            "masked_lm": _masked_lm}


def toy(name: str, n: int = 8, seed: int = 0):
    """A task of type ``name`` with its type's default metrics, its rows, and a bad label for it."""
    if name not in EXAMPLES:
        pytest.fail(f"task type {name!r} has no example rows: add a maker to EXAMPLES in {__file__}")
    fields, columns, bad = EXAMPLES[name](np.random.default_rng(seed), n)
    metrics = list(TASK_TYPES[name].default_metrics)
    label_field = "label" if TASK_TYPES[name].labelled else None
    spec = TaskSpec(name=f"toy_{name}", type=name, label_field=label_field, metrics=metrics,
                    main_metric=metrics[:1], source=DataSource(files={"train": SOURCE}), **fields)
    return spec, columns, bad


def encode(spec, columns, tokenizer, cache, labelled=True, pair_encoding="cross"):
    rows = datasets.Dataset.from_dict(columns if labelled else {f: columns[f] for f in spec.text_fields})
    return encode_split(spec, rows, tokenizer, 24, source=SOURCE, labelled=labelled, cache_dir=cache,
                        pair_encoding=pair_encoding)


def model_for(spec, model_dir, pair_encoding="cross"):
    """The tiny encoder with a large random head, so that predictions differ from example to example."""
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(model_dir), {spec.name: spec}, pair_encoding=pair_encoding, head_dropout=0.0)
    torch.nn.init.normal_(model.head(spec.name).out.weight, std=3.0)
    return model


def cpu(tokenizer, batch_size):
    return Inference(torch.device("cpu"), tokenizer.pad_token_id, batch_size=batch_size)


def test_the_registry_is_keyed_by_each_types_own_name():
    assert TYPES and all(task_type.name == name for name, task_type in TASK_TYPES.items())
    spec, _, _ = toy(TYPES[0])
    assert spec.task_type is TASK_TYPES[TYPES[0]]
    with pytest.raises(ValueError, match="unknown task type 'poetry'"):
        TaskSpec(**{**spec.model_dump(), "type": "poetry"})


@pytest.mark.parametrize("pair_encoding", ["cross", "siamese"])
@pytest.mark.parametrize("name", LABELLED)
def test_encode_collate_forward_loss_predict_score(name, pair_encoding, tokenizer, tiny_model_dir, tmp_path):
    spec, columns, _ = toy(name)
    task_type = spec.task_type
    split = encode(spec, columns, tokenizer, tmp_path, pair_encoding=pair_encoding)
    assert split.task_type is task_type and len(split) == len(columns["label"])
    assert (split.pair_input_ids is not None) == spec.siamese(pair_encoding)
    batch = collate(split, list(range(len(split))), tokenizer.pad_token_id)
    model = model_for(spec, tiny_model_dir, pair_encoding)
    head = model.head(spec.name)
    assert isinstance(head, task_type.head)
    logits = model(spec.name, batch)
    assert logits.shape[0] == len(split) and logits.shape[-1] == task_type.num_labels(spec) == spec.num_labels
    example_losses = head.example_losses(logits, batch["labels"])
    assert example_losses.shape == (len(split),) and torch.isfinite(example_losses).all()
    loss = model.loss(spec.name, batch)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for param in [*head.parameters(), model.encoder.embeddings.word_embeddings.weight]:
        assert param.grad is not None and torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0

    predictions = predict(model, spec.name, split, cpu(tokenizer, 64))
    # Sorted, padded and gathered in batches of one, predictions are the same, in the split's order.
    alone = predict(model, spec.name, split, cpu(tokenizer, 1))
    assert alone == [pytest.approx(p, abs=1e-4) for p in predictions]
    scores = task_type.score(spec, predictions, split.labels)
    assert set(scores) == {*task_type.default_metrics, "main"}
    assert all(math.isfinite(value) for value in scores.values())
    assert scores["main"] == scores[spec.main_metric[0]]
    json.dumps([task_type.readable(spec, p) for p in predictions])  # readable outputs are plain JSON values


@pytest.mark.parametrize("name", LABELLED)
def test_an_unlabelled_split_predicts_as_the_labelled_one(name, tokenizer, tiny_model_dir, tmp_path):
    spec, columns, _ = toy(name, seed=1)
    labelled = encode(spec, columns, tokenizer, tmp_path)
    unlabelled = encode(spec, columns, tokenizer, tmp_path, labelled=False)
    assert not unlabelled.labelled and unlabelled.input_ids == labelled.input_ids
    model = model_for(spec, tiny_model_dir)
    how = cpu(tokenizer, 3)
    assert predict(model, spec.name, unlabelled, how) == predict(model, spec.name, labelled, how)


@pytest.mark.parametrize("name", LABELLED)
def test_collated_labels_are_the_encoded_ones_in_the_declared_dtype(name, tokenizer, tmp_path):
    spec, columns, _ = toy(name, seed=2)
    split = encode(spec, columns, tokenizer, tmp_path)
    indices = [5, 0, 3]
    batch = collate(split, indices, tokenizer.pad_token_id)
    labels = batch["labels"]
    assert labels.dtype == spec.task_type.label_dtype
    if spec.task_type.head.per_token:  # one label per token, padding ignored
        assert labels.shape == batch["input_ids"].shape
        for row, i in enumerate(indices):
            length = len(split.input_ids[i])
            assert labels[row, :length].tolist() == split.labels[i]
            assert (labels[row, length:] == IGNORE_INDEX).all()
    else:
        assert labels.tolist() == pytest.approx([split.labels[i] for i in indices])


@pytest.mark.parametrize("name", LABELLED)
def test_a_bad_label_names_the_task_the_file_and_the_row(name, tokenizer, tmp_path):
    spec, columns, bad = toy(name, seed=3)
    columns["label"][BAD_ROW] = bad
    if isinstance(bad, str):  # keep the column one type, as a file's column is
        columns["label"] = [str(value) for value in columns["label"]]
    with pytest.raises(AuxlearnError) as error:
        encode(spec, columns, tokenizer, tmp_path)
    for part in (repr(spec.name), SOURCE, f"row {BAD_ROW + 1}:"):
        assert part in str(error.value)


@pytest.mark.parametrize("name", TYPES)
def test_check_rows_passes_good_rows_and_names_a_value_it_cannot_read(name):
    spec, columns, _ = toy(name, seed=3)
    texts = [list(columns[field]) for field in spec.text_fields]
    labels = columns.get("label")
    spec.task_type.check_rows(spec, texts, labels, range(len(texts[0])), SOURCE)
    texts[0][BAD_ROW] = {"not": "text"}
    with pytest.raises(AuxlearnError) as error:
        spec.task_type.check_rows(spec, texts, labels, range(len(texts[0])), SOURCE)
    for part in (repr(spec.name), SOURCE, f"row {BAD_ROW + 1}:", repr(spec.text_fields[0])):
        assert part in str(error.value)


@pytest.mark.parametrize("name", TYPES)
def test_default_metrics_apply_and_other_metrics_are_refused(name):
    task_type = TASK_TYPES[name]
    assert set(task_type.default_metrics) <= task_type.metrics <= set(METRICS)
    spec, _, _ = toy(name)
    for metric in sorted(set(METRICS) - task_type.metrics):
        with pytest.raises(ValueError, match=f"metric '{metric}' does not apply to a {name} task"):
            TaskSpec(**{**spec.model_dump(), "metrics": [metric], "main_metric": [metric]})


def test_tagging_labels_sit_on_the_first_subword_of_each_word(tokenizer, tmp_path):
    spec, columns, _ = toy("tagging", seed=4)
    split = encode(spec, columns, tokenizer, tmp_path)
    for i, (words, tags) in enumerate(zip(columns["tokens"], columns["label"])):
        expected = [IGNORE_INDEX]  # [CLS]
        for word, tag in zip(words, tags):  # each word's pieces on their own, independently of word_ids
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            expected += [TAGS.index(tag)] + [IGNORE_INDEX] * (len(pieces) - 1)
        assert split.labels[i] == expected + [IGNORE_INDEX]  # [SEP]
    assert any(len(tokenizer(w, add_special_tokens=False)["input_ids"]) > 1 for row in columns["tokens"] for w in row)


def test_tagging_predicts_one_tag_per_word(tokenizer, tiny_model_dir, tmp_path):
    spec, columns, _ = toy("tagging", seed=5)
    split = encode(spec, columns, tokenizer, tmp_path, labelled=False)
    predictions = predict(model_for(spec, tiny_model_dir), spec.name, split, cpu(tokenizer, 3))
    readable = [spec.task_type.readable(spec, p) for p in predictions]
    assert [len(tags) for tags in readable] == [len(words) for words in columns["tokens"]]
    assert {tag for tags in readable for tag in tags} <= set(TAGS)
