"""The tables of results/transfer.md: where auxiliary tasks help, and what the selectors chose."""

from __future__ import annotations

import statistics

from .common import load, name, number, points, signed, span, table


# --------------------------------------------------------------------------------------------------- transfer


TRANSFER_ARMS = {  # an arm key of transfer.json (after "<candidate>:") -> its label
    "alone": "{P} alone",
    "joint_equal_total": "joint, equal total",
    "joint_equal_primary": "joint, equal primary",
    "sequential": "sequential ({C}, then {P})",
    "joint_then_finetune": "joint, then {P} alone",
}
# Seeds of transfer.json that ran on another machine (an AVX2-only CPU in fp32, 2-3x slower): left out of seconds.
TRANSFER_OTHER_MACHINE_SEEDS = {"3"}


def _transfer_label(arm: str, primary: str) -> str:
    if arm.startswith("control_"):
        return f"control: {name(primary)} alone, {arm.split('_')[1]} steps allowed"
    candidate, _, protocol = arm.rpartition(":")
    return TRANSFER_ARMS[protocol].format(P=name(primary), C=name(candidate))


def transfer_arms() -> str:
    doc = load("transfer")
    parts = []
    for primary, summary in doc["summary"].items():
        rows = []
        for arm, result in summary["arms"].items():
            if arm.startswith("pair:"):
                continue
            key = "alone" if arm == "alone" else arm
            cells = {seed: c for seed, c in ((k.rsplit("/", 1)[1], c) for k, c in doc["cells"].items()
                                              if k.rsplit("/", 1)[0] == f"{primary}/{key}")}
            seconds = [c["seconds"] for seed, c in cells.items() if seed not in TRANSFER_OTHER_MACHINE_SEEDS]
            rows.append([_transfer_label(arm, primary), f"{result['primary_steps']:.0f}", result["planned_steps"],
                         f"{result['mean']:.3f} ± {result['std']:.3f}",
                         points(result["vs_alone"], 2) if "vs_alone" in result else "–",
                         points(result["vs_control"], 2) if "vs_control" in result else "–",
                         f"{statistics.mean(seconds):.0f}"])
        parts.append(table([f"arm ({name(primary)}, {len(summary['arms']['alone']['eval'])} paired seeds)",
                            f"{name(primary)} batches", "steps allowed", "eval main metric, mean ± std",
                            "vs alone, points (95 % CI)", "vs the control as long", "seconds"], rows))
    return "\n\n".join(parts)


def transfer_pairs() -> str:
    doc = load("transfer")
    parts = []
    for primary, summary in doc["summary"].items():
        selectors = {k.split(":", 1)[1]: c for k, c in doc["cells"].items() if k.startswith(f"{primary}/selector:")}
        pairs = {arm.split(":", 1)[1]: r for arm, r in summary["arms"].items() if arm.startswith("pair:")}
        rows = []
        for candidate, result in sorted(pairs.items(), key=lambda kv: -kv[1]["vs_alone"]["mean"]):
            batches = [c["primary_steps"] for k, c in doc["cells"].items()
                       if k.rsplit("/", 1)[0] == f"{primary}/pair:{candidate}"]
            rows.append([name(candidate), points(result["vs_alone"]), span(batches),
                         *(f"{selectors[s]['scores'][candidate]:.3f}" if s in selectors else "–"
                           for s in ("autosem", "gradts"))])
        parts.append(table(["candidate", f"pair gain over {name(primary)} alone, points (95 % CI)",
                            f"{name(primary)} batches before early stopping", "AutoSeM utility",
                            "GradTS correlation"], rows))
        picks = []
        for selector, ranking in summary.get("selector_spearman", {}).items():
            cell = selectors.get(selector, {})
            picks.append([SELECTOR_NAMES.get(selector, selector),
                          ", ".join(name(t) for t in ranking["selected"]) or "none",
                          number(ranking["spearman"], 1),
                          f"{cell['seconds']:.0f}" if "seconds" in cell else "–"])
        if picks:
            parts.append(table(["selector (on dev)", "kept, best first", "Spearman ρ with the pair gains",
                                "seconds"], picks))
    return "\n\n".join(parts)


SELECTOR_NAMES = {"autosem": "AutoSeM", "gradts": "GradTS", "exhaustive": "exhaustive pairs"}


def selection_compare() -> str:
    doc = load("gradts_compare")
    rows = []
    for primary, methods in doc["results"].items():
        for method, result in methods.items():
            rho = result.get("spearman_vs_pair_gain")
            rows.append([name(primary), SELECTOR_NAMES.get(method, method),
                         ", ".join(name(t) for t in result["selected"]) or "none",
                         f"{result['select_seconds']:.0f}", signed(result["gain"]["mean"], 3),
                         "–" if rho is None else signed(rho, 2)])
    mean = ", ".join(f"{SELECTOR_NAMES.get(m, m)} {signed(g, 3)}" for m, g in doc["mean_gain"].items())
    return (table(["primary", "selector", "kept", "selection seconds",
                   f"eval gain, mean of seeds {doc['seeds'][0]}–{doc['seeds'][-1]}",
                   "Spearman ρ with the pair gains"], rows)
            + f"\n\nMean gain over the three primaries: {mean}.")
