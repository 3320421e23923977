"""The report of `auxlearn atlas`: which candidate auxiliary tasks help which primaries, read from atlas.json.

Heatmaps of every pair's mean gain over the primary alone and over its control (the primary alone as long as the
pair, which takes out what a pair gains by training an undertrained primary longer), the table behind them (both
gains with the paired 95 % t-intervals ``auxlearn atlas`` computed, atlas/summary.py) and the primaries alone. Gains are signed (positive helps, whatever the metric's direction) and shown in points: 0.01
of the metric is one point. atlas.json is read here (auxlearn.atlas.table reads only the gains a selector needs);
every key is read in ``load_atlas``, so a damaged file is a DamagedFileError naming the key.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from auxlearn.atlas.table import FORMAT
from auxlearn.errors import DamagedFileError
from auxlearn.io import read_json_mapping
from auxlearn.report_kit import plots
from auxlearn.report_kit.blocks import Code, Paragraph, Report, Section, Table, add_figure, fmt
from auxlearn.stats import CONFIDENCE, Comparison

MARK = "†"  # after a gain whose 95 % interval excludes zero (not "*": Markdown's emphasis)


@dataclass
class Arm:
    """A pair under one protocol: the seeds trained so far and its gains (None until a paired seed is scored)."""
    protocol: str
    n: int
    planned: int
    gain: Optional[Comparison]
    control: Optional[Comparison]


@dataclass
class Pair:
    arm: Arm  # under the atlas's transfer.protocol (auto's pick when auto)
    others: dict[str, Arm]  # the protocol auto did not pick, for a primary in both_protocols


@dataclass
class Primary:
    name: str
    metric: str
    alone: tuple[int, float, float]  # seeds, mean, std of the eval score
    train_examples: Any
    baseline_steps: Any
    pairs: dict[str, Pair]  # by candidate; the primary itself is no candidate


@dataclass
class AtlasData:
    name: str
    encoder: str
    primaries: list[Primary]
    candidates: list[str]
    progress: tuple[int, int, bool, float]  # cells done, cells planned, complete, hours of training
    settings: dict[str, Any]
    versions: dict[str, Any]


def load_atlas(path: Path) -> AtlasData:
    """Every part of atlas.json the report shows; anything not as summary.py writes it names its key."""
    doc = read_json_mapping(path, "format", "rows")
    if doc["format"] != FORMAT:
        raise DamagedFileError(f"{path}: key 'format' is {doc['format']!r}, not {FORMAT!r}; not the atlas.json of "
                               "`auxlearn atlas`")
    where = "rows"
    try:
        primaries = []
        for name, row in doc["rows"].items():
            where = f"rows.{name}"
            alone = row["alone"]
            pairs = {}
            for candidate, entry in row["pairs"].items():
                where = f"rows.{name}.pairs.{candidate}"
                others = {protocol: _arm(arm) for protocol, arm in (entry.get("protocols") or {}).items()}
                pairs[candidate] = Pair(_arm(entry), others)
            where = f"rows.{name}.alone"
            primaries.append(Primary(name, str(row.get("metric") or "–"),
                                     (int(alone["n"]), _number(alone.get("mean")), _number(alone.get("std"))),
                                     row.get("train_examples"), row.get("baseline_steps"), pairs))
        where = "candidates"
        candidates = list(dict.fromkeys([*(doc.get("candidates") or []), *(c for p in primaries for c in p.pairs)]))
        where = "cells_done, cells_planned, seconds"
        progress = (int(doc["cells_done"]), int(doc["cells_planned"]), bool(doc.get("complete")),
                    float((doc.get("seconds") or {}).get("total") or 0.0) / 3600)
        where = "settings"
        settings = dict(doc.get("settings") or {})
        where = "versions"
        return AtlasData(str(doc.get("name") or path.parent.name), str(doc.get("encoder") or "–"), primaries,
                         candidates, progress, settings, dict(doc.get("versions") or {}))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise DamagedFileError(f"{path}: key {where!r}: cannot read it ({type(error).__name__}: {error}); damaged, "
                               "or written by another version of auxlearn") from None


def _arm(entry: dict[str, Any]) -> Arm:
    n = int(entry["n"])
    return Arm(str(entry.get("protocol") or "–"), n, int(entry.get("seeds_planned") or n),
               _comparison(entry.get("gain")), _comparison(entry.get("control_gain")))


def _comparison(gain: Optional[dict[str, Any]]) -> Optional[Comparison]:
    if not gain:
        return None
    per_seed = {str(seed): float(value) for seed, value in (gain.get("per_seed") or {}).items()}
    nan = math.nan
    return Comparison(per_seed, float(gain["mean"]), _number(gain.get("median"), nan), _number(gain.get("std"), nan),
                      _number(gain.get("improved"), nan), _number(gain.get("low")), _number(gain.get("high")),
                      _number(gain.get("p_value")), CONFIDENCE)


def _number(value: Any, default: Optional[float] = None) -> Optional[float]:
    return default if value is None else float(value)


def points(value: Optional[float], decimals: int = 2) -> str:
    """A gain in points (0.01 of the metric is one point), signed; one that rounds to zero is +0.00, never -0.00."""
    return "–" if value is None or math.isnan(value) else f"{round(100 * value, decimals) + 0.0:+.{decimals}f}"


def gain_text(gain: Optional[Comparison]) -> str:
    """``+1.20 (+0.40 to +2.00) †``: mean, 95 % t-interval (from two paired seeds), the mark when it excludes 0."""
    if gain is None:
        return "–"
    interval = f" ({points(gain.low)} to {points(gain.high)})" if gain.low is not None and gain.high is not None else ""
    return points(gain.mean) + interval + (f" {MARK}" if gain.excludes_zero else "")


def side(gain: Comparison) -> str:
    """Where the 95 % interval lies: "above" or "below" zero, "across" it, or "none" (fewer than two seeds)."""
    if gain.low is None or gain.high is None:
        return "none"
    return "above" if gain.low > 0 else "below" if gain.high < 0 else "across"


def verdict(data: AtlasData) -> str:
    arms = [pair.arm for primary in data.primaries for pair in primary.pairs.values()]
    sides = Counter(side(arm.gain) for arm in arms if arm.gain is not None)
    untrained = sum(arm.gain is None for arm in arms)
    if untrained == len(arms):
        return f"No pair has a gain over the primary alone yet: none of the {len(arms)} pairs is trained."
    text = (f"Of {len(arms) - untrained} pairs with a gain over the primary alone, the 95 % t-interval lies above "
            f"zero for {sides['above']} (the candidate helps), below zero for {sides['below']} (it hurts) and "
            f"straddles zero for {sides['across']}")
    text += f"; {sides['none']} with one paired seed have no interval yet" if sides["none"] else ""
    text += f". Not trained yet: {untrained} of the {len(arms)} pairs." if untrained else "."
    return text + _protocols_text(data)


def _protocols_text(data: AtlasData) -> str:
    """For the pairs trained under both protocols: which had the higher mean gain, and was it auto's pick."""
    duels = [(primary.name, pair.arm, other) for primary in data.primaries for pair in primary.pairs.values()
             for protocol, other in pair.others.items()
             if protocol != pair.arm.protocol and pair.arm.gain is not None and other.gain is not None]
    if not duels:
        return ""
    better = Counter(arm.protocol if arm.gain.mean > other.gain.mean else other.protocol
                     if other.gain.mean > arm.gain.mean else "tie" for _, arm, other in duels)
    counts = " and ".join(f"{protocol} for {k}" for protocol, k in sorted(better.items()) if protocol != "tie")
    ties = f" (tied for {better['tie']})" if better["tie"] else ""
    picked = sum(arm.gain.mean > other.gain.mean for _, arm, other in duels)
    return (f" Of the {len(duels)} pairs trained under both protocols ({', '.join(sorted({d[0] for d in duels}))}), "
            f"the higher mean gain came with {counts or 'neither'}{ties}: auto's pick was the better one for "
            f"{picked} of {len(duels)}.")


def progress_text(data: AtlasData) -> str:
    done, planned, complete, hours = data.progress
    state = "complete" if complete else "in progress: run auxlearn atlas again to go on"
    return (f"Encoder {data.encoder}; {done} of {planned} cells done ({state}), {hours:.2f} h of training. "
            f"{len(data.primaries)} primaries × {len(data.candidates)} candidates.")


def _seeds(arm: Arm) -> str:
    return str(arm.n) if arm.n >= arm.planned else f"{arm.n} of {arm.planned}"


def pairs_table(data: AtlasData) -> Table:
    rows = []
    for primary in data.primaries:
        for candidate, pair in primary.pairs.items():
            arm = pair.arm
            others = "; ".join(f"{protocol} {gain_text(other.gain) if other.n else 'not trained yet'} "
                               f"({_seeds(other)} seeds)" for protocol, other in pair.others.items())
            rows.append([primary.name, candidate, arm.protocol if arm.n else "–", _seeds(arm),
                         gain_text(arm.gain) if arm.n else "not trained yet", gain_text(arm.control), others or "–"])
    return Table(["primary", "candidate", "protocol", "seeds", "gain over alone, points (95 % t-interval)",
                  "gain over the control, points (95 % t-interval)", "other protocol: gain over alone"], rows,
                 id="atlas-pairs",
                 caption=f"Each pair's eval score minus the primary alone's (or the control's: the primary alone "
                         f"trained as long as the pair), paired by seed; + helps. {MARK}: the 95 % interval "
                         "excludes zero; a mean alone: one paired seed; – : no control (the pair trained no longer "
                         "than alone) or none scored yet.")


def alone_table(data: AtlasData) -> Table:
    rows = [[p.name, p.metric, f"{fmt(p.alone[1])} ± {fmt(p.alone[2])}" if p.alone[0] else "not trained yet",
             str(p.alone[0]), str(p.train_examples if p.train_examples is not None else "–"),
             str(p.baseline_steps if p.baseline_steps is not None else "–")] for p in data.primaries]
    return Table(["primary", "metric", "alone: eval (mean ± std)", "seeds", "train examples", "steps"], rows,
                 id="atlas-alone", caption="Each primary trained alone: its main metric on the eval split")


def heatmap(data: AtlasData, over: str = "alone") -> Optional[bytes]:
    """Primaries x candidates, mean gain in points over the primary ``alone`` or over the ``control``, RdBu centred
    on zero (blue helps); a box and ``MARK`` where the interval excludes zero, grey where there is no gain yet,
    hatched where no pair (the diagonal). None when there is nothing to draw."""
    columns = data.candidates
    if not data.primaries or not columns:
        return None
    gains = [{c: pair.arm.gain if over == "alone" else pair.arm.control for c, pair in primary.pairs.items()}
             for primary in data.primaries]
    if over == "control" and not any(g is not None for row in gains for g in row.values()):
        return None
    values = np.array([[100 * row[c].mean if row.get(c) is not None else np.nan for c in columns] for row in gains])
    finite = np.isfinite(values)
    span = float(np.abs(values[finite]).max()) if finite.any() else 0.0
    span = span or 1.0
    cmap = plots.matplotlib.colormaps["RdBu"].with_extremes(bad="#d9d9d9")
    fig, ax = plots.plt.subplots(figsize=(0.85 * len(columns) + 3.2, 0.5 * len(data.primaries) + 2.0))
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-span, vmax=span, aspect="auto")
    for i, row in enumerate(gains):
        for j, column in enumerate(columns):
            if column not in row:
                ax.add_patch(plots.plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white", edgecolor="#aaaaaa",
                                                 hatch="///", linewidth=0))
            elif row[column] is not None:
                excludes = row[column].excludes_zero
                ax.text(j, i, points(row[column].mean, 1) + (MARK if excludes else ""), ha="center", va="center",
                        fontsize=8, color="white" if abs(values[i, j]) > 0.6 * span else "black",
                        fontweight="bold" if excludes else "normal")
                if excludes:
                    ax.add_patch(plots.plt.Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False,
                                                     edgecolor="black", linewidth=2))
    ax.set_xticks(range(len(columns)), labels=columns, rotation=30, ha="right")
    ax.set_yticks(range(len(data.primaries)), labels=[p.name for p in data.primaries])
    ax.set_xlabel("candidate auxiliary task")
    ax.set_ylabel("primary task")
    ax.grid(False)
    what = "the primary alone" if over == "alone" else "the control (the primary alone as long as the pair)"
    ax.set_title(f"Mean gain over {what} (points)")
    fig.colorbar(image, ax=ax, label=f"gain over {over} (points; + helps)", shrink=0.9)
    return plots.png(fig)


def build_atlas_report(path: Path) -> Report:
    data = load_atlas(path)
    lead = verdict(data)
    top: list = [Paragraph(lead, "verdict", "Atlas."), Paragraph(progress_text(data))]
    add_figure(top, "atlas", heatmap(data), "Heatmap of the mean gain over the primary alone, primaries by candidates",
               f"Rows: primaries; columns: candidates. {MARK} and a box: the 95 % t-interval excludes zero; grey: not "
               "trained yet; hatched: no such pair (a primary is not its own candidate).")
    add_figure(top, "atlas_control", heatmap(data, "control"),
               "Heatmap of the mean gain over the control, primaries by candidates",
               "The same pairs against the primary alone trained as long as the pair, which takes out what a pair "
               "gains only by training an undertrained primary longer. Grey: no control scored yet, or none needed "
               "(the pair trained no longer than the primary alone: its gain is the one above).")
    top.append(pairs_table(data))
    versions = ", ".join(f"{k} {v}" for k, v in data.versions.items())
    settings = [Paragraph(f"Versions: {versions}.")] if versions else []
    sections = [Section("Gains: which candidates help which primaries", "atlas", top),
                Section("Primaries alone", "alone", [alone_table(data)]),
                Section("Settings", "config", [*settings, Code(yaml.safe_dump(data.settings, sort_keys=False))])]
    return Report(f"auxlearn atlas: {data.name}", lead, sections, gains={})
