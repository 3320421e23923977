"""`auxlearn report ATLAS_DIR`: a hand-made atlas.json (3 primaries x 4 candidates) rendered in headless Chromium.

The atlas holds pairs whose intervals lie above, below and across zero, one pair with a single seed, one not
trained, and a primary trained under both protocols (auto's pick the better one once, the worse once); the page
must show the heatmap, the gains of atlas.json in points with their marks, and the right counts on the first screen.
A damaged atlas.json is an error naming the file and the key. Chromium is required: the test fails without it.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import asdict
from pathlib import Path

import pytest

from chromium import Browser

ALONE = {"rte": [0.60, 0.62, 0.58], "mrpc": [0.70, 0.72, 0.74], "stsb": [0.80, 0.81, 0.82]}
STEPS = {"rte": 150, "mrpc": 200, "stsb": 200}
CONTROL = {"rte": [0.61, 0.63, 0.59]}  # rte alone for 300 steps, the length of its joint pairs
# primary -> candidate -> (protocol auto picked, per-seed eval of the pair); [] = not trained yet
PAIRS = {
    "rte": {"mrpc": ("joint", [0.65, 0.68, 0.635]),  # +5.50, interval above zero
            "stsb": ("sequential", [0.57, 0.588, 0.552]),  # -3.00, below zero
            "cola": ("joint", [])},  # not trained
    "mrpc": {"rte": ("joint", [0.71, 0.71, 0.76]),  # across zero
             "stsb": ("joint", [0.73]),  # one seed: no interval
             "cola": ("sequential", [0.75, 0.78, 0.79])},  # above
    "stsb": {"rte": ("joint", [0.81, 0.80, 0.83]),  # across
             "mrpc": ("joint", [0.79, 0.82, 0.82]),  # across
             "cola": ("joint", [0.77, 0.785, 0.79])},  # below
}
# rte is in both_protocols: each pair's other protocol (joint is better for both: auto right once, wrong once)
OTHER = {"mrpc": ("sequential", [0.61, 0.63, 0.60]), "stsb": ("joint", [0.60, 0.62, 0.59]),
         "cola": ("sequential", [])}


def _gain(reference: list[float], candidate: list[float]):
    from auxlearn.stats import paired_t

    comparison = paired_t({str(s): v for s, v in enumerate(reference)}, {str(s): v for s, v in enumerate(candidate)})
    return {**{k: v for k, v in asdict(comparison).items() if k != "confidence"}, "n": comparison.n}


def _arm(evals: list[float], protocol: str, alone: list[float], steps: int, control=None) -> dict:
    """An arm as atlas/summary.py writes it."""
    arm = {"eval": {str(s): v for s, v in enumerate(evals)}, "n": len(evals), "seeds_planned": 3}
    if evals:
        arm.update(mean=statistics.mean(evals), std=statistics.stdev(evals) if len(evals) > 1 else 0.0,
                   planned_steps=steps, protocol=protocol, steps=steps * 0.8, primary_steps=steps * 0.4,
                   seconds=60.0, degenerate=0, gain=_gain(alone, evals),
                   control_gain=_gain(control, evals) if control else None)
    return arm


def make_atlas() -> dict:
    rows = {}
    for primary, pairs in PAIRS.items():
        alone = ALONE[primary]
        entries = {}
        for candidate, (protocol, evals) in pairs.items():
            joint = protocol == "joint" and primary == "rte"  # rte's joint pairs train 300 steps: a control
            entries[candidate] = _arm(evals, protocol, alone, 300 if joint else STEPS[primary],
                                      CONTROL[primary] if joint else None)
            if primary == "rte":
                other, other_evals = OTHER[candidate]
                entries[candidate]["protocols"] = {other: _arm(other_evals, other, alone, STEPS[primary])}
        rows[primary] = {"metric": "pearson" if primary == "stsb" else "accuracy", "higher_is_better": True,
                         "train_examples": 300, "baseline_steps": STEPS[primary],
                         "alone": _arm(alone, "single", alone, STEPS[primary]),
                         "controls": {"300": _arm(CONTROL["rte"], "single", alone, 300)} if primary == "rte" else {},
                         "pairs": entries}
    return {"format": "auxlearn-atlas", "version": 1, "name": "tiny-atlas", "encoder": "all-MiniLM-L6-v2",
            "versions": {"auxlearn": "9.9.9-test", "torch": "2.0-test"}, "primaries": list(PAIRS),
            "candidates": ["rte", "mrpc", "stsb", "cola"], "complete": False, "cells_done": 40, "cells_planned": 50,
            "seconds": {"total": 5400.0, "by_cpu": {"cpu": 5400.0}},
            "settings": {"seeds": {"initial": 3, "max": 8, "widen_at": 0.01}, "both_protocols": ["rte"]},
            "rows": rows, "runs": []}


def _points(value: float) -> str:
    return f"{round(100 * value, 2) + 0.0:+.2f}"  # a mean that rounds to zero is +0.00, not -0.00


def _expected_gain(gain: dict) -> str:
    """The table's text of a gain in atlas.json: mean and interval in points, † when the interval excludes 0."""
    text = _points(gain["mean"])
    if gain["low"] is not None:
        text += f" ({_points(gain['low'])} to {_points(gain['high'])})"
    return text + (" †" if gain["low"] is not None and (gain["low"] > 0 or gain["high"] < 0) else "")


def write_atlas(folder: Path) -> Path:
    """``folder`` holding the hand-made atlas.json."""
    folder.mkdir(exist_ok=True)
    (folder / "atlas.json").write_text(json.dumps(make_atlas()))
    return folder


@pytest.fixture()
def atlas_dir(tmp_path) -> Path:
    return write_atlas(tmp_path / "atlas")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    """The hand-made atlas's report written once and read in headless Chromium: what each test below checks."""
    from auxlearn.report import write_report

    folder = write_atlas(tmp_path_factory.mktemp("atlas"))
    page = write_report(folder)
    browser = Browser(tmp_path_factory.mktemp("profile"))
    try:
        browser.open(page)
        seen = {
            "images": browser.evaluate(
                "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"),
            "pairs": browser.evaluate("Array.from(document.querySelectorAll('#atlas-pairs tbody tr'))"
                                      ".map(r => Array.from(r.cells).map(c => c.textContent))"),
            "alone": browser.evaluate("Array.from(document.querySelectorAll('#atlas-alone tbody tr'))"
                                      ".map(r => Array.from(r.cells).map(c => c.textContent))"),
            "first": browser.evaluate("(() => { const v = document.querySelector('p.verdict');"
                                      " return {text: v.textContent, bottom: v.getBoundingClientRect().bottom,"
                                      " viewport: innerHeight}; })()"),
            "text": browser.evaluate("document.body.innerText"),
        }
        browser.screenshot(folder / "atlas_report.png", full_page=True)
        seen["errors"] = browser.errors()
    finally:
        browser.close()
    return {**seen, "folder": folder, "page": page}


def test_atlas_report_is_self_contained_and_renders_in_chromium(rendered):
    folder, page = rendered["folder"], rendered["page"]
    assert page == folder / "report.html"
    assert "](report_figures/atlas.png)" in (folder / "report.md").read_text()
    assert (folder / "report_figures" / "atlas.png").stat().st_size > 5000
    html = page.read_text()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), "report.html must not reference any URL"
    assert "9.9.9-test" in html
    assert not rendered["errors"], f"browser console errors: {rendered['errors']}"
    heatmaps = [i for i in rendered["images"] if i["alt"].startswith("Heatmap of the mean gain")]
    assert [i["alt"].split(",")[0] for i in heatmaps] == ["Heatmap of the mean gain over the primary alone",
                                                         "Heatmap of the mean gain over the control"]
    assert all(i["complete"] and i["width"] > 300 for i in heatmaps), rendered["images"]


def test_the_first_screen_counts_the_pairs_by_their_intervals(rendered):
    """2 above, 2 below, 3 across, 1 with one seed, 1 untrained; both protocols on rte."""
    first = rendered["first"]
    assert first["bottom"] <= first["viewport"], first
    sentence = first["text"]
    assert "Of 8 pairs with a gain over the primary alone" in sentence, sentence
    assert "above zero for 2" in sentence and "below zero for 2" in sentence, sentence
    assert "straddles zero for 3" in sentence and "1 with one paired seed have no interval" in sentence, sentence
    assert "Not trained yet: 1 of the 9 pairs." in sentence, sentence
    assert "Of the 2 pairs trained under both protocols (rte)" in sentence, sentence
    assert "joint for 2" in sentence and "auto's pick was the better one for 1 of 2" in sentence, sentence


def test_the_pairs_table_shows_atlas_json_in_points_with_its_marks(rendered):
    pairs, atlas = rendered["pairs"], make_atlas()
    by_pair = {(row[0], row[1]): row for row in pairs}
    assert set(by_pair) == {(p, c) for p, cs in PAIRS.items() for c in cs}
    for (primary, candidate), row in by_pair.items():
        entry = atlas["rows"][primary]["pairs"][candidate]
        if not entry["n"]:
            assert row[2:5] == ["–", "0 of 3", "not trained yet"], row
            continue
        assert row[2] == entry["protocol"] and row[3] == (str(entry["n"]) if entry["n"] == 3 else "1 of 3"), row
        assert row[4] == _expected_gain(entry["gain"]), row
        assert row[5] == (_expected_gain(entry["control_gain"]) if entry["control_gain"] else "–"), row
        for protocol, other in entry.get("protocols", {}).items():
            expected = _expected_gain(other["gain"]) if other["n"] else "not trained yet"
            assert row[6].startswith(f"{protocol} {expected} ("), row
    assert by_pair[("rte", "mrpc")][4].startswith("+5.50 (") and by_pair[("rte", "mrpc")][4].endswith(" †")
    assert by_pair[("rte", "stsb")][4].startswith("-3.00 (") and by_pair[("rte", "stsb")][4].endswith(" †")
    assert by_pair[("mrpc", "stsb")][4] == "+3.00"  # one seed: the mean, no interval, no mark
    assert not by_pair[("stsb", "rte")][4].endswith("†")
    assert by_pair[("stsb", "mrpc")][4].startswith("+0.00 (")  # a mean of -1e-17: no "-0.00"
    assert by_pair[("rte", "mrpc")][5] != "–" and by_pair[("mrpc", "rte")][5] == "–"  # a control only when longer
    assert by_pair[("rte", "cola")][6] == "sequential not trained yet (0 of 3 seeds)"
    assert sum(row[4].endswith("†") for row in pairs) == 4


def test_each_primary_alone_the_progress_and_the_encoder_are_shown(rendered):
    assert [row[:4] for row in rendered["alone"]] == [["rte", "accuracy", "0.6000 ± 0.0200", "3"],
                                                      ["mrpc", "accuracy", "0.7200 ± 0.0200", "3"],
                                                      ["stsb", "pearson", "0.8100 ± 0.0100", "3"]]
    text = rendered["text"]
    assert "40 of 50 cells done" in text and "1.50 h" in text and "all-MiniLM-L6-v2" in text


def test_heatmap_marks_cells(atlas_dir, monkeypatch):
    """Every trained pair's mean gain is written in its cell, † and a box where the interval excludes zero; the
    untrained pair has no number; the diagonal (a primary is not its own candidate) is hatched."""
    from auxlearn.report_kit import plots
    from auxlearn.report.atlas_report import heatmap, load_atlas

    figures = []
    original = plots.png
    monkeypatch.setattr(plots, "png", lambda fig, tight=True: figures.append(fig) or original(fig, tight))
    assert heatmap(load_atlas(atlas_dir / "atlas.json"))
    ax = figures[0].axes[0]
    labels = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    rows, columns = list(PAIRS), ["rte", "mrpc", "stsb", "cola"]
    assert labels[(0, 1)] == "+5.5†" and labels[(0, 2)] == "-3.0†" and labels[(1, 2)] == "+3.0"
    assert (0, 3) not in labels  # rte with cola: not trained
    assert len(labels) == 8 and sum(text.endswith("†") for text in labels.values()) == 4
    hatched = {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches if p.get_hatch()}
    assert hatched == {(i, columns.index(primary)) for i, primary in enumerate(rows)}
    boxed = [p for p in ax.patches if not p.get_hatch()]
    assert len(boxed) == 4
    # over the control: only rte's joint pairs trained longer than rte alone, and only mrpc's is trained
    assert heatmap(load_atlas(atlas_dir / "atlas.json"), "control")
    ax = figures[1].axes[0]
    labels = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert labels == {(0, 1): "+4.5†"} and "control" in ax.get_title()


def test_damaged_atlas_names_the_file_and_key(atlas_dir, capsys):
    from auxlearn.cli import main
    from auxlearn.errors import AuxlearnError
    from auxlearn.report import write_report
    path = atlas_dir / "atlas.json"
    document = make_atlas()
    del document["rows"]["rte"]["pairs"]["mrpc"]["n"]
    damaged = {"{not json": "not valid JSON", json.dumps({**make_atlas(), "format": "other"}): "'format'",
               json.dumps({k: v for k, v in make_atlas().items() if k != "rows"}): "'rows'",
               json.dumps(document): "'rows.rte.pairs.mrpc'.*'n'", "[1, 2]": "expected a JSON mapping"}
    for text, key in damaged.items():
        path.write_text(text)
        with pytest.raises(AuxlearnError, match=f"{re.escape(str(path))}: .*{key}"):
            write_report(atlas_dir)
    assert main(["report", str(atlas_dir)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"auxlearn: error: {path}: ") and "Traceback" not in error
