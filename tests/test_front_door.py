"""The front door, `import auxlearn`: cheap to import, every name it lists resolves, and the examples of
docs/api/index.md run as they are written (on a tiny random BERT), so the page cannot drift from the API."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import auxlearn
from conftest import REPO, experiment_dict, write_yaml

PAGE = REPO / "docs" / "api" / "index.md"


def examples(page=PAGE) -> list[str]:
    """The page's Python code blocks, in order."""
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_import_auxlearn_loads_no_training_code():
    code = ("import sys, auxlearn; print(sorted(m for m in ('torch', 'transformers', 'pydantic', 'auxlearn.config',"
            " 'auxlearn.experiment', 'auxlearn.report') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_every_name_of_the_front_door_resolves():
    for name in auxlearn.__all__:
        assert getattr(auxlearn, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        auxlearn.nope


def test_train_and_report_are_callable_packages_whatever_was_imported_first():
    import auxlearn.report.content
    import auxlearn.train.trainer

    assert callable(auxlearn.train) and callable(auxlearn.report)
    assert auxlearn.train.trainer.Trainer and auxlearn.report.write_report


def test_the_examples_call_only_the_front_door():
    """The API page's examples and the README's."""
    blocks = examples() + examples(REPO / "README.md")
    used = {name for block in blocks for name in re.findall(r"\bauxlearn\.(\w+)", block)}
    assert used and used <= set(auxlearn.__all__), used - set(auxlearn.__all__)
    assert len(blocks) == 3 and all("from auxlearn" not in block for block in blocks)


@pytest.mark.data
def test_the_documented_examples_run(tmp_path, tiny_model_dir, monkeypatch):
    """Each block of the page, as written, in a folder whose examples/rte_mtl.yaml is a tiny experiment."""
    write_yaml(tmp_path / "examples" / "rte_mtl.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], select={"method": "all"},
        data={"max_train_examples": 16, "dev_size": 8, "max_length": 32},
        train={"steps": 4, "batch_size": 4, "eval_every": 2}))
    monkeypatch.chdir(tmp_path)
    blocks = examples()
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(PAGE), "exec"), {})
    assert (tmp_path / "runs" / "rte_run" / "report.html").is_file()
    assert (tmp_path / "runs" / "rte_mtl" / "model").is_dir()
    assert (tmp_path / "runs" / "rte_seeds" / "0" / "results.json").is_file()
