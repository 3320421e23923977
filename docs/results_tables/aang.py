"""The tables of results/aang.md: generated objectives (AANG) against the primary alone and TAPT."""

from __future__ import annotations

from .common import interval, load, table


# -------------------------------------------------------------------------------------------------------- AANG


AANG_ARMS = {"alone": "primary alone (2S)", "tapt": "TAPT", "static": "`aang_static`", "aang": "`aang`"}


def aang() -> str:
    doc = load("aang")
    rows = []
    for arm, label in AANG_ARMS.items():
        runs, summary = doc["runs"][arm], doc["arms"][arm]
        gain = doc["gains"].get(f"{arm} - alone")
        seconds = f"{summary['seconds']:,.0f}"
        if arm == "aang":
            seconds += f" ({doc['aang_time_vs_alone']:.1f}×)"
        rows.append([label, ", ".join(f"{runs[s]['eval']:.3f}" for s in sorted(runs)),
                     ", ".join(f"{runs[s]['dev']:.3f}" for s in sorted(runs)), seconds,
                     interval(gain) if gain else ""])
    seeds = ", ".join(sorted(doc["runs"]["alone"]))
    return table(["arm", f"macro-F1, eval (seeds {seeds})", "dev", "seconds per seed",
                  "vs alone (95 % interval)"], rows)


def aang_weights() -> str:
    doc = load("aang")
    rows = []
    for arm in ("aang", "static"):
        for seed, run in sorted(doc["runs"][arm].items()):
            top = "; ".join(f"`{objective.split('/', 1)[1]}` {weight:.3f}" for objective, weight in
                            run["top_objectives"][:3])
            cost = run.get("meta_cost")
            meta = (f"{cost['seconds_per_meta_step']:.2f} s vs {cost['seconds_per_plain_step']:.2f} s "
                    f"({cost['meta_steps']} of {cost['meta_steps'] + cost['plain_steps']} steps)") if cost else "–"
            split = run["split"]
            rows.append([AANG_ARMS[arm], seed, f"{split['primary']:.2f} / {split['auxiliary']:.2f}", top, meta])
    return table(["arm", "seed", "primary / auxiliary split", "heaviest objectives (weight)",
                  "meta step vs plain step"], rows)
