"""The pipeline end to end on a tiny random BERT and real data slices: baseline -> select -> mix -> final.

Budgets are a few steps: these tests check what each stage trains, on which split, and what it writes,
not whether auxiliary tasks help.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats

from auxlearn import cli
from auxlearn.errors import AuxlearnError
from auxlearn.mix import build_mixer
from auxlearn.pipeline import run_pipeline, run_select
from auxlearn.stage import Stage
from conftest import experiment_dict, write_yaml

pytestmark = pytest.mark.data
CANDIDATES = ["mrpc", "stsb"]
# Every candidate is kept whatever its utility, so the mixing stage always has something to mix.
AUTOSEM = {"method": "autosem", "rounds": 4, "round_steps": 2, "reward_dev_size": 16, "threshold": None,
           "top_k": 2, "min_plays": 0}


def read(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def experiment(make_experiment, **sections):
    return make_experiment(auxiliary=CANDIDATES, **sections)


@pytest.fixture
def spies(monkeypatch):
    """Record every eval scoring (task) and every primary dev evaluation (size of the dev split used)."""
    import auxlearn.experiment as experiment_module
    from auxlearn.train.trainer import Trainer

    seen = {"eval": [], "dev_sizes": []}
    score, dev_scores = experiment_module.score_predictions, Trainer.dev_scores

    def counting_score(spec, predictions, split):
        seen["eval"].append(spec.name)
        return score(spec, predictions, split)

    def sized_dev_scores(self):
        seen["dev_sizes"].append(len(self.data[self.primary].dev))
        return dev_scores(self)

    monkeypatch.setattr(experiment_module, "score_predictions", counting_score)
    monkeypatch.setattr(Trainer, "dev_scores", sized_dev_scores)
    return seen


@pytest.fixture
def train_calls(monkeypatch):
    """The names of the models a stage trains (selection and mixing trials, the bandit's run)."""
    calls = []

    def counting(method):
        def train(self, name, *args, **kwargs):
            calls.append(name)
            return method(self, name, *args, **kwargs)
        return train

    monkeypatch.setattr(Stage, "train", counting(Stage.train))
    monkeypatch.setattr(Stage, "train_with", counting(Stage.train_with))
    return calls


def test_run_autosem_gp_bo_writes_every_stage(tmp_path, make_experiment, spies):
    exp = experiment(make_experiment, select=AUTOSEM, seeds=[0, 1],
                     mix={"method": "gp-bo", "n_trials": 2, "n_startup_trials": 1, "steps": 4})
    run = tmp_path / "run"
    results = run_pipeline(exp, run)

    assert (run / "config.yaml").is_file()
    for stage in ("baseline", "final"):
        for seed in (0, 1):
            folder = run / stage / f"seed_{seed}"
            seed_results = read(folder / "results.json")
            assert seed_results["config"]["seed"] == seed
            assert set(seed_results["eval"]) == {"rte"}
            assert metrics(folder), f"{folder} has no dev evaluations"
    assert read(run / "baseline" / "seed_0" / "results.json")["tasks"] == ["rte"]
    selection = read(run / "select" / "selection.json")
    assert read(run / "final" / "seed_0" / "results.json")["tasks"] == ["rte", *selection["selected"]]
    assert selection["method"] == "autosem" and sorted(selection["selected"]) == CANDIDATES
    details = selection["details"]
    assert set(details["utilities"]) == set(details["plays"]) == {"rte", *CANDIDATES}
    assert sum(details["plays"].values()) == AUTOSEM["rounds"]
    assert len(details["history"]) == AUTOSEM["rounds"]
    assert details["history"][0]["reward"] is None  # the first evaluation only sets the baseline
    assert all(0 < u < 1 for u in details["utilities"].values())

    mixture = read(run / "mix" / "mixture.json")
    assert mixture["method"] == "gp-bo" and mixture["sampler"]["name"] == "round_robin"
    assert sum(t["state"] == "COMPLETE" for t in mixture["details"]["trials"]) == 2
    assert (run / "mix" / "study.db").is_file()
    assert list(mixture["ratios"]) == ["rte", *selection["selected"]] and mixture["ratios"]["rte"] >= 1

    # Selection and mixing never see eval: their models are not scored on it, only baseline and final are.
    trial_folders = [run / "select" / "bandit", *sorted((run / "mix").glob("trial_*"))]
    assert len(trial_folders) >= 2
    for folder in trial_folders:
        assert read(folder / "results.json")["eval"] == {}
    # The final (joint, equal_primary) trains longer than the baseline: a control of as many steps is trained.
    assert spies["eval"] == ["rte"] * 6

    # results.json: per-seed eval scores of each trained stage, mean/std, gain, seconds.
    assert read(run / "results.json") == json.loads(json.dumps(results))
    stages = results["stages"]
    for name in ("baseline", "final"):
        assert set(stages[name]["eval"]) == {"0", "1"}
        assert stages[name]["mean"] == pytest.approx(sum(stages[name]["eval"].values()) / 2)
        assert stages[name]["std"] >= 0
    gains = {s: stages["final"]["eval"][s] - stages["baseline"]["eval"][s] for s in ("0", "1")}
    assert results["gain"]["per_seed"] == pytest.approx(gains)
    assert results["gain"]["mean"] == pytest.approx(sum(gains.values()) / 2)
    control = stages["control"]
    assert control["tasks"] == ["rte"] and control["planned_steps"] == stages["final"]["planned_steps"] > 10
    assert all(run["primary_steps"] == run["steps"] for run in control["runs"].values())
    assert results["control_gain"]["per_seed"] == pytest.approx(
        {s: stages["final"]["eval"][s] - control["eval"][s] for s in ("0", "1")})
    assert set(results["seconds"]) == {"baseline", "select", "mix", "final", "control", "total"}
    assert all(v > 0 for v in results["seconds"].values())
    assert results["selected"] == selection["selected"] and results["ratios"] == mixture["ratios"]


def test_bandit_is_the_trainer_with_the_thompson_sampler(tmp_path, make_experiment, spies):
    exp = experiment(make_experiment, select=AUTOSEM)
    run_select(exp, tmp_path)
    bandit = tmp_path / "select" / "bandit"
    results = read(bandit / "results.json")
    assert results["sampler"]["name"] == "thompson"
    assert results["steps"] == AUTOSEM["rounds"] * AUTOSEM["round_steps"]
    # One dev evaluation per round, at the end of each round, on the seeded reward subsample of dev.
    assert [r["step"] for r in metrics(bandit)] == [2, 4, 6, 8]
    assert spies["dev_sizes"] == [AUTOSEM["reward_dev_size"]] * AUTOSEM["rounds"]
    history = read(tmp_path / "select" / "selection.json")["details"]["history"]
    batches = [next(iter(r["batches"])) for r in metrics(bandit)]
    assert batches == [h["arm"] for h in history]  # each round trained the arm the bandit had chosen
    assert all(len(r["batches"]) == 1 for r in metrics(bandit))
    assert spies["eval"] == []


def test_exhaustive_keeps_a_pair_on_the_interval_of_its_paired_dev_gains(tmp_path, make_experiment, train_calls):
    exp = experiment(make_experiment, select={"method": "exhaustive", "steps": 4, "seeds": 2, "min_gain": -0.05})
    selection = run_select(exp, tmp_path)
    assert train_calls == [f"{arm}/seed_{s}" for arm in ("alone", "pair_mrpc", "pair_stsb") for s in (0, 1)]

    def dev(name):
        results = read(tmp_path / "select" / name / "results.json")
        assert results["eval"] == {} and results["primary_steps"] == 4  # each pair under the budget's rule
        return results["dev_best"]["rte"]["main"], results["tasks"], results["config"]["seed"]

    for seed in (0, 1):
        assert dev(f"alone/seed_{seed}")[1:] == (["rte"], seed)
    for task in CANDIDATES:
        gains = []
        for seed in (0, 1):
            pair, tasks, trained_seed = dev(f"pair_{task}/seed_{seed}")
            assert tasks == ["rte", task] and trained_seed == seed
            gains.append(pair - dev(f"alone/seed_{seed}")[0])
        assert selection.scores[task] == pytest.approx(sum(gains) / 2)
        test = stats.ttest_rel([g + 1 for g in gains], [1, 1]) if len(set(gains)) > 1 else None
        low = test.confidence_interval(0.95).low if test else gains[0]
        assert selection.details["pairs"][task]["low"] == pytest.approx(low)
        assert (task in selection.selected) == (low > -0.05)  # kept on the interval's lower end, not the mean


def test_none_trains_the_primary_alone(tmp_path, make_experiment, train_calls):
    exp = experiment(make_experiment, select={"method": "none"}, mix={"method": "uniform"}, seeds=[0, 1])
    results = run_pipeline(exp, tmp_path)
    assert train_calls == [] and results["selected"] == [] and "mix" not in results["stages"]
    final, baseline = results["stages"]["final"], results["stages"]["baseline"]
    # The empty selection is an answer: the baseline is the final model, not retrained.
    assert final["same_as"] == "baseline" and final["eval"] == baseline["eval"] and final["tasks"] == ["rte"]
    assert not (tmp_path / "final").exists() and "control" not in results["stages"]
    assert results["gain"]["per_seed"] == {"0": 0.0, "1": 0.0}
    assert results["ratios"] == {"rte": 1.0}


def test_baseline_from_reuses_an_identical_baseline_and_refuses_a_different_one(tmp_path, make_experiment,
                                                                                   monkeypatch):
    import auxlearn.pipeline as pipeline

    first = run_pipeline(experiment(make_experiment, select={"method": "none"}, mix={"method": "uniform"},
                                    seeds=[0, 1]), tmp_path / "first")
    trained = []
    per_seed = pipeline._per_seed
    monkeypatch.setattr(pipeline, "_per_seed", lambda exp, prepared, folder, *a, **k: trained.append(folder.name)
                        or per_seed(exp, prepared, folder, *a, **k))
    # Another selector and other caps on the candidates: the primary's baseline is the same.
    exp = experiment(make_experiment, select={"method": "all"}, mix={"method": "uniform"}, seeds=[0, 1],
                     data={"max_train_examples": {"rte": 64, "mrpc": 40}})
    second = run_pipeline(exp, tmp_path / "second", baseline_from=tmp_path / "first")
    assert trained == ["final", "control"]  # the final trains longer than the baseline (equal_primary)
    baseline = second["stages"]["baseline"]
    assert baseline["eval"] == first["stages"]["baseline"]["eval"]
    assert baseline["reused_from"] == str((tmp_path / "first").resolve()) and second["seconds"]["baseline"] == 0
    for seed in (0, 1):  # the curves travel with it, the models do not
        assert metrics(tmp_path / "second" / "baseline" / f"seed_{seed}") == metrics(
            tmp_path / "first" / "baseline" / f"seed_{seed}")
    assert not (tmp_path / "second" / "baseline" / "seed_0" / "model").exists()

    other = experiment(make_experiment, select={"method": "all"}, mix={"method": "uniform"}, seeds=[0, 2],
                       train={"lr": 1e-4})
    with pytest.raises(AuxlearnError, match=r"trained differently \(seeds: \[0, 1\] there, \[0, 2\] here; train: "):
        run_pipeline(other, tmp_path / "third", baseline_from=tmp_path / "first")
    with pytest.raises(AuxlearnError, match="nothere/results.json not found"):
        run_pipeline(exp, tmp_path / "fourth", baseline_from=tmp_path / "nothere")


def test_all_keeps_every_candidate_and_integer_fixed_ratios_use_round_robin(tmp_path, make_experiment):
    exp = experiment(make_experiment, select={"method": "all"},
                     mix={"method": "fixed", "ratios": {"rte": 2, "mrpc": 1, "stsb": 0}},
                     transfer={"protocol": "joint"})
    results = run_pipeline(exp, tmp_path)
    assert results["selected"] == CANDIDATES
    assert read(tmp_path / "select" / "selection.json")["selected"] == CANDIDATES
    mixture = read(tmp_path / "mix" / "mixture.json")
    assert mixture["sampler"] == {"name": "round_robin", "ratios": {"rte": 2, "mrpc": 1}}
    assert mixture["ratios"] == {"rte": 2.0, "mrpc": 1.0, "stsb": 0.0}
    final = read(tmp_path / "final" / "seed_0" / "results.json")
    assert final["tasks"] == ["rte", "mrpc"]  # a ratio of 0 drops the task
    assert final["sampler"] == {"name": "round_robin", "ratios": {"rte": 2, "mrpc": 1}}
    batches = [r["batches"] for r in metrics(tmp_path / "final" / "seed_0")]
    # equal_primary: rte keeps its 10 batches, mrpc adds 5; evaluations every 5 of rte's batches, as in the
    # baseline: every 7 steps at 2 in 3.
    assert (final["steps"], final["primary_steps"]) == (15, 10)
    assert batches[0] == {"rte": 5, "mrpc": 2}  # the first 7 steps: rte rte mrpc rte rte mrpc rte
    fractional = build_mixer("fixed", {"ratios": {"rte": 0.7, "mrpc": 0.3}}).mix(None, ["rte", "mrpc"])
    assert fractional.sampler == {"name": "fixed", "ratios": {"rte": 0.7, "mrpc": 0.3}}  # sampled, not cycled


def test_cli_select_then_mix_reuses_the_selection_and_resumes_the_study(tmp_path, tiny_model_dir, train_calls,
                                                                        capsys):
    config = write_yaml(tmp_path / "exp.yaml", experiment_dict(
        tiny_model_dir, auxiliary=CANDIDATES, select={**AUTOSEM, "top_k": 1},
        mix={"method": "gp-bo", "n_trials": 2, "n_startup_trials": 1, "steps": 4}))
    run = tmp_path / "run"
    assert cli.main(["select", str(config), "--out", str(run)]) == 0
    selected = read(run / "select" / "selection.json")["selected"]
    assert len(selected) == 1 and selected[0] in CANDIDATES
    assert train_calls == ["bandit"]

    assert cli.main(["mix", str(config), "--out", str(run)]) == 0
    mixture = read(run / "mix" / "mixture.json")
    assert list(mixture["ratios"]) == ["rte", *selected]  # the run folder's selection, not the config's list
    trials = [name for name in train_calls[1:]]
    assert len(trials) == 2 and all(name.startswith("trial_") for name in trials)
    assert "ratios (gp-bo)" in capsys.readouterr().out

    # The SQLite study in the run folder already holds n_trials scored trials: nothing more is trained.
    assert cli.main(["mix", str(config), "--out", str(run)]) == 0
    assert train_calls[3:] == []
    again = read(run / "mix" / "mixture.json")
    assert again["details"]["trials"] == mixture["details"]["trials"] and again["ratios"] == mixture["ratios"]


@pytest.mark.parametrize("command, section, expected", [
    ("select", {"select": {"method": "xyz"}}, "select: unknown method 'xyz'"),
    ("select", {"select": {"method": "autosem", "xyz": 1}}, "select.xyz: unknown option of 'autosem'"),
    ("mix", {"mix": {"method": "xyz"}}, "mix: unknown method 'xyz'"),
    ("mix", {"mix": {"method": "gp-bo", "xyz": 1}}, "mix.xyz: unknown option of 'gp-bo'"),
    ("run", {"mix": {"method": "gp-bo", "xyz": 1}}, "mix.xyz: unknown option of 'gp-bo'"),
    ("run", {"select": {"method": "autosem", "threshold": None}}, "select.threshold: threshold null"),
    ("run", {"select": {"method": "exhaustive", "top_k": -1}}, "select.top_k: Input should be greater than or equal"),
    ("run", {"train": {"sampler": {"name": "round_robin", "ratios": {"rte": 1.5}}}},
     "train.sampler.ratios.rte: Input should be a valid integer"),
])
def test_unknown_method_or_option_exits_2_with_the_key_path(command, section, expected, tmp_path, tiny_model_dir,
                                                            train_calls, capsys):
    config = write_yaml(tmp_path / "exp.yaml", experiment_dict(tiny_model_dir, auxiliary=CANDIDATES, **section))
    assert cli.main([command, str(config), "--out", str(tmp_path / "run")]) == 2
    assert expected in capsys.readouterr().err
    assert train_calls == []
    assert not (tmp_path / "run" / "baseline").exists()  # `run` fails before training anything
