"""GradTS (Ma et al., EMNLP 2021): auxiliary-task and instance selection from attention-head importance.

``head_importance`` gives a task's ``[L, H]`` head-importance matrix and every example's own matrix;
``rank_candidates`` / ``instance_taus`` correlate them with the primary task's (Kendall tau-b);
``gradts_trial`` picks the auxiliary set by greedy trials; ``filter_instances`` is GradTS-fg.
"""

from .correlation import instance_taus, kendall_tau, rank_candidates
from .head_mask import AttentionSite, HeadMask, attention_sites, head_mask, head_shape
from .importance import (
    HeadImportance,
    LossFn,
    head_importance,
    minmax,
    normalize_layers,
    per_example_head_gradients,
)
from .instances import filter_instances
from .reference import per_example_reference_statistic, reference_importance
from .trial import TrialResult, gradts_trial

__all__ = [
    "AttentionSite",
    "HeadImportance",
    "HeadMask",
    "LossFn",
    "TrialResult",
    "attention_sites",
    "filter_instances",
    "gradts_trial",
    "head_importance",
    "head_mask",
    "head_shape",
    "instance_taus",
    "kendall_tau",
    "minmax",
    "normalize_layers",
    "per_example_head_gradients",
    "per_example_reference_statistic",
    "rank_candidates",
    "reference_importance",
]
