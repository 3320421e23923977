"""Rules that turn per-task scores into a selection; the primary task is always part of it."""

from __future__ import annotations

from typing import Mapping, Union

PRIMARY = "primary"  # the threshold that means "strictly better than the primary's own score"


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Task names by score, best first; ties by name, so the order never depends on dict order."""
    return sorted(scores, key=lambda task: (-scores[task], task))


def select_by_utility(utilities: Mapping[str, float], primary: str, *,
                      threshold: Union[str, float, None] = PRIMARY, top_k: int | None = None) -> list[str]:
    """The primary, then the auxiliaries that pass ``threshold``, at most ``top_k`` of them, best first.

    ``threshold="primary"`` (the default) keeps an auxiliary only when its utility is STRICTLY greater than the
    primary's own (``utilities[primary]``, required): for the AutoSeM bandit the primary's arm is the evidence
    for training the primary alone, so an auxiliary that does not beat it is not kept, and the result is the
    primary alone when none does. A number keeps the auxiliaries with utility ``>= threshold`` (the AutoSeM code
    leaves that choice to a human; 0.5 reads "more likely than not to leave the primary's score no worse").
    ``threshold=None`` keeps the top ``top_k`` whatever their utility. Ties are ordered by name, so the result
    never depends on dict order.
    """
    if threshold is None and top_k is None:
        raise ValueError("select_by_utility needs a threshold, a top_k, or both")
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    kept = [task for task in ranked(utilities) if task != primary]
    if threshold == PRIMARY:
        if primary not in utilities:
            raise ValueError(f"threshold {PRIMARY!r} needs the primary's own utility; {primary!r} has none")
        kept = [task for task in kept if utilities[task] > utilities[primary]]
    elif isinstance(threshold, str):
        raise ValueError(f"threshold must be {PRIMARY!r}, a number or None, got {threshold!r}")
    elif threshold is not None:
        kept = [task for task in kept if utilities[task] >= threshold]
    return [primary, *kept[:top_k]]
