"""The report's content from hand-made results.json: the paired t-analysis, the verdict and its words, the
arms, older files, and a method's own explanation (test_report.py renders a real run in Chromium)."""

from __future__ import annotations

import pytest


def expected_headline(results: dict) -> dict[str, list[str]]:
    """The headline rows the report must show, by label, formatted independently from results.json (4 decimals)."""
    rows = {}
    for stage in ("baseline", "control", "final"):
        if stage in results["stages"]:
            s = results["stages"][stage]
            rows[stage] = ([f"{s['eval'][str(seed)]:.4f}" for seed in results["seeds"]]
                           + [f"{s['mean']:.4f} ± {s['std']:.4f}"])
    for key, reference in (("gain", "baseline"), ("control_gain", "control")):
        if key in results:
            gain = results[key]
            rows[f"gain: final − {reference}"] = ([f"{gain['per_seed'][str(seed)]:+.4f}" for seed in results["seeds"]]
                                                 + [f"{gain['mean']:+.4f} ± {gain['std']:.4f}"])
    return rows


def _hand_t(diffs: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The paired t-interval and two-sided p-value of the mean of ``diffs``, from the t distribution itself."""
    from scipy.stats import t

    n = len(diffs)
    mean = sum(diffs) / n
    se = (sum((d - mean) ** 2 for d in diffs) / (n - 1)) ** 0.5 / n ** 0.5
    q = t.ppf(0.5 + confidence / 2, n - 1)
    return mean - q * se, mean + q * se, 2 * t.sf(abs(mean / se), n - 1)


BASE5 = {"0": 0.60, "1": 0.70, "2": 0.50, "3": 0.65, "4": 0.55}  # seed-to-seed spread far above the gains


def _shifted(base: dict[str, float], diffs) -> dict[str, float]:
    return {s: v + d for (s, v), d in zip(base.items(), diffs)}


def test_paired_t_interval_p_value_median_and_share_by_hand():
    from auxlearn.stats import paired_t

    diffs = [0.01, 0.02, 0.06, -0.01, 0.03]
    gain = paired_t(BASE5, _shifted(BASE5, diffs))
    low, high, p = _hand_t(diffs)
    assert gain.n == 5 and gain.confidence == 0.95
    assert gain.per_seed == pytest.approx(dict(zip(BASE5, diffs)))
    assert gain.mean == pytest.approx(sum(diffs) / 5)
    assert gain.median == pytest.approx(sorted(diffs)[2]) and gain.median != pytest.approx(gain.mean)
    assert (gain.low, gain.high) == (pytest.approx(low), pytest.approx(high))
    assert gain.p_value == pytest.approx(p)
    assert gain.improved == pytest.approx(4 / 5)
    # The metric's better direction decides what counts as improved (e.g. a loss, lower is better).
    assert paired_t(BASE5, _shifted(BASE5, diffs), higher_is_better=False).improved == pytest.approx(1 / 5)
    # Paired, not two independent samples: the baseline's 0.5-0.7 spread does not widen the interval.
    assert high - low < 0.1
    # Seeds that only one arm has are left out.
    assert paired_t({**BASE5, "9": 0.1}, _shifted(BASE5, diffs)).n == 5


def test_verdict_needs_an_interval_that_excludes_zero():
    from auxlearn.stats import FIRM_SEEDS, paired_t, verdict_word

    clear = paired_t(BASE5, _shifted(BASE5, [0.02, 0.03, 0.01, 0.02, 0.025]))
    assert clear.low > 0
    assert verdict_word(clear) == "helped" and verdict_word(clear, higher_is_better=False) == "hurt"
    # Five seeds whose interval covers zero: no verdict, even though the mean is positive.
    noisy = paired_t(BASE5, _shifted(BASE5, [0.01, 0.02, 0.06, -0.01, 0.03]))
    assert noisy.low < 0 < noisy.high and noisy.mean > 0 and noisy.n >= FIRM_SEEDS
    assert verdict_word(noisy) == "made no clear difference"
    # Fewer than five seeds and an interval over zero: tentative, by the sign of the mean.
    four = {s: BASE5[s] for s in "0123"}
    few = paired_t(four, _shifted(four, [0.01, 0.02, 0.06, -0.01]))
    assert few.low < 0 < few.high and few.n < FIRM_SEEDS
    assert verdict_word(few) == "seemed to help" and verdict_word(few, higher_is_better=False) == "seemed to hurt"
    # Two seeds that both lost: the t quantile with one degree of freedom (12.7) keeps the interval over zero.
    two = paired_t({"0": 0.56, "1": 0.53}, {"0": 0.53, "1": 0.52})
    assert two.low < 0 < two.high and two.improved == 0
    assert verdict_word(two) == "seemed to hurt"
    single = paired_t({"0": 0.5}, {"0": 0.6})
    assert single.low is None and single.high is None and single.p_value is None
    assert verdict_word(single) == "seemed to help"
    # Every seed gained the same (exact binary fractions): the interval is that point, the t statistic undefined.
    same = paired_t({"0": 0.5, "1": 0.25, "2": 0.75}, {"0": 0.625, "1": 0.375, "2": 0.875})
    assert same.low == same.high == 0.125 and same.p_value is None and same.std == 0
    equal = paired_t(BASE5, dict(BASE5))
    assert equal.low == equal.high == 0 and equal.p_value is None and equal.improved == 0
    assert verdict_word(equal) == "made no clear difference"
    assert verdict_word(paired_t({}, {})) == "made no clear difference"


def _arm(primary: str, scores: dict[str, float], tasks: list[str], steps: int, primary_steps: int,
         degenerate: tuple[str, ...] = ()) -> dict:
    """One arm of results.json as `auxlearn run` writes it."""
    values = list(scores.values())
    mean = sum(values) / len(values)
    runs = {s: {"best_step": steps // 2, "steps": steps, "primary_steps": primary_steps, "seconds": 10.0,
                "eval": {"accuracy": v, "main": v}, "degenerate": s in degenerate} for s, v in scores.items()}
    return {"tasks": [primary, *tasks], "eval": dict(scores), "dev": dict(scores), "mean": mean,
            "std": (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5, "runs": runs,
            "seconds": 10.0 * len(scores)}


def _results(baseline: dict[str, float], final: dict[str, float], control=None, selected=("mrpc",), **final_keys):
    """A results.json of a run on rte: 100 baseline steps, the final model 100 primary steps of 150."""
    stages = {"baseline": _arm("rte", baseline, [], 100, 100),
              "select": {"method": "autosem", "selected": list(selected), "scores": {"mrpc": 0.8, "cola": 0.3}},
              "final": {**_arm("rte", final, list(selected), 150, 100), "protocol": "joint", "budget": "equal_primary",
                        "protocol_rule": "auto chose joint: the primary has more training examples than mrpc.",
                        **final_keys}}
    results = {"primary": "rte", "metric": "accuracy", "seeds": [int(s) for s in baseline], "stages": stages,
               "selected": list(selected), "ratios": {"rte": 1.0}}
    if control is not None:
        stages["control"] = _arm("rte", control, [], 150, 150)
    for key, reference in (("gain", baseline), ("control_gain", control)):
        if reference is not None:
            per_seed = {s: final[s] - reference[s] for s in final}
            values = list(per_seed.values())
            mean = sum(values) / len(values)
            results[key] = {"per_seed": per_seed, "mean": mean,
                            "std": (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5}
    return results


def _report(tmp_path, results):
    from auxlearn.report.content import build_report
    from auxlearn.report_kit.run_data import RunData

    return build_report(RunData(tmp_path / "run", results))


def _context(report) -> str:
    """The headline section's paragraph after the tables: protocol, budget, selection, mixing, cost."""
    from auxlearn.report_kit.blocks import Paragraph

    return [b for b in report.sections[0].blocks if isinstance(b, Paragraph)][1].text


def _table(report, table_id: str) -> dict[str, list[str]]:
    from auxlearn.report_kit.blocks import Table

    table = next(b for b in report.sections[0].blocks if isinstance(b, Table) and b.id == table_id)
    return {row[0]: dict(zip(table.headers, row)) for row in table.rows}


def test_report_shows_the_t_analysis_of_both_gains(tmp_path):
    from auxlearn.report_kit.blocks import fmt_gain
    from auxlearn.stats import paired_t

    final = _shifted(BASE5, [0.05, 0.06, 0.04, 0.05, 0.055])
    control = _shifted(BASE5, [0.01, 0.0, 0.02, 0.01, 0.015])
    results = _results(BASE5, final, control)
    report = _report(tmp_path, results)
    rows = _table(report, "headline")
    assert list(rows) == ["baseline", "control", "final", "gain: final − baseline", "gain: final − control"]
    for label, expected in expected_headline(results).items():
        cells = list(rows[label].values())
        assert cells[2:8] == expected, label
    for reference, scores in (("baseline", BASE5), ("control", control)):
        gain, row = paired_t(scores, final), rows[f"gain: final − {reference}"]
        assert row["95 % t-interval"] == f"{fmt_gain(gain.low)} to {fmt_gain(gain.high)}"
        assert row["median"] == fmt_gain(gain.median) and row["seeds improved"] == "5 of 5"
        assert report.gains[reference].p_value == pytest.approx(gain.p_value) and row["p-value"] != "–"
    assert report.verdict.startswith("The auxiliary tasks helped")
    assert report.sections[0].blocks[0].lead == "Did the auxiliary tasks help? Yes."
    # Protocol, its rule and the budget are said; each arm's budget is in the arms table.
    context = _context(report)
    assert "joint protocol" in context and "auto chose joint" in context and "Budget equal_primary" in context
    arms = _table(report, "arms")
    assert [arms[a]["primary steps"] for a in ("baseline", "control", "final")] == ["100", "150", "100"]
    assert [arms[a]["total steps"] for a in ("baseline", "control", "final")] == ["100", "150", "150"]
    assert "degenerate runs" not in arms["final"]


def test_the_headline_figure_comes_first_and_its_caption_says_the_gains(tmp_path):
    from auxlearn.report_kit.blocks import Figure, fmt_gain
    from auxlearn.stats import paired_t

    final = _shifted(BASE5, [0.05, 0.06, 0.04, 0.05, 0.055])
    control = _shifted(BASE5, [0.01, 0.0, 0.02, 0.01, 0.015])
    figure = _report(tmp_path, _results(BASE5, final, control)).sections[0].blocks[1]  # right after the verdict
    assert isinstance(figure, Figure) and figure.name == "headline" and figure.png.startswith(b"\x89PNG")
    for reference, scores in (("baseline", BASE5), ("control", control)):
        gain = paired_t(scores, final)
        assert (f"final − {reference} {fmt_gain(gain.mean)} (95 % t-interval {fmt_gain(gain.low)} to "
                f"{fmt_gain(gain.high)})") in figure.caption
    one = _results({"0": 0.5, "1": 0.5}, {"0": 0.6, "1": 0.7})
    for arm in ("baseline", "final"):  # a run of one seed: its point and gain, no interval
        one["stages"][arm]["eval"].pop("1")
    one["seeds"] = [0]
    figure = _report(tmp_path, one).sections[0].blocks[1]
    assert figure.png.startswith(b"\x89PNG") and "final − baseline +0.1000 (one seed: no interval)" in figure.caption


def test_a_gain_the_control_explains_is_no_yes(tmp_path):
    from auxlearn.report.verdict import LONGER_TRAINING
    from auxlearn.report_kit.run_data import RunData
    from auxlearn.stats import paired_t, verdict_word
    from auxlearn.report.study import runs_table

    final = _shifted(BASE5, [0.05, 0.06, 0.04, 0.05, 0.055])
    control = _shifted(BASE5, [0.05, 0.07, 0.03, 0.06, 0.05])  # the primary alone, trained as long, does as well
    assert verdict_word(paired_t(BASE5, final)) == "helped"
    assert verdict_word(paired_t(control, final)) == "made no clear difference"
    report = _report(tmp_path, _results(BASE5, final, control))
    lead = report.sections[0].blocks[0].lead
    assert "Yes" not in lead and "longer training" in lead
    assert "explained by longer training" in report.verdict
    # Without the control the same scores are a firm yes.
    assert _report(tmp_path, _results(BASE5, final)).sections[0].blocks[0].lead.endswith("Yes.")
    # A firm gain over the baseline but only a tentative one over the control (four seeds) is tentative.
    four = {s: BASE5[s] for s in "0123"}
    tentative = _report(tmp_path, _results(four, _shifted(four, [0.05, 0.06, 0.04, 0.05]),
                                           _shifted(four, [0.06, 0.03, 0.0, 0.04])))
    assert tentative.gains["baseline"].low > 0 and tentative.gains["control"].low < 0 < tentative.gains["control"].mean
    assert tentative.sections[0].blocks[0].lead.startswith("Did the auxiliary tasks help? Perhaps (4 seeds")
    # The study of several runs speaks the same verdict.
    runs = [RunData(tmp_path / "study" / "a", _results(BASE5, final, control)),
            RunData(tmp_path / "study" / "b", _results(BASE5, final))]
    table = runs_table(runs, tmp_path / "study")
    verdicts = [dict(zip(table.headers, row))["verdict"] for row in table.rows]
    assert verdicts == [LONGER_TRAINING, "helped"]


def test_report_counts_degenerate_runs(tmp_path):
    final = _shifted(BASE5, [0.05, 0.06, 0.04, 0.05, 0.055])
    results = _results(BASE5, final)
    results["stages"]["baseline"] = _arm("rte", BASE5, [], 100, 100, degenerate=("1", "3"))
    report = _report(tmp_path, results)
    arms = _table(report, "arms")
    assert arms["baseline"]["degenerate runs"] == "2 of 5" and arms["final"]["degenerate runs"] == "0 of 5"
    assert ("Degenerate runs (one class predicted for every eval example): baseline 2 of 5, final 0 of 5."
            in report.verdict)


def test_empty_selection_makes_the_baseline_the_final_model(tmp_path):
    results = _results(BASE5, dict(BASE5), selected=(), same_as="baseline")
    report = _report(tmp_path, results)
    expected = "No candidate beat the primary alone on the selector's own evidence, so the final model is the baseline"
    assert report.sections[0].blocks[0].lead == f"Did the auxiliary tasks help? {expected}."
    assert report.verdict.startswith(expected) and "protocol" not in _context(report)
    assert _table(report, "headline")["final"]["auxiliary tasks"] == "none: the baseline itself"


def test_report_of_an_older_results_json(tmp_path):
    """Before control, runs' steps, protocol and same_as: the report still reads it, without those parts."""
    final = _shifted(BASE5, [0.01, 0.02, 0.06, -0.01, 0.03])
    results = _results(BASE5, final)
    for stage in ("baseline", "final"):
        for key in ("runs", "protocol", "protocol_rule", "budget"):
            results["stages"][stage].pop(key, None)
    report = _report(tmp_path, results)
    assert list(_table(report, "headline")) == ["baseline", "final", "gain: final − baseline"]
    assert all(getattr(b, "id", "") != "arms" for b in report.sections[0].blocks)
    assert "protocol" not in _context(report) and "control" not in report.verdict
    assert report.verdict.startswith("The auxiliary tasks made no clear difference")
    retrained = _report(tmp_path, _results(BASE5, final, selected=()))
    assert retrained.sections[0].blocks[0].lead.endswith("None was selected.")
    assert retrained.verdict.startswith("No auxiliary task was selected")


def test_autosem_with_the_primary_threshold_is_explained_and_drawn(tmp_path):
    """The default AutoSeM rule (a utility above the primary arm's) has no number to draw as a line."""
    from auxlearn.report_kit.blocks import Figure
    from auxlearn.report.content import build_report
    from auxlearn.report_kit.run_data import RunData
    from auxlearn.train.samplers.thompson import ThompsonBanditSampler

    bandit = ThompsonBanditSampler(["rte", "mrpc", "cola"], {"rte": 10, "mrpc": 10, "cola": 10}, total_steps=40,
                                   options=ThompsonBanditSampler.Options(explore_rounds_per_arm=2))
    for step, score in enumerate([0.5, 0.52, 0.51, 0.55, 0.53, 0.56, 0.58, 0.57]):
        bandit.update(step, score)
    details = {**bandit.describe(), "primary_utility": bandit.utilities()["rte"], "rounds": 8, "round_steps": 5,
               "threshold": "primary", "top_k": None}
    selection = {"method": "autosem", "selected": ["mrpc"], "scores": {"mrpc": 0.7, "cola": 0.4}, "details": details}
    report = build_report(RunData(tmp_path / "run", _results({"0": 0.5, "1": 0.6}, {"0": 0.55, "1": 0.62}),
                                  selection=selection))
    text = " ".join(getattr(b, "text", "") for section in report.sections for b in section.blocks)
    assert "a utility above the primary arm's own" in text
    assert any(isinstance(b, Figure) and "bandit" in b.name for section in report.sections for b in section.blocks)
