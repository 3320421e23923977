"""AutoSeM stage 1: a non-stationary Beta-Bernoulli Thompson-sampling bandit over tasks.

Each arm is a task (the first is the primary). A round trains the current arm until the trainer's next dev
evaluation; ``update`` then rewards that arm by how the primary's dev score moved, decays every arm's Beta
posterior toward the prior (so old evidence fades: the usefulness of a task changes as the model trains), and
draws the next arm by Thompson sampling (after an optional forced-exploration phase that plays every arm in turn).
The posterior means are the task utilities used for selection.
"""

from __future__ import annotations

import copy
import math
from typing import Annotated, Any, Literal, Mapping, Optional, Sequence

import numpy as np
from pydantic import Field, StrictInt, model_validator

from auxlearn.plugins import MethodOptions, invalid_at
from auxlearn.train.samplers.base import TaskSampler

Reward = Literal[">=", ">", "gain"]
Count = Annotated[float, Field(gt=0, allow_inf_nan=False)]  # a pseudo-count of the Beta prior


class ThompsonBanditSampler(TaskSampler):
    """Trains one task per round; ``update`` (one call per dev evaluation) scores the round and picks the next.

    The first evaluation has no previous score to compare with, so it only sets the baseline: no arm is
    rewarded (the reference implementations reward it 1 or 0, biasing the primary arm either way); it trains the
    primary (arm 0). ``plays`` counts the rounds trained on each arm (the baseline round too), ``wins`` sums their
    rewards, and ``history`` holds every round with alpha and beta after its update and ``forced`` (True for the
    baseline and forced-exploration rounds, whose arm was not drawn).
    """

    name = "thompson"

    class Options(MethodOptions):
        decay: float = Field(
            0.3, ge=0, le=1, description="gamma: every update moves each arm's (alpha, beta) that fraction of the way "
                                         "back to the prior; 0 is stationary, 0.3 (AutoSeM) keeps about the last "
                                         "1/gamma rounds of evidence")
        reward: Reward = Field(
            ">=", description="'>=': b = 1[r_t >= r_(t-1)] (AutoSeM); '>': b = 1[r_t > r_(t-1) + min_delta], no "
                              "reward for a plateau; 'gain': a fraction in [0, 1] growing with the size of the change")
        min_delta: float = Field(0.0, ge=0, allow_inf_nan=False,
                                 description="the improvement reward '>' requires; only meaningful with that reward")
        prior: tuple[Count, Count] = Field(
            (1.0, 1.0), description="(alpha0, beta0), the Beta prior every arm starts at and decays toward")
        explore_rounds_per_arm: StrictInt = Field(
            0, ge=0, description="E: after the baseline round, E x arms rounds play the arms round-robin (primary "
                                 "first) before Thompson sampling picks them, so no arm keeps its prior unplayed")

        @model_validator(mode="after")
        def _min_delta_needs_strict_reward(self):
            if self.min_delta and self.reward != ">":
                raise invalid_at("min_delta", f"min_delta only applies to reward '>', not to reward {self.reward!r}")
            return self

    def __init__(self, tasks: Sequence[str], sizes: Mapping[str, int], *, total_steps: int, seed: int = 0,
                 options: Optional[MethodOptions] = None):
        super().__init__(tasks, sizes, total_steps=total_steps, seed=seed, options=options)
        self.explore_rounds_per_arm = self.options.explore_rounds_per_arm
        self.decay, self.reward, self.min_delta = self.options.decay, self.options.reward, self.options.min_delta
        self.prior = self.options.prior
        self.alpha = np.full(len(self.tasks), self.prior[0])
        self.beta = np.full(len(self.tasks), self.prior[1])
        self.plays = np.zeros(len(self.tasks), dtype=int)
        self.wins = np.zeros(len(self.tasks))
        self.arm = 0
        self.last_score: float | None = None
        self.gain_scale = 0.0
        self.history: list[dict[str, Any]] = []

    def probabilities(self, step):
        return {task: float(i == self.arm) for i, task in enumerate(self.tasks)}

    def next_task(self, step):
        return self.tasks[self.arm]

    def update(self, step, score):
        score = float(score)
        if not math.isfinite(score):
            raise ValueError(f"the thompson sampler needs a finite dev score, got {score} at step {step}")
        played = self.arm
        reward = None if self.last_score is None else self._reward(score, self.last_score)
        if reward is not None:
            self.alpha = (1 - self.decay) * self.alpha + self.decay * self.prior[0]
            self.beta = (1 - self.decay) * self.beta + self.decay * self.prior[1]
            self.alpha[played] += reward
            self.beta[played] += 1 - reward
            self.wins[played] += reward
        self.plays[played] += 1
        self.last_score = score
        self.history.append({
            "round": len(self.history), "step": int(step), "arm": self.tasks[played], "score": score,
            "reward": reward, "alpha": self._per_task(self.alpha), "beta": self._per_task(self.beta),
            "forced": len(self.history) < self.exploration_rounds,
        })
        upcoming = len(self.history)  # the round that starts now; round 0 was the baseline
        if upcoming < self.exploration_rounds:
            self.arm = (upcoming - 1) % len(self.tasks)
        else:
            draws = self.rng.beta(self.alpha, self.beta)
            self.arm = int(self.rng.choice(np.flatnonzero(draws == draws.max())))

    @property
    def exploration_rounds(self) -> int:
        """Rounds before the first Thompson draw: the baseline round and ``explore_rounds_per_arm`` per arm."""
        return 1 + self.explore_rounds_per_arm * len(self.tasks)

    def _reward(self, score: float, last: float) -> float:
        """Map the change of the primary's score to a success in [0, 1] for the played arm's Beta update.

        For ``"gain"``, b = 1/2 + gain / (2 s) with gain = score - last and s a leaky maximum of |gain| that
        forgets at the bandit's own rate, s <- max(|gain|, (1 - decay) s). So b is 1/2 on a plateau and 1 (0) for
        the largest rise (drop) in recent memory, and a utility above 1/2 still reads "helps more than it hurts".
        Scaling by the observed changes makes b unit-free (accuracy, correlation, ...); clipping the raw gain to
        [0, 1] instead would give every arm a near-zero reward. b enters as a fractional count (alpha += b,
        beta += 1 - b): the posterior mean stays a prior-shrunk, recency-weighted average of the arm's rewards,
        as with binary rewards, without the noise of drawing a Bernoulli(b) success.
        """
        if self.reward == ">=":
            return float(score >= last)
        if self.reward == ">":
            return float(score > last + self.min_delta)
        gain = score - last
        self.gain_scale = max(abs(gain), (1 - self.decay) * self.gain_scale)
        return 0.5 if self.gain_scale == 0 else 0.5 + gain / (2 * self.gain_scale)

    def _per_task(self, values: np.ndarray) -> dict[str, float]:
        return {task: float(v) for task, v in zip(self.tasks, values)}

    def utilities(self) -> dict[str, float]:
        """Posterior mean alpha / (alpha + beta) per task: how likely training it is not to hurt the primary."""
        return self._per_task(self.alpha / (self.alpha + self.beta))

    def scalars(self, step):
        return {**super().scalars(step), **{f"utility/{task}": u for task, u in self.utilities().items()}}

    def describe(self):
        return {
            "name": self.name, "utilities": self.utilities(),
            "plays": {t: int(n) for t, n in zip(self.tasks, self.plays)}, "wins": self._per_task(self.wins),
            "history": copy.deepcopy(self.history), "decay": self.decay, "reward": self.reward,
            "min_delta": self.min_delta, "prior": list(self.prior),
            "explore_rounds_per_arm": self.explore_rounds_per_arm,
        }

    def state_dict(self):
        return {
            **super().state_dict(), "tasks": list(self.tasks), "alpha": self.alpha.tolist(),
            "beta": self.beta.tolist(), "plays": self.plays.tolist(), "wins": self.wins.tolist(), "arm": self.arm,
            "last_score": self.last_score, "gain_scale": self.gain_scale, "history": copy.deepcopy(self.history),
            "explore_rounds_per_arm": self.explore_rounds_per_arm,
        }

    def load_state_dict(self, state):
        if list(state["tasks"]) != self.tasks:
            raise ValueError(f"state is for tasks {list(state['tasks'])}, this sampler has {self.tasks}")
        explore = int(state.get("explore_rounds_per_arm", 0))  # states written before the option had none
        if explore != self.explore_rounds_per_arm:
            raise ValueError(f"state is for explore_rounds_per_arm={explore}, this sampler has "
                             f"{self.explore_rounds_per_arm}")
        super().load_state_dict(state)
        self.alpha, self.beta = np.array(state["alpha"], dtype=float), np.array(state["beta"], dtype=float)
        self.plays, self.wins = np.array(state["plays"], dtype=int), np.array(state["wins"], dtype=float)
        self.arm, self.last_score, self.gain_scale = int(state["arm"]), state["last_score"], state["gain_scale"]
        self.history = copy.deepcopy(state["history"])
