"""Selectors that need no training (similarity, atlas) and how a selection is scored against an atlas row."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest

from auxlearn.atlas.scoring import score_selection
from auxlearn.atlas.table import Pair, read_atlas
from auxlearn.errors import DamagedFileError
from auxlearn.cli import main
from auxlearn.config import experiment_from_dict
from auxlearn.data.encode import default_cache_dir
from auxlearn.experiment import prepare
from auxlearn.select import build_selector
from auxlearn.select.task_embedding import task_embedding
from auxlearn.stage import Stage
from conftest import experiment_dict, write_yaml


# ------------------------------------------------------------------------------------------ scoring


def _row(**gains):
    """candidate=(gain, low, high)."""
    return {c: Pair(g, lo, hi, 3) for c, (g, lo, hi) in gains.items()}


ROW = _row(a=(0.03, 0.01, 0.05), b=(0.00, -0.02, 0.02), c=(-0.04, -0.06, -0.02))


def test_regret_is_the_best_gain_minus_the_first_picks():
    score = score_selection(ROW, ["b", "a"], {"a": 0.2, "b": 0.9, "c": 0.1})
    assert score.top_pick == "b" and score.best == "a"
    assert score.regret == pytest.approx(0.03)  # only the first pick counts
    assert score.regret == pytest.approx(score_selection(ROW, ["b"], {}).regret)
    assert score_selection(ROW, ["a"], {}).regret == 0.0


def test_harmful_picks_are_kept_candidates_whose_interval_lies_below_zero():
    assert score_selection(ROW, ["a", "c"], {}).harmful == ["c"]
    assert score_selection(ROW, ["a", "b"], {}).harmful == []  # b's interval straddles zero: not harmful


def test_an_empty_selection_regrets_the_best_gain_only_when_some_candidate_helps():
    assert score_selection(ROW, [], {}).regret == pytest.approx(0.03)
    hurting = _row(a=(-0.01, -0.03, 0.01), b=(-0.05, -0.07, -0.03), c=(-0.02, -0.04, 0.0))
    assert score_selection(hurting, [], {}).regret == 0.0
    assert score_selection(hurting, ["a"], {}).regret == 0.0  # the best of a bad lot
    assert score_selection(hurting, ["b"], {}).regret == pytest.approx(0.04)


def test_spearman_ranks_the_scores_against_the_gains():
    assert score_selection(ROW, [], {"a": 3.0, "b": 2.0, "c": 1.0}).spearman == pytest.approx(1.0)
    assert score_selection(ROW, [], {"a": 1.0, "b": 2.0, "c": 3.0}).spearman == pytest.approx(-1.0)
    assert score_selection(ROW, [], {"a": 1.0, "b": 1.0, "c": 1.0}).spearman is None  # constant scores
    assert score_selection(ROW, [], {"a": 1.0, "b": 2.0}).spearman is None  # fewer than three


def test_candidates_the_atlas_did_not_measure_do_not_count():
    score = score_selection(ROW, ["zz", "c"], {"zz": 9.0, "a": 3.0, "b": 2.0, "c": 1.0})
    assert score.top_pick == "c" and score.regret == pytest.approx(0.07) and score.candidates == 3


# --------------------------------------------------------------------------------------- similarity

SPORT = ["The striker scored twice as the home side won the league match.",
         "Our goalkeeper saved a penalty in the final minute of the cup tie.",
         "The coach praised the midfield after a narrow away win on Saturday.",
         "Fans cheered as the team lifted the championship trophy at the stadium.",
         "The defender was sent off and the club appealed the red card."]
COOKING = ["Whisk the eggs with sugar until pale, then fold in the flour.",
           "Simmer the onions in butter for ten minutes before adding the stock.",
           "Season the roast with garlic and rosemary and bake for an hour.",
           "Knead the dough, let it rise, then shape it into small rolls.",
           "Toast the spices in a dry pan before grinding them for the curry."]


def _task_files(folder: Path) -> Path:
    """A primary of football reports, a candidate of other football reports, one of recipes."""
    texts = {"matches": SPORT, "games": [t.replace("The ", "A ") for t in reversed(SPORT)], "recipes": COOKING}
    tasks = []
    for name, rows in texts.items():
        (folder / f"{name}.csv").write_text("text,label\n" + "".join(f'"{t}",{i % 2}\n' for i, t in
                                                                   enumerate(rows * 4)), encoding="utf-8")
        tasks.append({"name": name, "type": "classification", "text_fields": ["text"], "label_field": "label",
                      "files": {"train": f"{name}.csv", "eval": f"{name}.csv"}})
    return write_yaml(folder / "tasks.yaml", {"tasks": tasks})


def test_similarity_ranks_the_candidate_whose_texts_read_like_the_primarys_first(tmp_path):
    exp = experiment_from_dict({"name": "sim", "primary": "matches", "auxiliary": ["recipes", "games"],
                                "task_files": [str(_task_files(tmp_path))],
                                "data": {"dev_size": 4, "max_length": 48}})  # all-MiniLM-L6-v2, the default
    stage = Stage(exp, prepare(exp), tmp_path / "select")
    selection = build_selector("similarity", {}).select(stage)
    assert selection.selected == ["games"]
    assert selection.scores["games"] > 0 > selection.scores["recipes"]  # centred on the pool
    raw = build_selector("similarity", {"centre": False, "top_k": None}).select(stage)
    assert raw.scores["games"] > raw.scores["recipes"] and raw.selected == ["games", "recipes"]
    floor = build_selector("similarity", {"min_similarity": 0.99}).select(stage)
    assert floor.selected == []  # nothing as alike as that: "none" is an answer


# -------------------------------------------------------------------------------------------- atlas


@pytest.fixture(scope="module")
def rte_stage(make_experiment, tmp_path_factory):
    exp = make_experiment(auxiliary=["mrpc", "cola"],
                          data={"max_train_examples": 16, "dev_size": 8, "max_length": 32})
    return Stage(exp, prepare(exp), tmp_path_factory.mktemp("stage"))


def test_a_pair_is_read_against_its_control_or_against_the_primary_alone(tmp_path):
    """A pair that trained longer than the primary's recipe is judged against the primary alone for as long (its
    control); one that did not, against the alone run, which is then its control."""
    gain = {"mean": 0.03, "low": 0.01, "high": 0.05, "n": 3}
    control_gain = {"mean": -0.02, "low": -0.04, "high": -0.01, "n": 3}
    doc = {"format": "auxlearn-atlas", "encoder": "m", "rows": {"rte": {"baseline_steps": 100, "pairs": {
        "mnli": {"planned_steps": 200, "gain": gain, "control_gain": control_gain},
        "qqp": {"planned_steps": 100, "gain": gain},
        "sst2": {"planned_steps": 200, "gain": gain}}}}}  # its control not trained yet
    path = tmp_path / "atlas.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    control, alone = read_atlas(path), read_atlas(path, "alone")
    assert control.pairs["rte"]["mnli"].gain == -0.02 and control.pairs["rte"]["mnli"].harmful
    assert control.pairs["rte"]["qqp"].gain == 0.03 and "sst2" not in control.pairs["rte"]
    assert {c: p.gain for c, p in alone.pairs["rte"].items()} == {"mnli": 0.03, "qqp": 0.03, "sst2": 0.03}
    doc["rows"]["rte"]["pairs"]["mnli"]["control_gain"] = {"mean": None}
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DamagedFileError, match=r"rows\.rte\.pairs\.mnli\.control_gain\.mean: expected a finite"):
        read_atlas(path)


def _embedding(stage, task):
    return task_embedding(stage.exp.model, stage.exp.pooling, stage.prepared.data[task].train,
                          stage.prepared.tokenizer.pad_token_id, examples=8)


def _atlas(path: Path, encoder: str, rows: dict, embeddings: dict) -> str:
    doc = {"format": "auxlearn-atlas", "encoder": encoder,
           "rows": {p: {"pairs": {c: {"gain": {"mean": g, "low": g - 0.01, "high": g + 0.01, "n": 3}}
                                  for c, g in row.items()}} for p, row in rows.items()},
           "embedding_settings": {"examples": 8, "pooling": "mean"},
           "embeddings": {t: np.asarray(v).tolist() for t, v in embeddings.items()}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


@pytest.mark.data
def test_atlas_weighs_its_primaries_by_likeness_and_leaves_the_primarys_own_row_out(rte_stage, tmp_path):
    rte, cola = _embedding(rte_stage, "rte"), _embedding(rte_stage, "cola")
    rows = {"twin": {"mrpc": 0.04, "stsb": -0.02}, "far": {"mrpc": -0.04, "stsb": 0.05},
            "rte": {"mrpc": -0.5, "stsb": 0.5}}  # the primary's own row: measured on the split the run reports
    # twin reads exactly as RTE, far the opposite; stsb (never a candidate here) reads as cola does.
    path = _atlas(tmp_path / "atlas.json", rte_stage.exp.model, rows,
                  {"twin": rte, "far": -rte, "stsb": cola, "rte": rte})
    sharp = build_selector("atlas", {"atlas": path, "temperature": 0.01}).select(rte_stage)
    assert sharp.scores["mrpc"] == pytest.approx(0.04, abs=1e-3)  # twin's gain, not the own row's -0.5
    # cola was never paired in the atlas: it borrows the gains of the column that reads like it, stsb.
    assert sharp.scores["cola"] == pytest.approx(-0.02, abs=1e-3)
    assert sharp.selected == ["mrpc"] and sharp.details["left_out"] == "rte"
    uniform = build_selector("atlas", {"atlas": path, "weighting": "uniform"}).select(rte_stage)
    assert uniform.scores["mrpc"] == pytest.approx(0.0) and uniform.scores["cola"] == pytest.approx(0.015, abs=1e-3)
    assert uniform.selected == ["cola"]
    rows["twin"] = {"mrpc": -0.01, "stsb": -0.03}
    none = build_selector("atlas", {"atlas": _atlas(tmp_path / "bad.json", rte_stage.exp.model, rows,
                                                    {"twin": rte, "far": -rte, "stsb": cola}),
                                    "temperature": 0.01}).select(rte_stage)
    assert none.selected == []  # no predicted gain above zero: "none"


def _select_error(tmp_path, tiny_model_dir, atlas_path) -> str:
    config = write_yaml(tmp_path / "exp.yaml", experiment_dict(
        tiny_model_dir, auxiliary=["mrpc"], select={"method": "atlas", "atlas": str(atlas_path)},
        data={"max_train_examples": 16, "dev_size": 8, "max_length": 32}))
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        assert main(["select", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "Traceback" not in stderr.getvalue()
    return stderr.getvalue()


@pytest.mark.data
def test_a_bad_atlas_is_an_error_naming_the_file_and_the_key(tmp_path, tiny_model_dir):
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "auxlearn-atlas", "rows": {', encoding="utf-8")
    assert f"{damaged}: not an atlas" in _select_error(tmp_path, tiny_model_dir, damaged)
    foreign = Path(_atlas(tmp_path / "foreign.json", "bert-base-uncased", {"cola": {"mrpc": 0.01}}, {}))
    message = _select_error(tmp_path, tiny_model_dir, foreign)
    assert f"{foreign}: encoder: the atlas was measured with 'bert-base-uncased'" in message
    unknown = Path(_atlas(tmp_path / "unknown.json", tiny_model_dir, {"my_task": {"mrpc": 0.01}}, {}))
    assert f"{unknown}: embeddings.my_task: the atlas stores no embedding of task 'my_task'" in _select_error(
        tmp_path, tiny_model_dir, unknown)
    gain = tmp_path / "gain.json"
    gain.write_text(json.dumps({"format": "auxlearn-atlas", "encoder": tiny_model_dir,
                                "rows": {"cola": {"pairs": {"mrpc": {"gain": {"mean": "high"}}}}}}))
    assert f"{gain}: rows.cola.pairs.mrpc.gain.mean: expected a finite number" in _select_error(
        tmp_path, tiny_model_dir, gain)
    assert not (tmp_path / "run" / "select" / "selection.json").exists()


@pytest.mark.data
def test_a_task_is_embedded_once_per_machine_and_a_damaged_cache_entry_is_redone(rte_stage, monkeypatch):
    import auxlearn.select.task_embedding as module

    first = _embedding(rte_stage, "mrpc")
    computed = []
    real = module._mean_embedding
    monkeypatch.setattr(module, "_mean_embedding", lambda *a: computed.append(1) or real(*a))
    assert np.array_equal(_embedding(rte_stage, "mrpc"), first) and computed == []  # read back from the cache
    for entry in (default_cache_dir() / "task_embeddings").glob("*.npy"):
        entry.write_bytes(b"damaged")
    assert np.allclose(_embedding(rte_stage, "mrpc"), first) and computed == [1]


# ------------------------------------------------------------------------------------------ select: auto


def test_auto_selects_with_the_atlas_of_the_encoder_where_one_ships(tmp_path, monkeypatch, tiny_model_dir):
    import auxlearn.atlas.table as table

    document = experiment_dict(tiny_model_dir, auxiliary=["mrpc"])
    document.pop("select", None)
    assert experiment_from_dict(document, check=False).select.method == "exhaustive"  # no atlas for this encoder
    monkeypatch.setattr(table, "BUILTIN_FOLDER", tmp_path)
    table.builtin_file(tiny_model_dir).parent.mkdir(parents=True, exist_ok=True)
    table.builtin_file(tiny_model_dir).write_text("{}")
    exp = experiment_from_dict(document, check=False)
    assert exp.select.method == "atlas" and exp.select.options == {}
    assert experiment_from_dict({**document, "select": {"method": "auto"}}, check=False).select.method == "atlas"
    assert experiment_from_dict({**document, "preset": 0}, check=False).select.method == "autosem"  # a preset wins
    assert exp.variant(seed=3).select.method == "atlas"  # the resolved method, not auto, is what variants copy


@pytest.mark.data
def test_run_with_the_default_selection_reads_the_encoders_atlas_end_to_end(tmp_path, monkeypatch, tiny_model_dir):
    """`run` with no select section, on an encoder whose atlas ships: the plan runs the atlas selection, the run keeps
    what the plan said, and the final model and its control train what the plan priced."""
    import shutil

    import auxlearn.atlas.table as table
    from auxlearn.pipeline import run_pipeline
    from contract_kit import write_tiny_atlas

    monkeypatch.setattr(table, "BUILTIN_FOLDER", tmp_path / "builtin")
    table.BUILTIN_FOLDER.mkdir()
    shutil.copy(write_tiny_atlas(tmp_path, tiny_model_dir), table.builtin_file(tiny_model_dir))
    document = experiment_dict(tiny_model_dir, auxiliary=["mrpc", "stsb"], train={"steps": 6, "eval_every": 3},
                               data={"max_train_examples": 16, "dev_size": 8, "max_length": 32})
    document.pop("select", None)
    results = run_pipeline(experiment_from_dict(document), tmp_path / "run")
    plan, stages = results["plan"]["stages"], results["stages"]
    assert stages["select"]["method"] == "atlas" and results["config"]["select"] == {"method": "atlas"}
    assert len(results["selected"]) == 1  # the tiny atlas predicts one candidate above zero
    assert f"keeps {results['selected'][0]}" in plan["select"]["note"]
    planned_tasks = {task for phase in plan["final"]["trainings"][0]["phases"] for task in phase["tasks"]}
    assert stages["final"]["tasks"] == ["rte", *results["selected"]] and planned_tasks == set(stages["final"]["tasks"])
    assert stages["final"]["planned_steps"] == plan["final"]["trainings"][0]["steps"]
    assert [t["steps"] for t in plan["control"]["trainings"]] == [stages["final"]["planned_steps"]]
