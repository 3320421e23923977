"""`auxlearn atlas` on a tiny random BERT over slices of RTE, MRPC and STS-B: which cells are planned (a pure
function of the cells done), atlas.json (every planned cell, per-seed scores, scipy's paired t-intervals), a re-run
or an imported atlas.json trains nothing, a run killed with SIGKILL resumes to the uninterrupted atlas, two workers
on one journal train each cell once, and a changed setting retrains the cells it changes (and only those).

Bad atlas files and damaged atlas.json files are cases of the bad-input battery (tests/bad_inputs/atlas.yaml)."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from optuna.trial import TrialState
from scipy import stats

from atlas_runs import cli, command, completed, env, read, run_keys, training_lines, trials
from auxlearn.atlas.config import Cell, load_atlas
from auxlearn.atlas.plan import plan_cells
from conftest import experiment_dict, write_yaml
from kill_runs import finished_trainings, kill_when, without_timing

pytestmark = pytest.mark.data
SEEDS = {"initial": 2, "max": 3, "widen_at": 0.01}


def atlas_document(model_dir: str, candidates: list[str]) -> dict:
    """RTE (8 examples: auto trains its pairs jointly, and both protocols) and MRPC (4 steps, checkpoints)."""
    doc = experiment_dict(model_dir, data={"max_train_examples": 16, "dev_size": 8, "max_length": 32},
                          train={"steps": 2, "eval_every": 2, "sampler": {"name": "uniform"}},
                          transfer={"protocol": "auto", "budget": "equal_primary"})
    del doc["primary"], doc["seeds"]
    doc["atlas"] = {"primaries": {"rte": {"max_train_examples": 8},
                                  "mrpc": {"train": {"steps": 4, "checkpoint_every": 2}}},
                    "candidates": candidates, "seeds": SEEDS, "both_protocols": ["rte"]}
    return doc


# ---- planning: a pure function of the cells done ----

@pytest.fixture(scope="module")
def plan_atlas(tmp_path_factory, tiny_model_dir):
    """rte (baseline 2 steps, both protocols) and mrpc (baseline 4), each with the three others as candidates."""
    path = tmp_path_factory.mktemp("plan") / "atlas.yaml"
    return load_atlas(write_yaml(path, atlas_document(tiny_model_dir, ["rte", "mrpc", "stsb", "cola"])))


def done(*runs: tuple[Cell, float, int, str]) -> dict[str, dict]:
    return {cell.key: {"score": score, "planned_steps": steps, "protocol": protocol}
            for cell, score, steps, protocol in runs}


def seeds(plan: list[Cell], primary: str, kind: str, candidate=None, protocol=None, steps=None) -> set[int]:
    return {c.seed for c in plan if (c.primary, c.kind, c.candidate, c.protocol, c.steps)
            == (primary, kind, candidate, protocol, steps)}


def straddles_by(alone: list[float], pair: list[float]) -> tuple[bool, float]:
    """Whether scipy's paired 95 % interval of pair - alone holds zero, and the mean gain."""
    interval = stats.ttest_rel(pair, alone).confidence_interval(0.95)
    return interval.low <= 0 <= interval.high, statistics.mean(p - a for p, a in zip(pair, alone))


def test_plan_first_seeds_then_controls_for_pairs_longer_than_the_baseline(plan_atlas):
    pairs = [("rte", c) for c in ("mrpc", "stsb", "cola")] + [("mrpc", c) for c in ("rte", "stsb", "cola")]
    first = plan_cells(plan_atlas, {})
    assert sorted(c.key for c in first) == sorted(
        [Cell(p, "alone", s).key for p in ("rte", "mrpc") for s in (0, 1)]
        + [Cell(p, "pair", s, c).key for p, c in pairs for s in (0, 1)])
    assert [c.seed for c in first] == sorted(c.seed for c in first)  # every first seed before any second
    plan = plan_cells(plan_atlas, done(
        (Cell("rte", "alone", 0), .5, 2, "single"), (Cell("rte", "alone", 1), .5, 2, "single"),
        (Cell("rte", "pair", 0, "mrpc"), .5, 4, "joint"), (Cell("rte", "pair", 1, "mrpc"), .5, 4, "joint"),
        (Cell("rte", "pair", 0, "stsb"), .5, 2, "joint"),  # no longer than rte alone (2 steps): no control
        (Cell("mrpc", "pair", 1, "rte"), .5, 8, "sequential"),
        (Cell("mrpc", "pair", 0, "stsb"), .5, 4, "sequential")))  # as long as mrpc alone (4): no control
    assert {c.key for c in plan if c.kind == "control"} == {
        Cell("rte", "control", 0, steps=4).key, Cell("rte", "control", 1, steps=4).key,
        Cell("mrpc", "control", 1, steps=8).key}


def test_plan_widens_a_straddling_gain_of_at_least_widen_at_up_to_max(plan_atlas):
    alone, wide, small, clear = [.50, .52], [.55, .53], [.504, .518], [.55, .571]
    assert straddles_by(alone, wide)[0] and abs(straddles_by(alone, wide)[1]) >= SEEDS["widen_at"]
    assert straddles_by(alone, small)[0] and abs(straddles_by(alone, small)[1]) < SEEDS["widen_at"]
    assert not straddles_by(alone, clear)[0]
    runs = [(Cell("rte", "alone", s), alone[s], 2, "single") for s in (0, 1)]
    for candidate, scores in (("mrpc", wide), ("stsb", small), ("cola", clear)):
        runs += [(Cell("rte", "pair", s, candidate), scores[s], 4, "joint") for s in (0, 1)]
    plan = plan_cells(plan_atlas, done(*runs))
    assert seeds(plan, "rte", "pair", "mrpc") == seeds(plan, "rte", "alone") == {0, 1, 2}
    assert seeds(plan, "rte", "pair", "stsb") == seeds(plan, "rte", "pair", "cola") == {0, 1}
    assert seeds(plan, "mrpc", "alone") == seeds(plan, "mrpc", "pair", "rte") == {0, 1}
    assert seeds(plan, "rte", "control", steps=4) == {0, 1}  # seed 2 of the pair is not trained yet
    # no decision while a seed of the alone is missing
    assert seeds(plan_cells(plan_atlas, done(*runs[:1], *runs[2:])), "rte", "pair", "mrpc") == {0, 1}
    # the third seed still straddles with a gain of at least widen_at, but max is 3
    third = [(Cell("rte", "alone", 2), .50, 2, "single"), (Cell("rte", "pair", 2, "mrpc"), .52, 4, "joint")]
    assert straddles_by([*alone, .50], [*wide, .52])[0] and straddles_by([*alone, .50], [*wide, .52])[1] >= .01
    plan = plan_cells(plan_atlas, done(*runs, *third))
    assert seeds(plan, "rte", "pair", "mrpc") == seeds(plan, "rte", "alone") == {0, 1, 2}
    assert seeds(plan, "rte", "control", steps=4) == {0, 1, 2}


def test_plan_adds_the_other_protocol_once_the_first_seed_says_what_auto_picked(plan_atlas):
    plan = plan_cells(plan_atlas, done(
        (Cell("rte", "pair", 0, "mrpc"), .5, 4, "joint"), (Cell("rte", "pair", 0, "stsb"), .5, 4, "sequential"),
        (Cell("rte", "pair", 1, "cola"), .5, 4, "joint"),  # not the first seed: auto's pick is not known
        (Cell("mrpc", "pair", 0, "rte"), .5, 8, "sequential")))  # mrpc is not in both_protocols
    assert {c.key for c in plan if c.protocol} == {Cell("rte", "pair", s, c, p).key for s in (0, 1)
                                                    for c, p in (("mrpc", "sequential"), ("stsb", "joint"))}


# ---- the command: one uninterrupted atlas the other tests compare with ----

@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_model_dir) -> Path:
    path = tmp_path_factory.mktemp("atlas") / "atlas.yaml"
    return write_yaml(path, atlas_document(tiny_model_dir, ["rte", "mrpc", "stsb"]))


@pytest.fixture(scope="module")
def whole(tmp_path_factory, config) -> Path:
    out = tmp_path_factory.mktemp("whole") / "atlas"
    code, log = cli(["atlas", str(config), "--out", str(out)])
    assert code == 0, log
    return out


def assert_paired_t(gain: dict, reference: dict[str, float], candidate: dict[str, float]) -> None:
    """``gain`` (candidate - reference, as atlas.json holds it) is scipy's paired t over their common seeds."""
    common = [s for s in candidate if s in reference]
    diffs = [candidate[s] - reference[s] for s in common]
    assert gain["n"] == len(common) >= 2 and gain["per_seed"] == dict(zip(common, diffs))
    assert gain["mean"] == pytest.approx(statistics.mean(diffs), abs=1e-12)
    if max(diffs) == min(diffs):  # no spread: the interval is the point
        low = high = diffs[0]
    else:
        interval = stats.ttest_rel([candidate[s] for s in common], [reference[s] for s in common])
        low, high = interval.confidence_interval(0.95)
    assert (gain["low"], gain["high"]) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_atlas_json_holds_every_planned_cell_and_paired_intervals(whole, config):
    doc, atlas = read(whole), load_atlas(config)
    runs = {run["cell"]["primary"]: [] for run in doc["runs"]}
    for run in doc["runs"]:
        assert run["score"] == run["eval"]  # accuracy and F1: higher is better
        runs[run["cell"]["primary"]].append(run)
    planned = plan_cells(atlas, {Cell(**r["cell"]).key: r for r in doc["runs"]})
    assert doc["complete"] and doc["cells_done"] == doc["cells_planned"] == len(planned) == len(doc["runs"])
    assert run_keys(doc) == {c.key for c in planned}
    for primary, row in doc["rows"].items():
        def evals(kind, candidate=None, protocol=None, steps=None):
            return {str(r["cell"]["seed"]): r["eval"] for r in runs[primary]
                    if Cell(**r["cell"]) == Cell(primary, kind, r["cell"]["seed"], candidate, protocol, steps)}
        alone, pair_seeds, control_seeds = row["alone"]["eval"], set(), {}
        assert alone == evals("alone") and row["baseline_steps"] == (2 if primary == "rte" else 4)
        for candidate, entry in row["pairs"].items():
            assert entry["protocol"] == ("joint" if primary == "rte" else "sequential")  # auto: by training sizes
            other = {"rte": ["sequential"], "mrpc": []}[primary]  # rte is in both_protocols
            assert list(entry.get("protocols", {})) == other
            for protocol, arm in [(None, entry), *((p, entry["protocols"][p]) for p in other)]:
                pair = arm["eval"]
                assert pair == evals("pair", candidate, protocol) and arm["planned_steps"] > row["baseline_steps"]
                assert_paired_t(arm["gain"], alone, pair)
                assert_paired_t(arm["control_gain"], row["controls"][str(arm["planned_steps"])]["eval"], pair)
                pair_seeds |= set(pair)
                control_seeds.setdefault(str(arm["planned_steps"]), set()).update(pair)
                # a seed beyond the first two only where the gain so far straddles zero by at least widen_at
                n = len(pair)
                assert list(pair) == [str(s) for s in range(n)] and SEEDS["initial"] <= n <= SEEDS["max"]
                for k in range(SEEDS["initial"], SEEDS["max"]):
                    a, p = [alone[str(s)] for s in range(k)], [pair[str(s)] for s in range(k)]
                    widen = straddles_by(a, p)[0] and abs(straddles_by(a, p)[1]) >= SEEDS["widen_at"]
                    assert widen == (n > k), (primary, candidate, protocol, k)
                    if not widen:
                        break
        assert set(alone) == pair_seeds  # the alone trains every seed a pair of its row trained
        assert {s: set(c["eval"]) for s, c in row["controls"].items()} == control_seeds
        assert {s: c["eval"] for s, c in row["controls"].items()} == {s: evals("control", steps=int(s))
                                                                       for s in control_seeds}


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_cells_train_in_the_plans_order_every_first_seed_before_any_second(whole):
    """Cells planned late (a control once its row's pairs said their length, the protocol auto did not pick) still
    train with their seed, so an atlas stopped part-way has a first estimate of every gain."""
    order = [Cell.from_key(t.user_attrs["cell"]) for t in sorted(trials(whole / "atlas.journal"), key=lambda t: t.number)
             if t.state == TrialState.COMPLETE]
    assert [c.seed for c in order] == sorted(c.seed for c in order)
    first = [c for c in order if c.seed == 0]
    assert {c.kind for c in first} == {"alone", "pair", "control"} and any(c.protocol for c in first)


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_a_rerun_trains_nothing(whole, config, tmp_path):
    out = tmp_path / "again"
    shutil.copytree(whole, out)
    before, trials_before = finished_trainings(out), len(trials(out / "atlas.journal"))
    code, log = cli(["atlas", str(config), "--out", str(out)])
    assert code == 0, log
    assert training_lines(log) == [] and len(trials(out / "atlas.journal")) == trials_before
    assert finished_trainings(out) == before
    assert len([p for p in before if p.parent.name.startswith("seed_")]) == len(read(whole)["runs"])
    assert read(out) == read(whole)


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_an_atlas_json_in_a_fresh_folder_is_imported_not_retrained(whole, config, tmp_path):
    out = tmp_path / "fresh"
    out.mkdir()
    shutil.copyfile(whole / "atlas.json", out / "atlas.json")
    code, log = cli(["atlas", str(config), "--out", str(out)])
    assert code == 0, log
    assert training_lines(log) == [] and not (out / "runs").exists()
    stored = trials(out / "atlas.journal")
    assert all(t.state == TrialState.COMPLETE and t.user_attrs["imported"] for t in stored)
    assert sorted(t.user_attrs["cell"] for t in stored) == sorted(run_keys(read(whole)))
    assert without_timing(read(out)["rows"]) == without_timing(read(whole)["rows"])
    assert read(out)["runs"] == read(whole)["runs"]


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_a_killed_atlas_resumes_to_the_uninterrupted_one_training_no_cell_twice(whole, config, tmp_path):
    """Killed twice mid-cell (at a checkpoint: no journal write under way), then run to the end."""
    out, killed = tmp_path / "killed", []
    points = {"mrpc alone seed 1": "runs/mrpc/alone/seed_1/checkpoint/checkpoint.json",
              "an mrpc control": "runs/mrpc/control_8/seed_*/checkpoint/checkpoint.json"}  # planned later
    finished: dict[Path, int] = {}
    for name, pattern in points.items():
        found = kill_when(config, out, env(), lambda: next(iter(out.glob(pattern)), None), command=command(config, out))
        assert found is not None, f"the atlas ended before {name} was half-way"
        killed.append(found.parent.parent)
        assert not (killed[-1] / "results.json").exists() and not read(out)["complete"]
        finished.update({p: m for p, m in finished_trainings(out).items() if p not in finished})
    code, log = cli(["atlas", str(config), "--out", str(out)])
    assert code == 0, log

    resumed, reference = read(out), read(whole)
    assert without_timing(resumed["runs"]) == without_timing(reference["runs"])  # bit for bit
    assert without_timing(resumed["rows"]) == without_timing(reference["rows"])
    counts = completed(out / "atlas.journal")
    assert set(counts) == run_keys(reference) and set(counts.values()) == {1}
    assert len(finished) > 5
    assert {p: m for p, m in finished.items() if p.stat().st_mtime_ns == m} == finished, "a finished cell retrained"
    for arm in killed:  # went on from its checkpoint
        assert json.loads((arm / "results.json").read_text())["resumed_from_step"] >= 2, arm


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_two_workers_on_one_journal_train_each_cell_once(whole, config, tmp_path):
    journal = tmp_path / "shared.journal"
    logs = [open(tmp_path / f"worker_{i}.log", "w") for i in range(2)]
    workers = [subprocess.Popen(command(config, tmp_path / f"worker_{i}", "--storage", f"journal://{journal}"),
                                env=env(), stdout=log, stderr=log) for i, log in enumerate(logs)]
    try:
        codes = [w.wait(timeout=300) for w in workers]
    finally:
        for worker, log in zip(workers, logs):
            if worker.poll() is None:
                worker.kill()
            log.close()
    assert codes == [0, 0], [(tmp_path / f"worker_{i}.log").read_text()[-3000:] for i in range(2)]
    stored = trials(journal)
    counts = completed(journal)
    assert set(counts) == run_keys(read(whole)) and set(counts.values()) == {1}
    assert {t.state for t in stored} <= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    assert all(t.user_attrs.get("surplus") for t in stored if t.state == TrialState.FAIL)
    by = Counter(tuple(t.user_attrs["worker"][:2]) for t in stored if t.state == TrialState.COMPLETE)
    assert len(by) == 2, f"one worker trained every cell: {by}"
    docs = [read(tmp_path / f"worker_{i}") for i in range(2)]
    assert docs[0]["complete"] and docs[0]["runs"] == docs[1]["runs"] and docs[0]["rows"] == docs[1]["rows"]
    assert without_timing(docs[0]["runs"]) == without_timing(read(whole)["runs"])


@pytest.mark.slow  # the `whole` atlas fixture trains for ~15 s
def test_a_changed_primary_retrains_its_own_cells_only(whole, config, tmp_path):
    out = tmp_path / "changed"
    shutil.copytree(whole, out)
    before = finished_trainings(out)
    change = "atlas.primaries.mrpc.train.lr=0.003"
    # (a stored cell of other settings once made every trial of it a duplicate: the atlas never ended)
    code, log = cli(["atlas", str(config), "--out", str(out), "--set", change], deadline=60)
    assert code == 0, log
    old, new, atlas = read(whole), read(out), load_atlas(config, [change])
    assert [r for r in new["runs"] if r["cell"]["primary"] == "rte"] == \
        [r for r in old["runs"] if r["cell"]["primary"] == "rte"]
    assert new["complete"] and new["rows"]["rte"] == old["rows"]["rte"]
    mrpc = [r for r in new["runs"] if r["cell"]["primary"] == "mrpc"]
    old_identity = {Cell(**r["cell"]).key: r["identity"] for r in old["runs"]}
    cells = [Cell(**r["cell"]) for r in mrpc]
    assert cells and all(r["identity"] == atlas.cell_identity(c) != old_identity.get(c.key)
                         for r, c in zip(mrpc, cells))
    retrained = [out / "runs" / c.primary / c.arm / f"seed_{c.seed}" for c in cells]
    for path, mtime in before.items():  # rte's cells untouched, every mrpc cell of the new plan trained again
        assert (path.stat().st_mtime_ns != mtime) == any(path.is_relative_to(f) for f in retrained), path
    counts = completed(out / "atlas.journal")  # the old trial of a retrained cell stays, not counted (identity)
    assert counts == {**{k: 1 for k in old_identity}, **{c.key: 1 + (c.key in old_identity) for c in cells}}
