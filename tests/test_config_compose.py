"""Composed configs (``base.yaml+mhr.yaml``): later files merge over earlier ones, ``--set`` over both, and each
file's relative paths resolve from its own folder. Through ``load_experiment`` alone: nothing trains."""

from __future__ import annotations

from pathlib import Path

import pytest

from auxlearn.config import PRESETS
from auxlearn.config_files import load_experiment
from auxlearn.errors import AuxlearnError
from conftest import experiment_dict, write_yaml

CSV = "text,label\n" + "".join(f"ticket {i},{'billing' if i % 2 else 'tech'}\n" for i in range(20))


def tasks_file(folder: Path, *names: str) -> Path:
    """A task file in ``folder`` with one classification task per name, over CSVs beside it."""
    for split in ("train", "eval"):
        (folder / f"{split}.csv").parent.mkdir(parents=True, exist_ok=True)
        (folder / f"{split}.csv").write_text(CSV)
    return write_yaml(folder / "tasks.yaml", {"tasks": [
        {"name": name, "type": "classification", "files": {"train": "train.csv", "eval": "eval.csv"},
         "text_fields": ["text"], "label_field": "label"} for name in names]})


@pytest.fixture
def base(tmp_path) -> Path:
    """base/base.yaml: primary ``tickets`` from base/tasks.yaml, the default (hub) model."""
    tasks_file(tmp_path / "base", "tickets", "notes")
    return write_yaml(tmp_path / "base" / "base.yaml", experiment_dict(
        "all-MiniLM-L6-v2", primary="tickets", task_files=["tasks.yaml"], seeds=[0, 1, 2],
        train={"patience": 3}))


def composed(*paths: Path) -> str:
    return "+".join(map(str, paths))


def test_a_later_file_changes_only_the_keys_it_writes(base, tmp_path):
    variant = write_yaml(tmp_path / "mhr.yaml", {"train": {"lr": 3e-4}})
    exp = load_experiment(composed(base, variant))
    assert exp.train.lr == 3e-4
    assert (exp.train.steps, exp.train.batch_size, exp.train.patience) == (10, 8, 3)  # siblings kept
    assert exp.primary == "tickets" and exp.data.max_length == 64


def test_a_list_replaces_the_earlier_one(base, tmp_path):
    exp = load_experiment(composed(base, write_yaml(tmp_path / "b.yaml", {"seeds": [7]})))
    assert exp.seeds == [7]


def test_set_beats_both_files_and_the_last_file_beats_the_first(base, tmp_path):
    first = write_yaml(tmp_path / "a.yaml", {"train": {"lr": 1e-4, "steps": 20}})
    second = write_yaml(tmp_path / "b.yaml", {"train": {"lr": 2e-4}})
    exp = load_experiment(composed(base, first, second), ["train.lr=3e-4"])
    assert (exp.train.lr, exp.train.steps) == (3e-4, 20)


def test_null_in_a_later_file_sets_the_key_to_null(base, tmp_path):
    exp = load_experiment(composed(base, write_yaml(tmp_path / "b.yaml", {"train": {"patience": None},
                                                                         "data": {"max_length": None}})))
    assert exp.train.patience is None and exp.data.max_length is None


def test_task_files_resolve_from_the_folder_of_the_file_that_wrote_them(base, tmp_path):
    tasks_file(tmp_path / "other", "tickets", "logs")
    variant = write_yaml(tmp_path / "other" / "variant.yaml", {"task_files": ["tasks.yaml"], "auxiliary": ["logs"]})
    exp = load_experiment(composed(base, variant))
    assert exp.task_files == [str((tmp_path / "other" / "tasks.yaml").resolve())]
    untouched = load_experiment(composed(base, write_yaml(tmp_path / "other" / "lr.yaml", {"train": {"lr": 1e-4}})))
    assert untouched.task_files == [str((tmp_path / "base" / "tasks.yaml").resolve())]


def test_model_folder_resolves_from_its_own_file(base, tmp_path, monkeypatch):
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    variant = write_yaml(tmp_path / "models" / "variant.yaml", {"model": "./tiny"})
    monkeypatch.chdir(tmp_path / "base")  # neither the working folder nor the first file's
    exp = load_experiment(composed(base, variant))
    assert exp.model == str((tmp_path / "models" / "tiny").resolve())
    assert exp.task_files == [str((tmp_path / "base" / "tasks.yaml").resolve())]


def test_a_model_folder_a_later_file_replaces_is_not_looked_up(tmp_path, base):
    write_yaml(base, experiment_dict("./no-such-folder", primary="tickets", task_files=["tasks.yaml"]))
    exp = load_experiment(composed(base, write_yaml(tmp_path / "hub.yaml", {"model": "all-MiniLM-L6-v2"})))
    assert exp.model == "all-MiniLM-L6-v2"


def test_set_resolves_paths_from_the_first_file_as_with_one_file(base, tmp_path):
    (tmp_path / "base" / "m").mkdir()
    exp = load_experiment(composed(base, write_yaml(tmp_path / "b.yaml", {"seed": 1})), ["model=./m"])
    assert exp.model == str((tmp_path / "base" / "m").resolve())


@pytest.mark.parametrize("first, second, overrides, needle", [
    ({"train": {"steps": 0}}, {"seed": 1}, [], "train.steps: must be a number of steps above 0, or auto (got 0) "
                                               "(set in {a})"),
    ({"seed": 1}, {"train": {"lrr": 1}}, [], "train.lrr: unknown key (set in {b})"),
    ({"train": {"steps": 0}}, {"train": {"steps": 0}}, [], "above 0, or auto (got 0) (set in {b})"),  # the last
    ({"train": {"lrr": 1}}, {"train": {"lr": 1e-4}}, [], "train.lrr: unknown key (set in {a})"),
    ({"seed": 1}, {"train": {"lr": 1e-4}}, ["train.lrr=1"], "train.lrr: unknown key (set by --set)"),
    ({"train": {"steps": 0}}, {}, ["train.steps=0"], "train.steps: must be a number of steps above 0, or auto (got 0) "
                                                     "(set by --set)"),
])
def test_a_validation_error_names_where_its_key_was_set(base, tmp_path, first, second, overrides, needle):
    a, b = write_yaml(tmp_path / "a.yaml", first), write_yaml(tmp_path / "b.yaml", second)
    with pytest.raises(AuxlearnError) as error:
        load_experiment(composed(base, a, b), overrides)
    assert str(error.value).startswith(f"config file {base}+{a}+{b}: ")
    assert needle.format(a=a, b=b) in str(error.value)


def test_one_file_reads_as_before(base):
    write_yaml(base, experiment_dict("all-MiniLM-L6-v2", primary="tickets", task_files=["tasks.yaml"],
                                     train={"lrr": 1}))
    with pytest.raises(AuxlearnError) as error:
        load_experiment(base)
    assert str(error.value) == f"config file {base}: train.lrr: unknown key"  # the file is named once
    with pytest.raises(AuxlearnError) as error:
        load_experiment(base, ["train.steps=0"])
    assert "train.steps: must be a number of steps above 0, or auto (got 0) (set by --set)" in str(error.value)
    assert "train.lrr: unknown key" in str(error.value) and "(set in" not in str(error.value)


def test_a_file_with_plus_in_its_name_is_one_file(base, tmp_path):
    plus = tmp_path / "base" / "rte+mrpc.yaml"
    plus.write_text(base.read_text())
    assert load_experiment(str(plus)).primary == "tickets"


def _experiment(make_experiment, **sections):
    return make_experiment(auxiliary=["mrpc", "stsb"], **sections)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_map_to_the_documented_methods(preset, make_experiment):
    documented = {0: ("autosem", "proportional"), 1: ("all", "uniform"), 2: ("autosem", "uniform"),
                  3: ("autosem", "gp-bo")}
    exp = _experiment(make_experiment, preset=preset)
    assert (exp.select.method, exp.mix.method) == documented[preset]
    # Explicit methods in the file win; options alone keep the preset's method.
    explicit = _experiment(make_experiment, preset=preset, select={"method": "exhaustive"},
                          mix={"method": "temperature"})
    assert (explicit.select.method, explicit.mix.method) == ("exhaustive", "temperature")
    if documented[preset][0] != "autosem":  # the preset's method checks the options
        with pytest.raises(AuxlearnError, match="select.rounds: unknown option of 'all'"):
            _experiment(make_experiment, preset=preset, select={"rounds": 7})
        return
    options = _experiment(make_experiment, preset=preset, select={"rounds": 7})
    assert options.select.method == documented[preset][0] and options.select.options == {"rounds": 7}
