"""`auxlearn report`: a real (tiny) pipeline run, rendered in headless Chromium through the DevTools protocol.

Checks that every image of report.html loads, that the headline table holds the numbers of results.json, and
that the browser console shows no error; saves screenshots under bench/results/. Chromium is required: the
test fails (never skips) without it.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "bench" / "results" / "report_screenshot.png"
DEMO_RUN = REPO / "runs" / "demo"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: the report test renders report.html in headless Chromium. "
                    "Install it with `apt-get update && apt-get install -y chromium` (.ci/run does this).",
                    pytrace=False)
    return path


class Browser:
    """A headless Chromium with one page, driven over the DevTools protocol (websocket-client)."""

    def __init__(self, profile: Path):
        import websocket

        self.process = subprocess.Popen(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
             "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not start: {self.process.stderr.read()[-2000:]}")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = []
        while not targets:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = [t for t in json.load(response) if t.get("type") == "page"]
            if time.monotonic() > deadline:
                raise RuntimeError("chromium shows no page target")
            time.sleep(0.1)
        self.ws = websocket.create_connection(targets[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for message in self.events:
            if message.get("method") == event:
                return message
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == event:
                return message
        raise TimeoutError(event)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        found = []
        for message in self.events:
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                found.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}")
        return found

    def open(self, path: Path) -> None:
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params = {"format": "png"}
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            params.update(captureBeyondViewport=True, clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, tiny_model_dir):
    """examples/demo.yaml with tiny budgets on the tiny random BERT: the real pipeline, end to end.

    Three small candidates instead of the demo's six (tokenizing MNLI and QQP alone takes ~30 s on a cold
    cache); threshold 0 and min_plays 0 keep every candidate, so the mixing stage always runs.
    """
    from auxlearn.cli import main

    run_dir = tmp_path_factory.mktemp("report-run") / "demo"
    overrides = [f"model={tiny_model_dir}", "auxiliary=[mrpc, stsb, cola]", "train.steps=20", "train.eval_every=10",
                 "train.batch_size=8", "train.eval_batch_size=64", "train.lr=1e-3", "train.progress=false",
                 "select.rounds=4", "select.round_steps=3", "select.reward_dev_size=32", "select.threshold=0.0",
                 "select.min_plays=0", "mix.n_trials=3", "mix.n_startup_trials=2", "mix.steps=10",
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


def _expected_headline(results: dict) -> dict[str, list[str]]:
    """The headline rows the report must show, formatted independently from results.json (4 decimals)."""
    rows = {}
    for stage in ("baseline", "final"):
        s = results["stages"][stage]
        rows[stage] = [f"{s['eval'][str(seed)]:.4f}" for seed in results["seeds"]] + [f"{s['mean']:.4f} ± {s['std']:.4f}"]
    gain = results["gain"]
    rows["gain"] = [f"{gain['per_seed'][str(seed)]:+.4f}" for seed in results["seeds"]] + [f"{gain['mean']:+.4f} ± {gain['std']:.4f}"]
    return rows


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
    for stage, expected in _expected_headline(results).items():
        row = by_stage["baseline" if stage == "baseline" else "final" if stage == "final" else
                       next(k for k in by_stage if k.startswith("gain"))]
        assert row[2:2 + n] == expected[:n], (stage, row, expected)
        assert row[2 + n].startswith(expected[n]), (stage, row, expected)
    if n > 1:
        assert "95 % CI" in by_stage[next(k for k in by_stage if k.startswith("gain"))][-1]
    # The verdict sits above the table, on the first screen.
    top = browser.evaluate("(() => { const v = document.querySelector('p.verdict').getBoundingClientRect();"
                           " const t = document.querySelector('#headline').getBoundingClientRect();"
                           " return {verdict: v.top, table: t.bottom, viewport: innerHeight}; })()")
    assert top["verdict"] < top["table"] <= top["viewport"], top
    errors = browser.errors()
    assert not errors, f"browser console errors: {errors}"


def test_report_renders_in_chromium(demo_run, tmp_path):
    results = json.loads((demo_run / "results.json").read_text())
    browser = Browser(tmp_path / "profile")
    try:
        _check_page(browser, demo_run / "report.html", results)
        browser.screenshot(SCREENSHOT)
        browser.screenshot(SCREENSHOT.with_name("report_screenshot_full.png"), full_page=True)
        # The report of a real `make demo` run, when this machine has one.
        if (DEMO_RUN / "results.json").is_file():
            from auxlearn.report import write_report

            demo_results = json.loads((DEMO_RUN / "results.json").read_text())
            _check_page(browser, write_report(DEMO_RUN), demo_results)
            browser.screenshot(SCREENSHOT.with_name("report_screenshot_demo.png"))
    finally:
        browser.close()
    assert SCREENSHOT.stat().st_size > 10_000


def test_paired_bootstrap_is_seeded_and_paired():
    from auxlearn.report.stats import paired_bootstrap, verdict_word

    baseline = {"0": 0.60, "1": 0.70, "2": 0.50, "3": 0.65}
    final = {s: v + d for (s, v), d in zip(baseline.items(), (0.02, 0.03, 0.01, 0.02))}
    gain = paired_bootstrap(baseline, final, n_resamples=2000, seed=0)
    assert gain == paired_bootstrap(baseline, final, n_resamples=2000, seed=0)
    assert gain.mean == pytest.approx(0.02)
    # Paired: seed-to-seed spread of the scores (0.5 to 0.7) cancels, the interval spans the gains only.
    assert 0.01 <= gain.low <= gain.mean <= gain.high <= 0.03
    assert verdict_word(gain) == "helped"
    assert verdict_word(gain, higher_is_better=False) == "hurt"
    single = paired_bootstrap({"0": 0.5}, {"0": 0.6})
    assert single.low is None and single.high is None
    assert verdict_word(single) == "seemed to help"
    # Two seeds that both lost: the interval excludes zero, but it is only the range of two numbers.
    two = paired_bootstrap({"0": 0.56, "1": 0.53}, {"0": 0.53, "1": 0.52}, n_resamples=2000, seed=0)
    assert two.high < 0 and verdict_word(two) == "seemed to hurt"


def test_report_draws_gradts_evidence(demo_run, tmp_path):
    """GradTS files (select/importance/<task>.npz with array `task`; select/gradts.json with "taus") are drawn when present."""
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
        assert not browser.errors()
    finally:
        browser.close()
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
