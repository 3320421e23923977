"""The generated tables of the "Measured results" pages, by marker name; ``docs/gen_results.py`` is the hook.

One module per results page (``overview`` is results/index.md) keeps each page's wording together; ``common`` holds
what they share. See the hook's docstring for how markers, warnings and ``--strict`` fit together.
"""

from __future__ import annotations

from typing import Callable

from . import aang, atlas, fewshot, overview, run_defaults, selector_eval, speed, transfer
from .common import MissingResults, log

TABLES: dict[str, Callable[[], str]] = {
    "demo": overview.demo, "precision": overview.precision, "training-speed": speed.training_speed,
    "speed": speed.speed, "step-profile": speed.step_profile, "vs-transformers": speed.vs_transformers,
    "memory": overview.memory, "weighting-costs": overview.weighting_costs, "stage-costs": overview.stage_costs,
    "robustness": overview.robustness, "workers": overview.workers, "rte-recipes": overview.rte_recipes,
    "rte-probe": overview.rte_probe, "transfer-arms": transfer.transfer_arms,
    "transfer-pairs": transfer.transfer_pairs, "selection-compare": transfer.selection_compare, "aang": aang.aang,
    "aang-weights": aang.aang_weights, "fewshot-scores": fewshot.fewshot_scores,
    "fewshot-gains": fewshot.fewshot_gains, "fewshot-per-target": fewshot.fewshot_per_target,
    "fewshot-tuned-lora": fewshot.fewshot_tuned_lora, "fewshot-tuned-gains": fewshot.fewshot_tuned_gains,
    "fewshot-tuned-per-target": fewshot.fewshot_tuned_per_target, "fewshot-pretrain": fewshot.fewshot_pretrain,
    "atlas-progress": atlas.atlas_progress, "atlas-gains": atlas.atlas_gains,
    "atlas-control-gains": atlas.atlas_control_gains,
    "atlas-other-protocol": atlas.atlas_other_protocol, "atlas-protocols": atlas.atlas_protocol_summary,
    "selectors": selector_eval.selectors,
    "run-defaults": run_defaults.run_defaults,
}


def render(key: str, where: str = "") -> str:
    """One table's Markdown; a warning (which fails ``--strict``) and a placeholder when it cannot be built."""
    build = TABLES.get(key)
    if build is None:
        log.warning("%s: no generated table is named %r (docs/gen_results.py knows: %s)", where, key,
                    ", ".join(TABLES))
        return f"*(no table named {key})*"
    try:
        return build()
    except MissingResults as error:
        log.warning("%s: table %r: %s", where, key, error)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as error:
        log.warning("%s: table %r: its JSON lacks what it reads (%s: %s)", where, key, type(error).__name__, error)
    return f"*(table {key} unavailable)*"
