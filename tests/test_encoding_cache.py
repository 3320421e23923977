"""The encoding cache: a task is tokenized once per (task, tokenizer, max_length, data), read back after, and
encoded again when any of them changes or the cached file is damaged."""

from __future__ import annotations

import os

import pytest

from auxlearn.data import encode as encode_module
from auxlearn.data import loading
from auxlearn.data.task_data import build_task_data
from test_data import build


@pytest.mark.data
def test_encoding_cache_is_reused_and_invalidated_by_max_length(tokenizer, tmp_path, monkeypatch):
    calls = []
    real = encode_module._encode

    def counting(spec, rows, *args, **kwargs):
        calls.append((spec.name, len(rows)))
        return real(spec, rows, *args, **kwargs)

    monkeypatch.setattr(encode_module, "_encode", counting)
    first = build("rte", tokenizer, cache_dir=tmp_path)
    # train and dev (carved from the train rows, each encoded alone), then eval
    assert [name for name, _ in calls] == ["rte"] * 3
    assert [size for _, size in calls] == [len(first.train), len(first.dev), len(first.eval)]
    loading._load_dataset.cache_clear()  # as a new process would: read the rows again
    second = build("rte", tokenizer, cache_dir=tmp_path)
    assert len(calls) == 3
    assert second.train.input_ids == first.train.input_ids and second.dev.labels == first.dev.labels
    shorter = build("rte", tokenizer, cache_dir=tmp_path, max_length=32)
    assert len(calls) == 6
    assert max(shorter.train.lengths) == 32 < max(first.train.lengths)


@pytest.mark.data
def test_a_damaged_encoding_cache_is_encoded_again(tokenizer, tmp_path, caplog):
    first = build("rte", tokenizer, cache_dir=tmp_path, max_train_examples=32, dev_size=16)
    for arrow in (tmp_path / "encoded").rglob("*.arrow"):
        arrow.write_bytes(b"damaged")
    again = build("rte", tokenizer, cache_dir=tmp_path, max_train_examples=32, dev_size=16)
    assert again.train.input_ids == first.train.input_ids and again.eval.labels == first.eval.labels
    assert "unreadable" in caplog.text


def test_tokenizer_fingerprint_ignores_the_truncation_state_a_call_leaves(tokenizer):
    from auxlearn.data.encode import tokenizer_fingerprint

    tokenizer("a b c", truncation=True, max_length=8)
    before = tokenizer_fingerprint(tokenizer)
    tokenizer("a b c", truncation=True, max_length=16)
    assert tokenizer_fingerprint(tokenizer) == before


@pytest.mark.data
def test_a_subsample_encodes_only_its_own_rows_with_the_file_row_ids(tokenizer, tmp_path, monkeypatch):
    sizes = []
    real = encode_module._encode
    monkeypatch.setattr(encode_module, "_encode", lambda spec, rows, *a, **k: sizes.append(len(rows))
                        or real(spec, rows, *a, **k))
    full = build("rte", tokenizer, dev_size=64, cache_dir=tmp_path / "a")
    small = build("rte", tokenizer, dev_size=64, max_train_examples=100, cache_dir=tmp_path / "b")
    assert sizes[3:5] == [100, 64]  # not the 2,000-odd rows of the full train split
    index = {int(i): k for k, i in enumerate(full.train.example_ids)}
    for k, example_id in enumerate(small.train.example_ids):  # ids are rows of the file: same tokens
        assert small.train.input_ids[k] == full.train.input_ids[index[int(example_id)]]


def test_encoding_cache_is_invalidated_when_a_user_file_changes(tokenizer, tmp_path, monkeypatch):
    from auxlearn.tasks.user import load_task_file

    calls = []
    real = encode_module._encode
    monkeypatch.setattr(encode_module, "_encode", lambda *a, **k: calls.append(1) or real(*a, **k))
    data = tmp_path / "tickets.csv"
    data.write_text("text,label\n" + "".join(f"ticket {i},{'ab'[i % 2]}\n" for i in range(20)))
    (tmp_path / "tasks.yaml").write_text(
        "tasks:\n  - name: tickets\n    type: classification\n    files: {train: tickets.csv}\n"
        "    text_fields: [text]\n    label_field: label\n")
    spec = load_task_file(tmp_path / "tasks.yaml")["tickets"]
    cache = tmp_path / "cache"
    before = build_task_data(spec, tokenizer, data_dir=None, max_length=32, dev_size=4, cache_dir=cache)
    build_task_data(spec, tokenizer, data_dir=None, max_length=32, dev_size=4, cache_dir=cache)
    assert len(calls) == 2  # train and dev, once
    data.write_text("text,label\n" + "".join(f"ticket {i},{'ab'[(i + 1) % 2]}\n" for i in range(20)))
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 2_000_000_000))
    after = build_task_data(spec, tokenizer, data_dir=None, max_length=32, dev_size=4, cache_dir=cache)
    assert len(calls) == 4
    assert [1 - label for label in before.train.labels] == after.train.labels
