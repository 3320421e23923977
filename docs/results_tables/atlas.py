"""The tables of results/atlas.md, read from atlas.json as it grows while the atlas is computed."""

from __future__ import annotations

from typing import Any, Optional

from .common import load, name, signed, table


# ------------------------------------------------------------------------------------------------------- atlas


def atlas_progress() -> str:
    doc = load("atlas")
    settings = doc["settings"]
    seeds = settings["seeds"]
    by_cpu = "; ".join(f"{cpu}: {s / 3600:.1f} h" for cpu, s in doc["seconds"]["by_cpu"].items())
    rows = [
        ["encoder", f"`{doc['encoder']}` ({doc['pooling']} pooling)"],
        ["primaries × candidates", f"{len(doc['primaries'])} × {len(doc['candidates'])}"],
        ["cells done", f"{doc['cells_done']} of {doc['cells_planned']} planned"
                       + (" (complete)" if doc["complete"] else " (being computed)")],
        ["seeds per pair", f"{seeds['initial']}, widened one at a time up to {seeds['max']} while the interval "
                           f"straddles zero and the mean gain is at least {seeds['widen_at']} from it"],
        ["both protocols for", ", ".join(name(p) for p in settings["both_protocols"]) or "none"],
        ["protocol, budget", f"`{settings['experiment']['transfer']['protocol']}`, "
                             f"`{settings['experiment']['transfer']['budget']}`"],
        ["training time so far", f"{doc['seconds']['total'] / 3600:.1f} h ({by_cpu})"],
    ]
    return table(["`bench/results/atlas.json`", "so far"], rows)


def _atlas_cell(pair: Optional[dict[str, Any]], key: str = "gain") -> str:
    """A pair's gain (``gain``: over the primary alone; ``control_gain``: over its control) and its seeds."""
    if pair is None:
        return ""
    gain = pair.get(key)
    if not gain or not pair.get("n"):
        return "·"
    text = f"{signed(100 * gain['mean'], 1)} ({gain.get('n', pair['n'])})"
    low, high = gain.get("low"), gain.get("high")
    if low is not None and high is not None and (low > 0 or high < 0):
        text = f"**{text}**"
    return text


def atlas_gains() -> str:
    doc = load("atlas")
    rows = []
    for primary in doc["primaries"]:
        row = doc["rows"][primary]
        alone = row["alone"]
        score = f"{alone['mean']:.3f} ({alone['n']})" if alone.get("n") else "·"
        metric = row.get("metric") or ""
        rows.append([name(primary), metric, score,
                     *(_atlas_cell(row["pairs"].get(c)) if c != primary else "" for c in doc["candidates"])])
    return table(["primary", "metric", "alone (seeds)", *(name(c) for c in doc["candidates"])], rows)


def atlas_control_gains() -> str:
    """Each pair's gain over its control: the primary alone for as many steps as the pair trained."""
    doc = load("atlas")
    rows = []
    for primary in doc["primaries"]:
        row = doc["rows"][primary]
        controls = [f"{c['mean']:.3f} ({c['n']}, {steps} steps)" for steps, c in row["controls"].items() if c.get("n")]
        rows.append([name(primary), ", ".join(controls) or "·",
                     *(_atlas_cell(row["pairs"].get(c), "control_gain") if c != primary else ""
                       for c in doc["candidates"])])
    return table(["primary", "control (seeds, steps)", *(name(c) for c in doc["candidates"])], rows)


def atlas_other_protocol() -> str:
    doc = load("atlas")
    rows = []
    for primary in doc["settings"]["both_protocols"]:
        for candidate, pair in doc["rows"][primary]["pairs"].items():
            for protocol, other in (pair.get("protocols") or {}).items():
                if other.get("n"):
                    rows.append([name(primary), name(candidate), protocol,
                                 _atlas_cell(other, "control_gain"), _atlas_cell(pair, "control_gain"),
                                 _atlas_cell(other), _atlas_cell(pair)])
    if not rows:
        return "No pair has been measured under its second protocol yet."
    return table(["primary", "candidate", "other protocol", "over the control: other protocol (seeds)",
                  "under `auto`", "over the primary alone: other protocol", "under `auto`"], rows)


def atlas_protocol_summary() -> str:
    """Per primary trained under both protocols: which one its pairs gained more under, over the control."""
    doc = load("atlas")
    rows = []
    for primary in doc["settings"]["both_protocols"]:
        gains: dict[str, dict[str, float]] = {}  # protocol -> candidate -> control gain
        for candidate, pair in doc["rows"][primary]["pairs"].items():
            arms = {pair.get("protocol"): pair, **{p: a for p, a in (pair.get("protocols") or {}).items()}}
            for protocol, arm in arms.items():
                if protocol and (arm.get("control_gain") or {}).get("mean") is not None:
                    gains.setdefault(protocol, {})[candidate] = 100 * arm["control_gain"]["mean"]
        if len(gains) < 2:
            continue
        common = sorted(set.intersection(*(set(g) for g in gains.values())))
        if not common:
            continue
        sequential, joint = gains.get("sequential", {}), gains.get("joint", {})
        better = sum(sequential[c] > joint[c] for c in common)
        mean = sum(sequential[c] - joint[c] for c in common) / len(common)
        best = {p: max(common, key=lambda c, g=g: g[c]) for p, g in (("joint", joint), ("sequential", sequential))}
        rows.append([name(primary), f"{better} of {len(common)}", signed(mean, 1),
                     *(f"{name(best[p])} {signed(g[best[p]], 1)}" for p, g in (("joint", joint),
                                                                              ("sequential", sequential)))])
    if not rows:
        return "No primary has its pairs measured under both protocols yet."
    return table(["primary", "pairs better sequential", "mean sequential − joint, points",
                  "best pair, joint", "best pair, sequential"], rows)
