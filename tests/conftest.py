"""Shared test set-up: the offline data mirror, offline Hugging Face, a private cache, a tiny random BERT.

Tests marked ``data`` (a module's ``pytestmark`` or a test's decorator) read real slices of ``../shared/data``
(the hub-layout mirror): without it each fails with one clear message instead of being skipped. The other
tests (samplers, statistics, configs, task types on hand-written rows) run without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
MIRROR = (REPO.parent / "shared" / "data").resolve()

# Before transformers / datasets / huggingface_hub are imported anywhere: they read these at import time.
if not os.environ.get("AUXLEARN_DATA_DIR"):  # unset or empty (make exports it empty without the mirror)
    os.environ["AUXLEARN_DATA_DIR"] = str(MIRROR)
# Absolute: some tests run the CLI from another folder.
os.environ["AUXLEARN_DATA_DIR"] = str(Path(os.environ["AUXLEARN_DATA_DIR"]).resolve())
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"

DATA_DIR = Path(os.environ["AUXLEARN_DATA_DIR"])
# What the suite reads from the mirror; each must be there.
REQUIRED = ("glue/README.md", "glue/cola", "glue/rte", "glue/mrpc", "glue/stsb", "glue/qnli", "glue/qqp",
            "conll2003/train.parquet")


def _mirror_problem() -> str | None:
    missing = [item for item in REQUIRED if not (DATA_DIR / item).exists()]
    if not missing:
        return None
    return (f"the offline data mirror is missing or incomplete at {DATA_DIR} (AUXLEARN_DATA_DIR, default "
            f"<repo>/../shared/data = {MIRROR}); not found: {', '.join(missing)}. The tests read real data "
            "slices from it: put the mirror there or set AUXLEARN_DATA_DIR to it.")


@pytest.fixture(scope="session", autouse=True)
def _environment(tmp_path_factory):
    """Keep the tokenization cache private to this session; one thread per test process."""
    import torch

    torch.set_num_threads(1)  # tiny models gain nothing from threads; the machine's cores are shared
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")  # what auxlearn's thread share honours
        patch.setenv("AUXLEARN_CACHE", str(tmp_path_factory.mktemp("auxlearn-cache")))
        yield


def pytest_runtest_setup(item):
    """A test marked ``data`` fails loudly, before any of its fixtures is set up, when the mirror is absent."""
    if item.get_closest_marker("data"):
        problem = _mirror_problem()
        if problem:
            pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def tokenizer():
    from auxlearn.models.encoder import load_tokenizer

    return load_tokenizer("all-MiniLM-L6-v2")


def save_tiny_bert(folder, tokenizer, num_attention_heads: int = 2, dropout: float = 0.1) -> str:
    """Save a randomly initialised 2-layer BERT (hidden 32) with MiniLM's tokenizer as a model folder."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=num_attention_heads, intermediate_size=64, max_position_embeddings=128,
                        pad_token_id=tokenizer.pad_token_id, hidden_dropout_prob=dropout,
                        attention_probs_dropout_prob=dropout)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def save_tiny_masked_lm(folder, tokenizer):
    """Save a randomly initialised 2-layer BERT with its masked-LM head (an encoder that has one, unlike MiniLM);
    returns the model."""
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=128))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer) -> str:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), tokenizer)


def experiment_dict(model_dir: str, **sections: Any) -> dict[str, Any]:
    """A small, fast experiment on real slices; ``sections`` override top-level keys or merge into data/train."""
    document: dict[str, Any] = {
        "name": "test",
        "model": model_dir,
        "primary": "rte",
        "data": {"max_train_examples": 64, "dev_size": 32, "max_length": 64},
        "train": {"steps": 10, "batch_size": 8, "eval_batch_size": 64, "lr": 1e-3, "warmup": 0,
                  "eval_every": 5, "progress": False},
        "seed": 0,
        "seeds": [0],  # `run` trains 5 seeds by default; one keeps a test fast
        "objectives": {"head_warmup": 5},  # LM heads warmed briefly: 200 steps add seconds to each objective's test
        # A 10-step baseline with two evaluations may end on its best one: `run` would train it again with more
        # steps. tests/test_convergence.py tests that; elsewhere a run trains the steps its test names.
        "baseline": {"converge": False},
    }
    for key, value in sections.items():
        if key in ("data", "train") and isinstance(value, dict):
            document[key] = {**document[key], **value}
        else:
            document[key] = value
    return document


@pytest.fixture(scope="session")
def make_experiment(tiny_model_dir):
    """``make_experiment(**sections)``: a new checked ``Experiment`` from ``experiment_dict`` on the tiny model
    (``check=False`` skips ``config_checks``, as in ``experiment_from_dict``). Each call builds a fresh object."""
    from auxlearn.config import experiment_from_dict

    def make(check: bool = True, **sections: Any):
        return experiment_from_dict(experiment_dict(tiny_model_dir, **sections), check=check)

    return make


def write_yaml(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


DOMAIN_LINES = ["citation contexts mention prior work", "we extend the method of smith et al",
                "results are compared with the baseline", "future work will use larger corpora"] * 10


@pytest.fixture()
def domain_file(tmp_path) -> Path:
    """A task file declaring ``papers``, a masked_lm task over a text file of ``DOMAIN_LINES``."""
    (tmp_path / "papers.txt").write_text("\n".join(DOMAIN_LINES) + "\n", encoding="utf-8")
    return write_yaml(tmp_path / "tasks.yaml", {"tasks": [
        {"name": "papers", "type": "masked_lm", "files": {"train": "papers.txt"}, "text_fields": ["text"]}]})


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, make_experiment) -> dict[str, Any]:
    """One 30-step RTE + MRPC run shared by the tests that only read its outputs (loss curve, saved model)."""
    from auxlearn.experiment import train_experiment

    # 16 examples per task and a high learning rate: the tiny model fits them within 30 steps.
    exp = make_experiment(
        auxiliary=["mrpc"], head_dropout=0.0,
        data={"max_train_examples": 16, "dev_size": 64},
        # eval_every counts rte's batches, half the steps: an evaluation every 6 steps
        train={"steps": 30, "eval_every": 3, "lr": 3e-3, "sampler": {"name": "uniform"}},
        transfer={"protocol": "joint", "budget": "equal_total"},  # one joint run of exactly 30 steps
    )
    out = tmp_path_factory.mktemp("trained-run")
    results = train_experiment(exp, out)
    return {"exp": exp, "out": out, "results": results}
