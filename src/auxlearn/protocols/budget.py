"""Step budgets: how many batches of the primary and of the auxiliaries an arm trains on.

With ``B`` the baseline's steps and ``s`` the primary's share of the mixture (its mean sampling probability):
``equal_primary`` gives the primary ``B`` batches and the auxiliaries ``B (1 - s) / s``, so auxiliary batches
never displace primary ones; ``equal_total`` gives ``B s`` and ``B (1 - s)``, the baseline's total.
"""

from __future__ import annotations

from auxlearn.protocols.base import Plan

BUDGETS = ("equal_primary", "equal_total")


def plan_budget(budget: str, baseline_steps: int, primary_share: float) -> Plan:
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    if not 0 < primary_share <= 1:
        raise ValueError(f"the primary's share of the mixture must be in (0, 1], got {primary_share}")
    if primary_share == 1:  # no auxiliary task
        return Plan(budget, baseline_steps, primary_share, baseline_steps, 0)
    if budget == "equal_primary":
        primary = baseline_steps
        auxiliary = max(1, round(baseline_steps * (1 - primary_share) / primary_share))
    elif baseline_steps < 2:
        raise ValueError("budget equal_total needs train.steps >= 2 to give the primary and its auxiliaries a batch each")
    else:  # at least one batch each, so that every phase of every protocol trains
        auxiliary = min(baseline_steps - 1, max(1, round(baseline_steps * (1 - primary_share))))
        primary = baseline_steps - auxiliary
    return Plan(budget, baseline_steps, primary_share, primary, auxiliary)
