"""Every selector on every primary of the built-in atlas, scored against the atlas (leave one primary out).

For each atlas primary P, each selector chooses among P's candidates as `auxlearn select` would, on the atlas's
own settings for P (caps, steps, protocol, budget), reading only train and dev. Its choice is scored against P's
row of the atlas, whose gains were measured on P's official validation split:

* regret@1: the best candidate's gain minus the gain of the selector's first pick (an empty selection: 0 when no
  candidate's gain is above zero, else the best gain), in points;
* harmful picks: kept candidates whose atlas interval lies wholly below zero;
* Spearman's rho between the selector's scores and the atlas gains;
* cost: the selection's seconds, and as a multiple of one run of P alone.

Each is scored twice, against the two gains the atlas measures (``atlas/table.py``): over the control (P alone for
as many steps as the pair: does the candidate help beyond training longer, as `run`'s final model is judged; the
headline) and over P alone on its own recipe (which also credits the extra steps a pair gave an undertrained P).

Nothing a selector learns from the atlas includes P's row: the ``atlas`` selector always leaves the primary's own
row out. ``exhaustive`` is read off the atlas's cells rather than trained again: its trials are the atlas's pair
and alone cells of seeds 0-2 (the same settings), its evidence their dev scores, its cost their seconds.
``random_k`` is scored by its expectation over the draw (rho 0). The trained selectors (alignment, AutoSeM, GradTS in
its threshold and trial modes) run with ``--trained [NAME ...]``, each (primary, selector) resumable in
``bench/work/selectors``.

Run: AUXLEARN_DATA_DIR=../shared/data .venv/bin/python bench/selectors_vs_atlas.py [--trained [NAME ...]]
(Not bench/selectors.py: a script of that name in bench/ would shadow the standard library's selectors module
for every bench, which subprocess imports.)
Writes bench/results/selectors.json and bench/results/selectors.md (the docs' table).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from auxlearn.atlas.config import load_atlas
from auxlearn.atlas.scoring import score_selection
from auxlearn.atlas.table import Pair, read_atlas
from auxlearn.experiment import prepare
from auxlearn.io import read_json, write_json_atomic, write_text_atomic
from auxlearn.stats import paired_t
from auxlearn.select import build_selector
from auxlearn.select.exhaustive import kept_pairs
from auxlearn.stage import Stage

from machine import machine

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "atlas" / "minilm.yaml"
ATLAS = ROOT / "bench" / "results" / "atlas.json"
OUT = ROOT / "bench" / "results" / "selectors.json"
TABLE = ROOT / "bench" / "results" / "selectors.md"
WORK = ROOT / "bench" / "work" / "selectors"

FREE = {  # selectors that train nothing: name in the results -> (method, options)
    "similarity": ("similarity", {}),
    "atlas": ("atlas", {"atlas": str(ATLAS)}),
    "atlas_uniform": ("atlas", {"atlas": str(ATLAS), "weighting": "uniform"}),
    "atlas_from_alone_gains": ("atlas", {"atlas": str(ATLAS), "reference": "alone"}),
}
REFERENCES = ("control", "alone")  # the first is the headline
# Cheapest first. GradTS's threshold mode (GradTS-thres: tau >= 0.6 kept) measures the head importances only; its
# trial mode (the default) adds about 9 prefix trials a primary, some 7 of the 7.5 hours all four take on the atlas
# (the plans' estimates, on a 2-core Xeon with AMX while another job ran). Both rank by the same taus.
TRAINED = {"alignment": ("alignment", {}), "autosem": ("autosem", {}),
           "gradts_threshold": ("gradts", {"mode": "threshold"}), "gradts": ("gradts", {})}
EXHAUSTIVE_SEEDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trained", nargs="*", choices=list(TRAINED), default=None,
                        help=f"also run the selectors that train, these or (no name) all: {', '.join(TRAINED)}; "
                             "GradTS's trial mode takes hours")
    parser.add_argument("--preview", action="store_true",
                        help="score on rows with one seed per pair, into bench/work/ (a check of the bench on an "
                             "atlas still being computed; no claim)")
    args = parser.parse_args()
    out, table_md = (WORK / "preview.json", WORK / "preview.md") if args.preview else (OUT, TABLE)
    atlas, doc = load_atlas(CONFIG), read_json(ATLAS)
    tables = {reference: read_atlas(ATLAS, reference) for reference in REFERENCES}
    results = read_json(out) if out.is_file() else {}
    results.setdefault("selections", {})
    seeds = 1 if args.preview else doc["settings"]["seeds"]["initial"]
    complete = [p for p in atlas.config.primaries if _row_complete(doc, tables, p, seeds)]
    for primary in complete:
        exp = atlas.experiment(primary, atlas.candidates_of(primary), atlas.seed)
        prepared = prepare(exp)
        trained = {} if args.trained is None else {k: v for k, v in TRAINED.items() if k in (args.trained or TRAINED)}
        methods = {**FREE, **trained}
        for name, (method, options) in methods.items():
            key = f"{primary}/{name}"
            if key in results["selections"] and name in TRAINED:
                continue  # a trained selection is kept; the free ones are cheap to redo on a grown atlas
            started = time.perf_counter()
            selection = build_selector(method, options).select(Stage(exp, prepared, WORK / primary / name))
            results["selections"][key] = {"selected": selection.selected, "scores": selection.scores,
                                          "seconds": time.perf_counter() - started, "details": selection.details}
            write_json_atomic(out, results)
        results["selections"][f"{primary}/exhaustive"] = _exhaustive(doc, primary)
    results["scores"] = _score(doc, tables["control"], results["selections"], complete)
    results["summary"] = _summary(results["scores"])
    results["scores_vs_alone"] = _score(doc, tables["alone"], results["selections"], complete)
    results["summary_vs_alone"] = _summary(results["scores_vs_alone"])
    results["machine"] = machine()
    results["atlas"] = {"cells_done": doc["cells_done"], "cells_planned": doc["cells_planned"],
                        "complete": doc["complete"], "primaries_scored": complete}
    write_json_atomic(out, results)
    write_text_atomic(table_md, _markdown(results))
    print(_markdown(results))


def _row_complete(doc: dict, tables: dict, primary: str, seeds: int) -> bool:
    """Every pair of the row has a gain of ``seeds`` seeds over each reference (the initial seeds: a partial row would
    score a selector on noise)."""
    pairs = doc["rows"][primary]["pairs"]
    return bool(pairs) and all(
        len(table.pairs.get(primary, {})) == len(pairs) and all(p.n >= seeds for p in table.pairs[primary].values())
        for table in tables.values())


def _exhaustive(doc: dict, primary: str) -> dict[str, Any]:
    """Exhaustive selection as the selector runs it (paired dev gains over seeds 0-2, kept when the interval's
    lower end is above 0), from the atlas's own cells: the same trials."""
    runs = [r for r in doc["runs"] if r["cell"]["primary"] == primary and r["cell"]["protocol"] is None
            and r["cell"]["seed"] < EXHAUSTIVE_SEEDS and r["cell"]["kind"] in ("alone", "pair")]
    signed = {True: 1.0, False: -1.0}

    def dev(kind: str, candidate: str | None) -> dict[str, float]:
        return {str(r["cell"]["seed"]): signed[r["higher_is_better"]] * r["dev"] for r in runs
                if r["cell"]["kind"] == kind and r["cell"]["candidate"] == candidate}

    alone = dev("alone", None)
    tests = {c: paired_t(alone, dev("pair", c)) for c in doc["rows"][primary]["pairs"]}
    scores = {c: t.mean for c, t in tests.items()}
    kept = kept_pairs(tests, 0.0)
    return {"selected": kept, "scores": scores, "seconds": sum(r["seconds"] for r in runs),
            "details": {"from": "the atlas's cells of seeds 0-2 (dev scores)"}}


def _score(doc: dict, table, selections: dict, primaries: list[str]) -> dict[str, dict[str, Any]]:
    scores: dict[str, dict[str, Any]] = {}
    for primary in primaries:
        row = table.pairs[primary]
        baseline = doc["rows"][primary]["alone"]["seconds"]
        for key, selection in selections.items():
            if not key.startswith(primary + "/"):
                continue
            name = key.split("/", 1)[1]
            score = score_selection(row, selection["selected"], selection["scores"]).to_json()
            scores.setdefault(name, {})[primary] = {**score, "seconds": selection["seconds"],
                                                    "baseline_runs": selection["seconds"] / baseline,
                                                    "selected": selection["selected"]}
        scores.setdefault("random_k", {})[primary] = _expected_random(row)
    return scores


def _expected_random(row: dict[str, Pair]) -> dict[str, Any]:
    """One candidate drawn at random, in expectation over the draw."""
    best = max(p.gain for p in row.values())
    return {"regret": statistics.mean(best - p.gain for p in row.values()),
            "harmful_expected": sum(p.harmful for p in row.values()) / len(row), "spearman": 0.0,
            "seconds": 0.0, "baseline_runs": 0.0, "selected": [], "expected": True}


def _summary(scores: dict[str, dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for name, by_primary in scores.items():
        rhos = [s["spearman"] for s in by_primary.values() if s.get("spearman") is not None]
        summary[name] = {
            "primaries": len(by_primary),
            "regret_points": 100 * statistics.mean(s["regret"] for s in by_primary.values()),
            "harmful_picks": sum(len(s.get("harmful", [])) for s in by_primary.values()),
            "spearman": statistics.mean(rhos) if rhos else None,
            "baseline_runs": statistics.mean(s["baseline_runs"] for s in by_primary.values()),
        }
    best = min((n for n in summary if n != "random_k"), key=lambda n: summary[n]["regret_points"], default=None)
    if best:
        for other in summary:
            if other != best:
                common = [p for p in scores[best] if p in scores[other]]
                test = paired_t({p: 100 * scores[other][p]["regret"] for p in common},
                                {p: 100 * scores[best][p]["regret"] for p in common})
                summary[other][f"regret_minus_{best}"] = {"mean": -test.mean, "low": _neg(test.high),
                                                          "high": _neg(test.low), "n": test.n}
    return {"best": best, "selectors": summary}


def _neg(value):
    return None if value is None else -value


def _markdown(results: dict[str, Any]) -> str:
    lines = [f"Selectors scored against the atlas, leave one primary out ({len(results['atlas']['primaries_scored'])} "
             f"primaries: {', '.join(results['atlas']['primaries_scored'])}; atlas {results['atlas']['cells_done']} of "
             f"{results['atlas']['cells_planned']} cells).", "",
             "Against the gains over the control (the primary alone for as many steps as the pair):", "",
             *_summary_lines(results["summary"]), "",
             "Against the gains over the primary alone on its own recipe:", "",
             *_summary_lines(results["summary_vs_alone"]), "",
             "Per primary, over the control: each selector's first picks (regret@1, points):"]
    lines += ["", "| primary | best candidate (gain) | " + " | ".join(sorted(results["scores"])) + " |",
              "|---|---|" + "---|" * len(results["scores"])]
    for primary in results["atlas"]["primaries_scored"]:
        cells = []
        for name in sorted(results["scores"]):
            s = results["scores"][name].get(primary)
            picked = "any one (expected)" if s and s.get("expected") else ", ".join((s or {}).get("selected", [])[:2])
            cells.append("–" if s is None else (picked or "none") + f" ({100 * s['regret']:.1f})")
        scored = results["scores"]["exhaustive"][primary]
        lines.append(f"| {primary} | {scored['best']} ({100 * scored['best_gain']:+.1f}) | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = ["| selector | mean regret@1, points | harmful picks | mean Spearman ρ | cost, baseline runs | "
             f"regret − {summary['best']}'s, points (95 % CI over primaries) |",
             "|---|---|---|---|---|---|"]
    for name, row in sorted(summary["selectors"].items(), key=lambda kv: kv[1]["regret_points"]):
        rho = "–" if row["spearman"] is None else f"{row['spearman']:+.2f}"
        versus = row.get(f"regret_minus_{summary['best']}")
        interval = "–" if not versus else (f"{versus['mean']:+.1f}" + (
            f" ({versus['low']:+.1f} to {versus['high']:+.1f})" if versus["low"] is not None else ""))
        harmful = row["harmful_picks"]
        lines.append(f"| {name} | {row['regret_points']:.2f} | {harmful} | {rho} | {row['baseline_runs']:.2f} | "
                     f"{interval} |")
    return lines


if __name__ == "__main__":
    main()
