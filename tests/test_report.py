"""`auxlearn report`: a real (tiny) pipeline run, rendered in headless Chromium through the DevTools protocol.

Checks that every image of report.html loads, that the headline table holds the numbers of results.json, and
that the browser console shows no error; screenshots go to the test's temporary folder (the tracked ones under
bench/results/ are not overwritten). Chromium is required: the test fails (never skips) without it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chromium import Browser
from test_report_content import expected_headline

pytestmark = [pytest.mark.data, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
DEMO_RUN = REPO / "runs" / "demo"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_model_dir):
    """examples/demo.yaml turned into AutoSeM + GP-BO with tiny budgets on the tiny random BERT: the real pipeline,
    end to end, with every kind of evidence the report draws.

    Three small candidates (tokenizing MNLI alone takes ~30 s on a cold cache); threshold 0 and min_plays 0 keep
    every candidate, so the mixing stage always runs; joint training under equal_primary adds the control arm.
    """
    from auxlearn.cli import main

    run_dir = tmp_path_factory.mktemp("report-run") / "demo"
    overrides = [f"model={tiny_model_dir}", "auxiliary=[mrpc, stsb, cola]", "train.steps=20", "train.eval_every=10",
                 "train.batch_size=8", "train.eval_batch_size=64", "train.lr=1e-3", "train.progress=false",
                 "train.patience=null", "seeds=[0, 1]",
                 "select={method: autosem, rounds: 4, round_steps: 3, reward_dev_size: 32, threshold: 0.0, "
                 "min_plays: 0}",
                 "mix={method: gp-bo, n_trials: 3, n_startup_trials: 2, steps: 10}",
                 "transfer={protocol: joint, budget: equal_primary}",
                 "data.max_train_examples=48", "data.dev_size=32", "data.max_length=64"]
    argv = ["run", str(REPO / "examples" / "demo.yaml"), "--out", str(run_dir)]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 0  # `auxlearn run`: the pipeline, then the report
    return run_dir


def test_run_writes_report(demo_run, capsys):
    assert (demo_run / "report.html").is_file() and (demo_run / "report.md").is_file()
    results = json.loads((demo_run / "results.json").read_text())
    assert results["selected"], "the test config must select auxiliaries so that every section is drawn"
    markdown = (demo_run / "report.md").read_text()
    for link in re.findall(r"\]\((report_figures/[^)]+\.png)\)", markdown):
        assert (demo_run / link).stat().st_size > 1000, link
    assert "![Score per mixing trial" in markdown and "![Bandit utility" in markdown
    html = (demo_run / "report.html").read_text()
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), "report.html must not reference any URL"
    for version in results["versions"].values():
        assert version in html

    from auxlearn.cli import main

    assert main(["report", str(demo_run)]) == 0
    assert f"report in {demo_run / 'report.html'}" in capsys.readouterr().out


def _check_page(browser: Browser, report: Path, results: dict) -> None:
    browser.open(report)
    images = browser.evaluate(
        "Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))")
    assert images, "the report has no image"
    broken = [i for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"images that did not load: {broken}"

    table = browser.evaluate("Array.from(document.querySelectorAll('#headline tbody tr'))"
                             ".map(r => Array.from(r.cells).map(c => c.textContent))")
    by_stage = {row[0]: row for row in table}
    assert by_stage["baseline"][0] == "baseline" and "final" in by_stage, table
    n = len(results["seeds"])
    for label, expected in expected_headline(results).items():
        row = by_stage[label]
        assert row[2:2 + n] == expected[:n], (label, row, expected)
        assert row[2 + n].startswith(expected[n]), (label, row, expected)
    if n > 1:  # mean ± std, median, then the t-interval
        assert " to " in by_stage["gain: final − baseline"][2 + n + 2]
    _check_headline_figure(browser, results)
    errors = browser.errors()
    assert not errors, f"browser console errors: {errors}"


def _check_headline_figure(browser: Browser, results: dict) -> None:
    """The verdict, then the figure of every seed's score per arm and the gains' intervals, on the first screen, the
    table below; its caption says each gain of results.json."""
    top = browser.evaluate("(() => { const box = s => document.querySelector(s).getBoundingClientRect();"
                           " const f = document.querySelector('#fig-headline img');"
                           " return {verdict: box('p.verdict').top, figure: box('#fig-headline').bottom,"
                           " table: box('#headline').top, viewport: innerHeight, width: f.naturalWidth,"
                           " shown: f.getBoundingClientRect().width, page: document.body.clientWidth,"
                           " caption: document.querySelector('#fig-headline figcaption').textContent}; })()")
    assert top["verdict"] < top["figure"] <= top["viewport"] and top["figure"] <= top["table"], top
    assert top["width"] > 800 and top["shown"] >= 0.7 * top["page"], top  # wide enough to read
    for key, reference in (("gain", "baseline"), ("control_gain", "control")):
        if key in results:
            assert f"final − {reference} {results[key]['mean']:+.4f}" in top["caption"], (key, top["caption"])


def test_report_renders_in_chromium(demo_run, tmp_path):
    results = json.loads((demo_run / "results.json").read_text())
    browser = Browser(tmp_path / "profile")
    try:
        _check_page(browser, demo_run / "report.html", results)
        screenshot = tmp_path / "report_screenshot.png"
        browser.screenshot(screenshot)
        browser.screenshot(tmp_path / "report_screenshot_full.png", full_page=True)
        # The report of a real `make demo` run, when this machine has one.
        if (DEMO_RUN / "results.json").is_file():
            from auxlearn.report import write_report

            demo_results = json.loads((DEMO_RUN / "results.json").read_text())
            _check_page(browser, write_report(DEMO_RUN), demo_results)
            browser.screenshot(tmp_path / "report_screenshot_demo.png")
    finally:
        browser.close()
    assert screenshot.stat().st_size > 10_000


def test_report_draws_gradts_evidence(demo_run, tmp_path):
    """A GradTS run's files (select/importance/<task>.npz with array `task`; select/gradts.json with "taus") are
    drawn: the demo run, turned into one whose selector was gradts."""
    import numpy as np

    from auxlearn.report import write_report

    run = tmp_path / "run"
    shutil.copytree(demo_run, run, ignore=shutil.ignore_patterns("*.safetensors", "*.db", "report*"))
    folder = run / "select" / "importance"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for task in ("rte", "mrpc", "stsb", "cola"):
        with open(folder / f"{task}.npz", "wb") as handle:
            np.savez(handle, task=rng.random((2, 2)))
    (run / "select" / "gradts.json").write_text(json.dumps({"taus": {"mrpc": 0.4, "stsb": -0.1, "cola": 0.2}}))
    selection = json.loads((run / "select" / "selection.json").read_text())
    (run / "select" / "selection.json").write_text(json.dumps({**selection, "method": "gradts", "details": {}}))
    write_report(run)
    markdown = (run / "report.md").read_text()
    assert "![GradTS Kendall tau per candidate]" in markdown
    assert "![GradTS head-importance heatmaps]" in markdown
    assert (run / "report_figures" / "gradts_importance.png").stat().st_size > 1000


def _as_other_primary(run: Path, primary: str, scores: dict[str, float], selected: list[str]) -> None:
    """Turn a copied run folder into one whose primary is ``primary`` (the files the report reads)."""
    results = json.loads((run / "results.json").read_text())
    results.update(primary=primary, selected=selected)
    (run / "results.json").write_text(json.dumps(results))
    selection = json.loads((run / "select" / "selection.json").read_text())
    selection.update(scores=scores, selected=selected)
    (run / "select" / "selection.json").write_text(json.dumps(selection))


def test_study_report_shows_the_task_by_task_matrix(demo_run, tmp_path):
    """A folder of runs with different primaries gets a report with a primaries x candidates matrix."""
    from auxlearn.errors import AuxlearnError
    from auxlearn.report import write_report

    study = tmp_path / "study"
    ignore = shutil.ignore_patterns("*.safetensors", "*.db", "report*")
    shutil.copytree(demo_run, study / "rte", ignore=ignore)
    shutil.copytree(demo_run, study / "more" / "mrpc", ignore=ignore)
    mrpc_scores = {"rte": 0.71, "stsb": 0.35, "cola": 0.52}
    _as_other_primary(study / "more" / "mrpc", "mrpc", mrpc_scores, ["rte", "cola"])
    rte = json.loads((study / "rte" / "select" / "selection.json").read_text())

    page = write_report(study)
    assert page == study / "report.html"
    assert (study / "rte" / "report.html").is_file() and (study / "more" / "mrpc" / "report.html").is_file()

    browser = Browser(tmp_path / "profile")
    try:
        browser.open(page)
        images = browser.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert images and all(images), images
        table = browser.evaluate(f"Array.from(document.querySelectorAll('#matrix-{rte['method']} tr'))"
                                 ".map(r => Array.from(r.cells).map(c => c.textContent))")
        figures = browser.evaluate("Array.from(document.querySelectorAll('#study-headline figure'))"
                                   ".map(f => [f.id, f.querySelector('img').naturalWidth, f.textContent])")
        assert not browser.errors()
    finally:
        browser.close()
    # Each primary's headline figure, as its own report draws it, captioned with its gains.
    assert [f[0] for f in figures] == ["fig-headline_more_mrpc", "fig-headline_rte"], figures
    gain = json.loads((study / "rte" / "results.json").read_text())["gain"]["mean"]
    assert all(f[1] > 800 for f in figures) and f"final − baseline {gain:+.4f}" in figures[1][2], figures
    header, rows = table[0], {row[0]: dict(zip(table[0][1:], row[1:])) for row in table[1:]}
    assert set(rows) == {"rte", "mrpc"}
    assert sorted(header[1:]) == sorted(set(rte["scores"]) | set(mrpc_scores))
    for primary, scores, selected in (("rte", rte["scores"], rte["selected"]),
                                      ("mrpc", mrpc_scores, ["rte", "cola"])):
        for task, cell in rows[primary].items():
            if task not in scores:
                assert cell == "–"
                continue
            assert cell.startswith(f"{scores[task]:+.3f}"), (primary, task, cell)
            assert cell.endswith("✓") == (task in selected), (primary, task, cell)

    (tmp_path / "empty").mkdir()
    with pytest.raises(AuxlearnError, match="holds no results.json"):
        write_report(tmp_path / "empty")
    with pytest.raises(AuxlearnError, match=r"one trained model \(`auxlearn train`\)"):
        write_report(study / "rte" / "baseline" / "seed_0")


def test_final_models_cards_carry_the_run(demo_run):
    """Each seed's final model card holds the run's gain table, the selection and its scores, and still parses."""
    from huggingface_hub import ModelCard

    results = json.loads((demo_run / "results.json").read_text())
    arm = "baseline" if results["stages"]["final"].get("same_as") == "baseline" else "final"
    for seed in results["seeds"]:
        card = ModelCard.load(demo_run / arm / f"seed_{seed}" / "model" / "README.md")
        assert "## The run that chose it" in card.text and "gain: final − baseline" in card.text
        assert f"model of seed {seed}" in card.text
        for task, score in results["stages"]["select"]["scores"].items():
            assert f"| `{task}` | {score:.4f} | {'yes' if task in results['selected'] else 'no'} |" in card.text
        final_eval = results["stages"][arm]["eval"][str(seed)]
        assert card.data.eval_results[0].metric_value == pytest.approx(final_eval, abs=1e-4)
