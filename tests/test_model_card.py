"""The model card (README.md) of every saved model folder: Hugging Face metadata its own parser reads, the eval
score in the model-index, the run's evidence in a run's final models, and loading unaffected."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard
from transformers import AutoModel

from auxlearn.models.multitask import MultiTaskModel

pytestmark = pytest.mark.data


def test_trained_arm_has_a_card_the_hub_parser_reads(trained_run):
    results, model = trained_run["results"], trained_run["out"] / "model"
    card = ModelCard.load(model / "README.md")
    data = card.data
    assert data.library_name == "transformers"
    assert data.base_model is None  # a local folder is no Hub id: a card never names a path of this machine
    assert data.datasets == ["nyu-mll/glue"]
    (result,) = data.eval_results
    assert (result.task_type, result.dataset_type, result.dataset_config, result.dataset_split) == (
        "text-classification", "nyu-mll/glue", "rte", "validation")
    assert result.metric_type == "accuracy"
    assert result.metric_value == pytest.approx(results["eval"]["rte"]["accuracy"], abs=1e-4)
    assert "`mrpc`" in card.text and "| `rte` | classification |" in card.text
    # loading the folder is unaffected by the card
    assert AutoModel.from_pretrained(model).config.hidden_size > 0
    assert set(MultiTaskModel.load(model)[0].heads) == {"rte", "mrpc"}


def test_lora_folder_card_names_peft_and_loads(make_experiment, tmp_path):
    from peft import PeftModel

    from auxlearn.experiment import train_experiment
    from auxlearn.models.encoder import load_encoder

    exp = make_experiment(adapter={"method": "lora", "r": 4}, train={"steps": 4, "eval_every": 2})
    train_experiment(exp, tmp_path)
    card = ModelCard.load(tmp_path / "model" / "README.md")
    assert card.data.library_name == "peft" and "AutoPeftModel" in card.text
    peft_model = PeftModel.from_pretrained(load_encoder(exp.model), tmp_path / "model")
    assert any("lora_A" in name for name, _ in peft_model.named_parameters())


def test_default_encoder_is_named_by_its_hub_id():
    from auxlearn.models.encoder import hub_model_id

    assert hub_model_id("all-MiniLM-L6-v2") == "sentence-transformers/all-MiniLM-L6-v2"
    assert hub_model_id("bert-base-uncased") == "bert-base-uncased"
