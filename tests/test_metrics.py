"""Metrics equal scikit-learn / scipy / seqeval on the same inputs; GLUE's main scores; evaluate end to end."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from scipy import stats
from seqeval.metrics import f1_score as seqeval_f1
from sklearn import metrics as sk

from auxlearn.data.encode import encode_split
from auxlearn.data.loading import load_split
from auxlearn.data.task_data import build_task_data
from auxlearn.models.encoder import load_encoder
from auxlearn.models.multitask import MultiTaskModel
from auxlearn.tasks import builtin_tasks
from auxlearn.tasks.metrics import METRICS, compute_metrics
from auxlearn.train.evaluation import Inference, evaluate

TASKS = builtin_tasks()
BIO = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


def classes(rng, n_classes, n=300):
    references = rng.integers(0, n_classes, n)
    noise = rng.random(n) < 0.4  # predictions agree with references 60 % of the time plus chance
    return np.where(noise, rng.integers(0, n_classes, n), references).tolist(), references.tolist()


def numbers(rng, n=300):
    references = rng.uniform(0, 5, n)
    return (references + rng.normal(0, 1.5, n)).tolist(), references.tolist()


def tags(rng, n=80):
    references = [[BIO[i] for i in rng.integers(0, len(BIO), rng.integers(1, 25))] for _ in range(n)]
    predictions = [[tag if rng.random() < 0.7 else BIO[rng.integers(0, len(BIO))] for tag in sentence]
                   for sentence in references]
    return predictions, references


# The reference implementation of each metric, called directly, and the inputs it takes.
REFERENCE = {
    "accuracy": (lambda rng: classes(rng, 3), lambda p, r: sk.accuracy_score(r, p)),
    "f1": (lambda rng: classes(rng, 2), lambda p, r: sk.f1_score(r, p)),
    "macro_f1": (lambda rng: classes(rng, 4), lambda p, r: sk.f1_score(r, p, average="macro")),
    "matthews": (lambda rng: classes(rng, 2), lambda p, r: sk.matthews_corrcoef(r, p)),
    "pearson": (numbers, lambda p, r: stats.pearsonr(p, r).statistic),
    "spearman": (numbers, lambda p, r: stats.spearmanr(p, r).statistic),
    "mse": (numbers, lambda p, r: sk.mean_squared_error(r, p)),
    "entity_f1": (tags, lambda p, r: seqeval_f1(r, p)),
    "token_accuracy": (tags, lambda p, r: float(np.mean([a == b for x, y in zip(p, r) for a, b in zip(x, y)]))),
}


def test_every_metric_has_a_reference():
    assert set(METRICS) == set(REFERENCE)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_metric_equals_its_reference_implementation(name, seed):
    make_inputs, reference = REFERENCE[name]
    predictions, references = make_inputs(np.random.default_rng(seed))
    value = METRICS[name](predictions, references)
    assert isinstance(value, float)
    assert value == pytest.approx(float(reference(predictions, references)), abs=1e-12)
    assert 0.05 < abs(value) < 20  # the inputs are neither trivial nor degenerate


@pytest.mark.parametrize("name", ["pearson", "spearman"])
def test_correlation_of_constant_predictions_is_zero_not_nan(name):
    assert METRICS[name]([1.0, 1.0, 1.0], [0.5, 2.0, 3.0]) == 0.0


# GLUE's scores as the issue names them (not read from the code under test).
GLUE_MAIN = {
    "cola": ["matthews"], "mrpc": ["f1", "accuracy"], "qqp": ["f1", "accuracy"], "stsb": ["pearson", "spearman"],
    "sst2": ["accuracy"], "mnli": ["accuracy"], "qnli": ["accuracy"], "rte": ["accuracy"], "wnli": ["accuracy"],
    "conll2003_ner": ["entity_f1"], "conll2003_pos": ["token_accuracy"], "conll2000_chunk": ["entity_f1"],
    "citation_intent": ["macro_f1"],
}


@pytest.mark.parametrize("task", sorted(GLUE_MAIN))
def test_builtin_main_score_is_the_mean_of_its_main_metrics(task):
    spec = TASKS[task]
    assert sorted(spec.main_metric) == sorted(GLUE_MAIN[task])
    assert spec.direction == "maximize"
    rng = np.random.default_rng(5)
    if spec.type == "regression":
        predictions, references = numbers(rng)
    elif spec.type == "tagging":
        predictions, references = tags(rng)
    else:
        predictions, references = classes(rng, spec.num_labels)
    scores = compute_metrics(spec.metrics, spec.main_metric, predictions, references)
    assert set(scores) == {*spec.metrics, "main"}
    expected = np.mean([REFERENCE[m][1](predictions, references) for m in GLUE_MAIN[task]])
    assert scores["main"] == pytest.approx(expected, abs=1e-12)


def test_mrpc_main_is_mean_of_f1_and_accuracy_by_hand():
    predictions, references = [1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0]
    # tp=2 fp=1 fn=1: F1 = 4/6; accuracy 4/6
    scores = compute_metrics(TASKS["mrpc"].metrics, TASKS["mrpc"].main_metric, predictions, references)
    assert scores["f1"] == pytest.approx(2 / 3) and scores["accuracy"] == pytest.approx(2 / 3)
    predictions = [1, 1, 1, 1, 1, 0]  # tp=3 fp=2 fn=0: F1 = 6/8; accuracy 4/6
    scores = compute_metrics(TASKS["mrpc"].metrics, TASKS["mrpc"].main_metric, predictions, references)
    assert scores["main"] == pytest.approx((6 / 8 + 4 / 6) / 2)


# --- evaluate end to end ---------------------------------------------------------------------------------------

def single_logits(model, task, split, i):
    batch = {"input_ids": torch.tensor([split.input_ids[i]]),
             "attention_mask": torch.ones(1, len(split.input_ids[i]), dtype=torch.long)}
    if split.token_type_ids is not None:
        batch["token_type_ids"] = torch.tensor([split.token_type_ids[i]])
    return model(task, batch)


def one_by_one(model, task, split):
    """Predictions without batching or padding: one forward pass per example."""
    head = model.head(task)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(len(split)):
            prediction = head.predict(single_logits(model, task, split, i))[0]
            if head.per_token:
                out.append([int(prediction[p]) for p, label in enumerate(split.labels[i]) if label != -100])
            else:
                out.append(prediction.item())
    return out


def raw_labels(task, split_name, example_ids):
    rows = load_split(TASKS[task], split_name, os.environ["AUXLEARN_DATA_DIR"])
    return [rows[int(i)][TASKS[task].label_field] for i in example_ids]


def random_model(model_dir, specs):
    """The tiny encoder with large random heads, so that predictions vary from example to example."""
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(model_dir), specs, pooling="mean")
    for head in model.heads.values():
        torch.nn.init.normal_(head.out.weight, std=3.0)
    return model


@pytest.mark.parametrize("task, split_name", [("rte", "eval"), ("mrpc", "dev")])
@pytest.mark.data
def test_evaluate_equals_sklearn_on_the_models_own_predictions(tiny_model_dir, tokenizer, task, split_name):
    model = random_model(tiny_model_dir, {task: TASKS[task]}).eval()
    data = build_task_data(TASKS[task], tokenizer, data_dir=os.environ["AUXLEARN_DATA_DIR"], max_length=64,
                           dev_size=200, split_seed=4)
    split = data.split(split_name).select(range(200))
    with torch.no_grad():  # centre the random head so that it predicts both classes
        margins = [float(single_logits(model, task, split, i)[0].diff()) for i in range(len(split))]
        model.head(task).out.bias[1] -= float(np.median(margins))
    scores = evaluate(model, task, split, Inference(torch.device("cpu"), tokenizer.pad_token_id, batch_size=64))
    predictions = one_by_one(model, task, split)
    references = raw_labels(task, "eval" if split_name == "eval" else "train", split.example_ids)
    assert 0.1 < np.mean(predictions) < 0.9  # both classes are predicted: the check is not degenerate
    expected = {"accuracy": sk.accuracy_score(references, predictions)}
    if task == "mrpc":
        expected["f1"] = sk.f1_score(references, predictions)
        expected["main"] = (expected["f1"] + expected["accuracy"]) / 2
    else:
        expected["main"] = expected["accuracy"]
    assert scores == pytest.approx(expected, abs=1e-12)


@pytest.mark.data
def test_evaluate_regression_equals_scipy(tiny_model_dir, tokenizer):
    model = random_model(tiny_model_dir, {"stsb": TASKS["stsb"]})
    data = build_task_data(TASKS["stsb"], tokenizer, data_dir=os.environ["AUXLEARN_DATA_DIR"], max_length=64)
    split = data.eval.select(range(200))
    scores = evaluate(model, "stsb", split, Inference(torch.device("cpu"), tokenizer.pad_token_id, batch_size=64))
    predictions = one_by_one(model, "stsb", split)
    references = raw_labels("stsb", "eval", split.example_ids)
    pearson = stats.pearsonr(predictions, references).statistic
    spearman = stats.spearmanr(predictions, references).statistic
    assert scores["pearson"] == pytest.approx(pearson, abs=1e-5)
    assert scores["spearman"] == pytest.approx(spearman, abs=1e-5)
    assert scores["main"] == pytest.approx((pearson + spearman) / 2, abs=1e-5)


@pytest.mark.data
def test_evaluate_tagging_equals_seqeval_on_the_words(tiny_model_dir, tokenizer, tmp_path):
    spec = TASKS["conll2003_ner"]
    model = random_model(tiny_model_dir, {spec.name: spec})
    rows = load_split(spec, "eval", os.environ["AUXLEARN_DATA_DIR"]).select(range(300))
    # Sentences that fit in 64 tokens: every word is kept, so references are the rows' own tags.
    fits = [i for i, words in enumerate(rows["tokens"])
            if len(tokenizer(list(words), is_split_into_words=True)["input_ids"]) <= 64]
    rows = rows.select(fits)
    split = encode_split(spec, rows, tokenizer, 64, source="test", labelled=True, cache_dir=tmp_path)
    scores = evaluate(model, spec.name, split, Inference(torch.device("cpu"), tokenizer.pad_token_id, batch_size=64))
    predictions = [[spec.label_names[t] for t in row] for row in one_by_one(model, spec.name, split)]
    references = [list(tags) for tags in rows["ner_tags"]]
    assert [len(p) for p in predictions] == [len(r) for r in references]
    assert scores["entity_f1"] == pytest.approx(seqeval_f1(references, predictions), abs=1e-12)
    assert scores["main"] == scores["entity_f1"]
