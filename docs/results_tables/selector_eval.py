"""The table of results/selectors.md; selectors.json may be absent, so the page says it is pending."""

from __future__ import annotations

from .common import MissingResults, interval, load, name, signed, table


# --------------------------------------------------------------------------------------------------- selectors


def selectors() -> str:
    try:
        doc = load("selectors")
    except MissingResults:
        return ("!!! note \"Pending\"\n    The selector evaluation is pending: `bench/results/selectors.json` does "
                "not exist yet. `bench/selectors_vs_atlas.py` writes it once the atlas has complete rows (every pair "
                "of a primary at its initial seeds); the table then appears here.")
    atlas = doc["atlas"]
    scored = atlas["primaries_scored"]
    head = (f"Scored on {len(scored)} primaries ({', '.join(name(p) for p in scored)}), the atlas at "
            f"{atlas['cells_done']} of {atlas['cells_planned']} cells.")
    overview = _overview(doc["summary"])
    alone = doc.get("summary_vs_alone")
    names = sorted(doc["scores"])
    per_primary = []
    for primary in scored:
        cells = []
        for selector in names:
            s = doc["scores"][selector].get(primary)
            if s is None:  # a selector not run on this primary
                cells.append("–")
                continue
            kept = "expected" if selector == "random_k" else ", ".join(name(t) for t in s["selected"][:2]) or "none"
            cells.append(f"{kept} ({100 * s['regret']:.1f})")
        exhaustive = doc["scores"].get("exhaustive", {}).get(primary, {})
        top = (f"{name(exhaustive['best'])} ({signed(100 * exhaustive['best_gain'], 1)})"
               if "best" in exhaustive else "–")
        per_primary.append([name(primary), top, *cells])
    detail = table(["primary", "best candidate (gain)", *(f"`{n}`: kept (regret)" for n in names)], per_primary)
    parts = [head, "Against each pair's gain over its control (the primary alone for as many steps as the pair):",
             overview]
    if alone:
        parts += ["Against each pair's gain over the primary alone on its own recipe:", _overview(alone)]
    return "\n\n".join([*parts, "Per primary, against the gains over the control:", detail])


def _overview(summary: dict) -> str:
    best = summary.get("best")
    rows = []
    for selector, row in sorted(summary["selectors"].items(), key=lambda kv: kv[1]["regret_points"]):
        versus = row.get(f"regret_minus_{best}")
        compared = interval(versus, digits=1) if versus else "–"
        rho = row.get("spearman")
        rows.append([f"`{selector}`", f"{row['regret_points']:.2f}", row["harmful_picks"],
                     "–" if rho is None else signed(rho, 2), f"{row['baseline_runs']:.2f}", compared])
    return table(["selector", "mean regret@1, points", "harmful picks", "mean Spearman ρ",
                  "cost, baseline runs", f"regret − {best}'s, points (95 % CI over primaries)"], rows)
