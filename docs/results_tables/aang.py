"""The tables of results/aang.md: generated objectives (AANG) against the primary alone and TAPT, with and without
the LM heads' warm-up. ``bench/aang.py`` writes one section per primary under ``primaries``; a file written before
warm-up existed (citation intent alone, its runs at the top, kept under ``earlier`` once the bench runs again) reads
as that one primary."""

from __future__ import annotations

from typing import Any

from .common import interval, load, name, table


# -------------------------------------------------------------------------------------------------------- AANG


AANG_ARMS = {"alone": "primary alone (2S)", "tapt": "TAPT", "static": "`aang_static`", "aang": "`aang`"}
WARM = "_warm"
PRIMARY_NAMES = {"news": "AG News (500 headlines)"}  # the user task of examples/news_tasks.yaml


def _sections(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(primary, its runs and summary), from either layout of aang.json."""
    if "primaries" in doc:
        return list(doc["primaries"].items())
    return [("citation_intent", doc)]


def _arms(section: dict[str, Any]) -> list[str]:
    """The arms a section holds, in the bench's order: each method without, then with, warm-up."""
    order = [arm for base in AANG_ARMS for arm in (base, base + WARM)] + ["aang_untied"]
    return [arm for arm in order if arm in section["runs"]]


def _primary(task: str) -> str:
    return PRIMARY_NAMES.get(task, name(task))


def _label(arm: str) -> tuple[str, str]:
    """An arm's method and what its LM heads started from."""
    if arm == "aang_untied":
        return AANG_ARMS["aang"], "warmed, untied"
    base = arm.removesuffix(WARM)
    return AANG_ARMS[base], "–" if base == "alone" else "warmed" if arm.endswith(WARM) else "random"


def aang() -> str:
    rows = []
    for primary, section in _sections(load("aang")):
        for arm in _arms(section):
            runs, summary = section["runs"][arm], section["arms"][arm]
            gain = section["gains"].get(f"{arm} - alone")
            seconds = f"{summary['seconds']:,.0f}"
            if f"{arm}_time_vs_alone" in section:
                seconds += f" ({section[f'{arm}_time_vs_alone']:.1f}×)"
            rows.append([_primary(primary), *_label(arm), ", ".join(f"{runs[s]['eval']:.3f}" for s in sorted(runs)),
                         ", ".join(f"{runs[s]['dev']:.3f}" for s in sorted(runs)), seconds,
                         interval(gain) if gain else ""])
    return table(["primary", "arm", "LM heads", "macro-F1, eval (per seed)", "dev", "seconds per seed",
                  "vs alone (95 % interval)"], rows)


def _warm_up(run: dict[str, Any]) -> str:
    """The warm-up's mean loss over the objectives, from its first to its last tenth of steps."""
    fits = list(run.get("warm_up", {}).values())
    if not fits:
        return "–"
    start, end = (sum(f[k] for f in fits) / len(fits) for k in ("loss_start", "loss_end"))
    return f"{start:.2f} → {end:.2f} ({fits[0]['steps']} steps)"


def _meta_cost(cost: Any) -> str:
    if not cost:
        return "–"
    return (f"{cost['seconds_per_meta_step']:.2f} s vs {cost['seconds_per_plain_step']:.2f} s "
            f"({cost['meta_steps']} of {cost['meta_steps'] + cost['plain_steps']} steps)")


def aang_weights() -> str:
    rows = []
    for primary, section in _sections(load("aang")):
        for arm in [a for a in _arms(section) if a.startswith(("aang", "static"))]:
            for seed, run in sorted(section["runs"][arm].items()):
                top = "; ".join(f"`{objective.split('/', 1)[1]}` {weight:.3f}" for objective, weight in
                                run["top_objectives"][:3])
                meta = _meta_cost(run.get("meta_cost"))
                split = run["split"]
                method, heads = _label(arm)
                rows.append([_primary(primary), f"{method} ({heads} heads)", seed,
                             f"{split['primary']:.2f} / {split['auxiliary']:.2f}", top, _warm_up(run), meta])
    return table(["primary", "arm", "seed", "primary / auxiliary split", "heaviest objectives (weight)",
                  "head warm-up loss", "meta step vs plain step"], rows)
