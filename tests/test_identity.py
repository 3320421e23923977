"""What makes two trainings the same: a model folder counts by its weights, wherever it lies, so that a clone
elsewhere reads back finished runs, and skills trained again under the same path do not pass for the old ones."""

from __future__ import annotations

import shutil

from safetensors.torch import load_file, save_file

from auxlearn.config import experiment_from_dict
from auxlearn.identity import config_identity, model_identity
from conftest import experiment_dict


def _identity(model: str) -> dict:
    return config_identity(experiment_from_dict(experiment_dict(model), check=False))


def test_a_model_name_stands_for_itself():
    assert model_identity("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert _identity("all-MiniLM-L6-v2")["model"] == "all-MiniLM-L6-v2"


def test_a_copied_folder_is_the_same_model(tiny_model_dir, tmp_path):
    copy = shutil.copytree(tiny_model_dir, tmp_path / "somewhere" / "else")
    assert _identity(str(copy)) == _identity(tiny_model_dir)
    assert str(tmp_path) not in str(_identity(str(copy)))


def test_new_weights_under_the_same_path_are_another_model(tiny_model_dir, tmp_path):
    folder = shutil.copytree(tiny_model_dir, tmp_path / "model")
    before = _identity(str(folder))
    weights = load_file(folder / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = weights[name] + 1e-3
    save_file(weights, folder / "model.safetensors")
    assert _identity(str(folder)) != before
    assert {k: v for k, v in _identity(str(folder)).items() if k != "model"} == {
        k: v for k, v in before.items() if k != "model"}
