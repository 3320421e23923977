"""Rules that turn per-task scores into a selection; the primary task is always part of it."""

from __future__ import annotations

from typing import Mapping


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Task names by score, best first; ties by name, so the order never depends on dict order."""
    return sorted(scores, key=lambda task: (-scores[task], task))


def select_by_utility(utilities: Mapping[str, float], primary: str, *, threshold: float | None = 0.5,
                      top_k: int | None = None) -> list[str]:
    """The primary, then the auxiliaries with utility >= ``threshold``, at most ``top_k`` of them, best first.

    The AutoSeM code leaves the choice to a human; the default 0.5 keeps a task when the bandit finds it more
    likely than not to leave the primary's score no worse. ``threshold=None`` keeps the top ``top_k`` whatever
    their utility. Ties are ordered by name, so the result never depends on dict order. The primary's own
    utility, if given, plays no part.
    """
    if threshold is None and top_k is None:
        raise ValueError("select_by_utility needs a threshold, a top_k, or both")
    if top_k is not None and top_k < 0:
        raise ValueError(f"top_k must be >= 0, got {top_k}")
    kept = [task for task in ranked(utilities) if task != primary]
    if threshold is not None:
        kept = [task for task in kept if utilities[task] >= threshold]
    return [primary, *kept[:top_k]]
