"""The built-in task table: GLUE (metrics as GLUE reports them), CoNLL tagging sets, citation intent."""

from __future__ import annotations

from auxlearn.tasks.spec import DataSource, TaskSpec

_GLUE_FIELDS = {
    "cola": (["sentence"], ["unacceptable", "acceptable"]),
    "sst2": (["sentence"], ["negative", "positive"]),
    "mrpc": (["sentence1", "sentence2"], ["not_equivalent", "equivalent"]),
    "qqp": (["question1", "question2"], ["not_duplicate", "duplicate"]),
    "stsb": (["sentence1", "sentence2"], None),
    "mnli": (["premise", "hypothesis"], ["entailment", "neutral", "contradiction"]),
    "qnli": (["question", "sentence"], ["entailment", "not_entailment"]),
    "rte": (["sentence1", "sentence2"], ["entailment", "not_entailment"]),
    "wnli": (["sentence1", "sentence2"], ["not_entailment", "entailment"]),
}
_GLUE_METRICS = {
    "cola": (["matthews", "accuracy"], ["matthews"]),
    "mrpc": (["f1", "accuracy"], ["f1", "accuracy"]),
    "qqp": (["f1", "accuracy"], ["f1", "accuracy"]),
    "stsb": (["pearson", "spearman"], ["pearson", "spearman"]),
}

_CONLL2003_NER = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
_PTB_POS = [
    '"', "''", "#", "$", "(", ")", ",", ".", ":", "``", "CC", "CD", "DT", "EX", "FW", "IN", "JJ", "JJR",
    "JJS", "LS", "MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM", "PDT", "POS", "PRP", "PRP$", "RB", "RBR",
    "RBS", "RP", "SYM", "TO", "UH", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ", "WDT", "WP", "WP$", "WRB",
]
_CHUNK = ["O"] + [
    f"{prefix}-{chunk}"
    for chunk in ("ADJP", "ADVP", "CONJP", "INTJ", "LST", "NP", "PP", "PRT", "SBAR", "UCP", "VP")
    for prefix in ("B", "I")
]
_UPOS = [
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
    "PUNCT", "SCONJ", "SYM", "VERB", "X",
]
_CITATION_INTENT = ["Background", "CompareOrContrast", "Extends", "Future", "Motivation", "Uses"]


def _glue(name: str) -> TaskSpec:
    fields, labels = _GLUE_FIELDS[name]
    metrics, main = _GLUE_METRICS.get(name, (["accuracy"], ["accuracy"]))
    splits = {"train": "train", "eval": "validation", "test": "test"}
    if name == "mnli":
        splits = {"train": "train", "eval": "validation_matched", "test": "test_matched"}
    return TaskSpec(
        name=name,
        type="regression" if labels is None else "classification",
        text_fields=fields,
        label_field="label",
        label_names=labels,
        metrics=metrics,
        main_metric=main,
        source=DataSource(path="nyu-mll/glue", local="glue", config=name, splits=splits),
    )


def _tagging(name: str, path: str | None, local: str, column: str, labels: list[str], metric: str) -> TaskSpec:
    return TaskSpec(
        name=name,
        type="tagging",
        text_fields=["tokens"],
        label_field=column,
        label_names=labels,
        metrics=[metric],
        main_metric=[metric],
        max_length=128,
        source=DataSource(path=path, local=local),
    )


def builtin_tasks() -> dict[str, TaskSpec]:
    tasks = {name: _glue(name) for name in _GLUE_FIELDS}
    tasks["conll2003_ner"] = _tagging(
        "conll2003_ner", "eriktks/conll2003", "conll2003", "ner_tags", _CONLL2003_NER, "entity_f1"
    )
    tasks["conll2003_pos"] = _tagging(
        "conll2003_pos", "eriktks/conll2003", "conll2003", "pos_tags", _PTB_POS, "token_accuracy"
    )
    tasks["conll2000_chunk"] = _tagging(
        "conll2000_chunk", "eriktks/conll2000", "conll2000", "chunk_tags", _CHUNK, "entity_f1"
    )
    # Universal Dependencies on the hub is a loading script that current `datasets` no longer runs,
    # so this task is read from the offline mirror only.
    tasks["ud_upos"] = _tagging("ud_upos", None, "ud_en_ewt", "upos", _UPOS, "token_accuracy")
    # ACL-ARC citation intent (the DSP version) has no canonical hub copy: offline mirror only.
    tasks["citation_intent"] = TaskSpec(
        name="citation_intent",
        type="classification",
        text_fields=["text"],
        label_field="label",
        label_names=_CITATION_INTENT,
        metrics=["macro_f1", "accuracy"],
        main_metric=["macro_f1"],
        max_length=256,
        source=DataSource(local="citation_intent"),
    )
    return tasks
