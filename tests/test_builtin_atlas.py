"""The built-in atlas is hours of training, grown over sessions and machines: the code must keep recognising its
cells. A change that alters what a cell's identity hashes (a config field, a default) makes every committed cell
train again; this test says so before the atlas silently restarts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auxlearn.atlas.config import Cell, load_atlas
from auxlearn.atlas.table import read_atlas

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "atlas" / "minilm.yaml"
COMMITTED = REPO / "bench" / "results" / "atlas.json"

pytestmark = pytest.mark.data


def test_the_committed_atlas_cells_keep_their_identity():
    atlas = load_atlas(CONFIG)
    runs = json.loads(COMMITTED.read_text(encoding="utf-8"))["runs"]
    assert runs, f"{COMMITTED} holds no run"
    changed = [run["cell"] for run in runs if atlas.cell_identity(Cell(**run["cell"])) != run["identity"]]
    assert not changed, (f"{len(changed)} of {len(runs)} committed atlas cells would train again under this code "
                         f"(their identity changed), e.g. {changed[:2]}")


def test_the_committed_atlas_reads_back_for_the_atlas_selector():
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    alone, control = read_atlas(COMMITTED, "alone"), read_atlas(COMMITTED)
    assert alone.encoder == load_atlas(CONFIG).experiment("rte", [], 0).model
    for primary, row in doc["rows"].items():
        for candidate, entry in row["pairs"].items():
            if entry.get("gain"):
                assert alone.pairs[primary][candidate].gain == pytest.approx(entry["gain"]["mean"])
            if entry.get("control_gain"):  # every pair of this atlas trains longer than its primary's recipe
                assert control.pairs[primary][candidate].gain == pytest.approx(entry["control_gain"]["mean"])
            elif entry.get("gain"):
                assert candidate not in control.pairs.get(primary, {})  # its control is not trained yet


def test_a_cells_identity_does_not_depend_on_where_the_checkout_lies(tmp_path):
    """A fresh clone in another folder (CI, another machine) recognises the committed cells: a task file counts by
    its content, not by its absolute path."""
    clone = tmp_path / "elsewhere" / "main"
    shutil.copytree(CONFIG.parent, clone / "examples" / "atlas")
    (tmp_path / "elsewhere" / "shared").symlink_to(REPO.parent / "shared")  # the mirror beside the clone, as here
    here, there = load_atlas(CONFIG), load_atlas(clone / "examples" / "atlas" / CONFIG.name)
    assert there.document["task_files"] != here.document["task_files"]
    cells = [Cell("rte", "alone", 0), Cell("citation_intent", "pair", 1, "ag_news"), Cell("mrpc", "pair", 0, "rct")]
    assert [there.cell_identity(c) for c in cells] == [here.cell_identity(c) for c in cells]
    task_file = clone / "examples" / "atlas" / "mirror_tasks.yaml"
    text = task_file.read_text(encoding="utf-8")
    task_file.write_text(text.replace("[macro_f1, accuracy]", "[accuracy, macro_f1]"), encoding="utf-8")
    edited = load_atlas(clone / "examples" / "atlas" / CONFIG.name)
    assert edited.cell_identity(cells[2]) != here.cell_identity(cells[2])  # an edited task file is another cell
