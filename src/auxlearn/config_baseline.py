"""The config's ``baseline`` section: how `run` makes sure the primary alone has learned what it can before any gain
is measured against it.

A user's 1,000-sentence task trained alone for 150 steps was still improving on dev at its last step in 2 of 3
seeds: every gain over it measured training length, and the control (the primary alone for the final's 450 steps)
scored 16.5 points above the final. So `run` reads the baseline's dev curves and, while the best evaluation of most
seeds is among their last ``last_evaluations``, trains the baseline again with twice the steps, up to ``max_steps``;
the rest of the run (selection, mixing, final, control) then uses that recipe.

These settings steer the run, not any one training, so no arm's identity includes them (``identity.py``).
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


class BaselineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    converge: bool = Field(True, description="extend the recipe's steps while the primary alone still improves")
    max_steps: Optional[int] = Field(None, gt=0, description="the most steps an extension reaches; "
                                                             "None: 4x train.steps")
    last_evaluations: int = Field(2, ge=1, description="a seed whose best dev evaluation is among its last this "
                                                       "many (and that early stopping did not end) was still rising")

    def cap(self, steps: int) -> int:
        """The most steps an extension of a ``steps``-step recipe reaches."""
        return max(self.max_steps or 4 * steps, steps)
