"""What a person sees while a model trains: the progress bar and the tracked run's curves (``tracking.py``).

The bar names the phase (``joint``, ``auxiliary``, ``primary``: the protocol's labels), the step's task and loss,
and the primary's last dev score once there is one; before it, and through a phase that scores none, it shows
no score rather than a placeholder that reads as a missing value.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

from tqdm.auto import tqdm

from auxlearn.train.tracking import TrackedRun, scores_as_scalars


class Watch:
    """The bar over ``total`` steps (``initial`` done: a resumed run) and, with ``tracked``, the arm's run."""

    def __init__(self, *, total: int, initial: int, shown: bool, phase: str, primary: str,
                 tracked: Optional[TrackedRun]):
        self.bar = tqdm(total=total, initial=initial, disable=not shown, desc=phase, dynamic_ncols=True)
        self.primary, self.tracked = primary, tracked
        self.watched = shown or tracked is not None  # else ``step`` shows and logs nothing: no need to call it

    def step(self, step: int, losses: Mapping[str, float], dev: float, scalars: Mapping[str, float]) -> None:
        """After step ``step`` (1-based): ``losses``, the mean loss of each task it trained; ``dev``, the primary's
        last dev score (NaN: none yet); ``scalars``, what else the tracked run plots (the sampler's, ...)."""
        self.bar.update(1)
        postfix = {"task": "+".join(losses), "loss": f"{next(iter(losses.values())):.4f}"}
        if not math.isnan(dev):
            postfix[f"{self.primary} dev"] = f"{dev:.4f}"
        self.bar.set_postfix(postfix, refresh=False)
        if self.tracked is not None:
            self.tracked.log({**{f"loss/{task}": value for task, value in losses.items()}, **scalars}, step)

    def evaluation(self, step: int, dev: Mapping[str, Mapping[str, float]]) -> None:
        """A dev evaluation's scores, per task and metric, at step ``step``."""
        if self.tracked is not None and dev:
            self.tracked.log(scores_as_scalars("dev", dev), step)

    def close(self) -> None:
        self.bar.close()
