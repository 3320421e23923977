"""The table of `auxlearn run` with its defaults (``bench/run_defaults.py``); its JSON waits for the defaults that
the atlas chooses, so the page says it is pending until then."""

from __future__ import annotations

from .common import MissingResults, interval, load, name, table


def run_defaults() -> str:
    try:
        doc = load("run_defaults")
    except MissingResults:
        return ("!!! note \"Pending\"\n    `bench/run_defaults.py` has not run yet: it measures `auxlearn run` with the "
                "defaults, which are chosen from the selector evaluation once the atlas is complete.")
    rows = []
    for primary, run in doc["primaries"].items():
        seconds = run["stage_seconds"]
        estimate = run.get("estimate_error")
        rows.append([
            name(primary), ", ".join(name(t) for t in run["selected"]) or "none",
            f"`{run['select_method']}` / `{run['mix_method'] or '–'}`",
            interval(run["gain_vs_alone"], scale=100, digits=1),
            interval(run["gain_vs_control"], scale=100, digits=1) if run.get("gain_vs_control") else "–",
            f"{run['select_and_mix_vs_baseline']:.2f}×" if run.get("select_and_mix_vs_baseline") is not None else "–",
            f"{seconds['total'] / 60:.1f} min" + ("" if estimate is None else f" ({estimate:+.0%} off the plan)"),
            run["machine"]["cpu"]])
    return table(["primary", "selected", "select / mix", "final − alone, points (95% CI)",
                  "final − control, points (95% CI)", "select + mix ÷ baseline", "wall time", "machine"],
                 rows).replace("%", " %")
