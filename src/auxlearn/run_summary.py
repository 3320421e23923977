"""The closing table `auxlearn run` prints: the arms' eval scores, the gains, the selection, the ratios, the baseline's
convergence and the model the run hands over."""

from __future__ import annotations

from typing import Any


def summary_table(results: dict[str, Any]) -> str:
    """The closing table of `auxlearn run`: baseline, control and final, the gains, the selection with its scores,
    the ratios, the protocol."""
    stages = results["stages"]
    lines = [f"primary {results['primary']} ({results['metric']} on eval), seeds {results['seeds']}",
             f"  {'arm':<10}{'mean':>8}{'std':>8}{'steps':>8}   per seed"]
    for name in ("baseline", "control", "final"):
        if name not in stages:
            continue
        stage = stages[name]
        per_seed = ", ".join(f"{s}: {v:.4f}" for s, v in stage["eval"].items())
        steps = stage.get("planned_steps", "")
        lines.append(f"  {name:<10}{stage['mean']:>8.4f}{stage['std']:>8.4f}{steps:>8}   {per_seed}")
    for key, label in (("gain", "final - baseline"), ("control_gain", "final - control")):
        if key in results:
            lines.append(f"  {label:<18}{results[key]['mean']:>+8.4f} ± {results[key]['std']:.4f}")
    final = stages["final"]
    if final.get("same_as") == "baseline":
        lines.append("final: no candidate beat the primary alone, so the final model is the baseline")
    elif "protocol" in final:
        lines.append(f"protocol: {final['protocol']} ({final['protocol_rule']}); budget {final['budget']}")
    select = stages["select"]
    lines.append(f"selection ({select['method']}): " + (", ".join(select["selected"]) or "no auxiliary task"))
    for task, score in sorted(select["scores"].items(), key=lambda kv: -kv[1]):
        mark = "*" if task in select["selected"] else " "
        lines.append(f"  {mark} {task:<18}{score:>8.4f}")
    lines.append("ratios: " + ", ".join(f"{t} {r:g}" for t, r in results["ratios"].items()))
    lines.extend(_baseline_and_best(results))
    lines.append("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in results["seconds"].items()))
    return "\n".join(lines)


def _baseline_and_best(results: dict[str, Any]) -> list[str]:
    lines = []
    convergence = results["stages"]["baseline"].get("convergence") or {}
    if convergence.get("checked"):
        lines.append(f"baseline: {convergence['verdict']} at {convergence['steps']} steps"
                     + (f" (extended from {convergence['recipe_steps']}: the primary alone was still improving on dev)"
                        if convergence["extended"] else ""))
    best = results.get("best_model")
    if best:
        means = ", ".join(f"{arm} {mean:.4f}" for arm, mean in best["dev_means"].items())
        lines.append(f"best model on dev: {best['arm']} ({means}): {best['models'][0]} and the other seeds'")
    return lines
