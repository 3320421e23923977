"""The factored objective space: every (I, T, R, O) combination of the configured factor values, with the
illegal and degenerate ones set aside, each with its reason (after AANG: Dery et al., ICLR 2023).

- I, the input text: ``task`` (the primary's own training text), a text source (a masked-LM task: domain text
  from a file or the hub) or a supervised task (its text, and its labels for a supervised output).
- T, the input transform on the selected tokens (``transforms.py``); R, the attention pattern (``attention.py``).
- O, the output: ``denoise`` predicts, at each selected position, the token that position cannot see: its own
  original token when T corrupted it (``replace``, ``mask``, ``bert``), else under a one-way pattern the next
  token in the pattern's direction (GPT's objective, left to right, or its mirror). Or a supervised task's label.

Why combinations are illegal: ``denoise`` with T ``none`` under ``bidirectional`` or ``random_factorised``
attention would predict a token the position sees (through its own input embedding, whatever the attention
pattern: a copy task; AANG's code allows it, Dery et al., ICLR 2023). A supervised output reads the whole sequence,
so one-way attention does not fit it (as in AANG), and it needs its own task as input. (X, none, bidirectional,
X) is task X itself: the primary, always trained, or an auxiliary task named as it is.

An objective trains as a task named ``input/transform/attention/output`` (``tasks/objective_tasks.py``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auxlearn.aang.objectives.attention import ONE_WAY, PATTERNS, Pattern
from auxlearn.aang.objectives.transforms import TRANSFORMS, Transform

DENOISE = "denoise"
OWN_TEXT = "task"


@dataclass(frozen=True, order=True)
class Objective:
    input: str
    transform: str
    attention: str
    output: str

    @property
    def name(self) -> str:
        """The task name that trains it (``tasks/objective_tasks.py``)."""
        return "/".join((self.input, self.transform, self.attention, self.output))

    @classmethod
    def parse(cls, name: str) -> Optional["Objective"]:
        """The objective a task name names (``input/transform/attention/output``), None for another name."""
        parts = name.split("/")
        return cls(*parts) if len(parts) == 4 else None


class SearchSpace(BaseModel):
    """The factor values to combine (data in the config; ``PRESETS`` name common ones)."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[str] = Field([OWN_TEXT], min_length=1,
                              description="'task' (the primary's text), text-source or supervised task names")
    transforms: list[Transform] = Field(list(TRANSFORMS), min_length=1)
    attentions: list[Pattern] = Field(list(PATTERNS), min_length=1)
    outputs: list[str] = Field([DENOISE], min_length=1, description="'denoise', or supervised task names")

    @field_validator("inputs", "transforms", "attentions", "outputs")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise ValueError(f"each value once; repeated: {', '.join(repeated)}")
        return values


# BERT's masked LM on the task's own text (task-adaptive pre-training, Gururangan et al. 2020).
TAPT = Objective(OWN_TEXT, "bert", "bidirectional", DENOISE)


PRESETS: dict[str, SearchSpace] = {
    # One objective each: the named objectives the space recovers.
    "tapt": SearchSpace(transforms=[TAPT.transform], attentions=[TAPT.attention]),
    "gpt": SearchSpace(transforms=["none"], attentions=["left_to_right"]),  # next-token prediction
    # XLNet's permutation LM, approximated: the predicted tokens are masked (XLNet hides them with a second
    # attention stream instead), each position sees the positions before it in a random order.
    "xlnet": SearchSpace(transforms=["mask"], attentions=["random_factorised"]),
    "vbasic": SearchSpace(),  # AANG's vbasic1: every transform x every pattern, denoising the task's text
    "jointbasic": SearchSpace(transforms=["none", "bert"], attentions=["bidirectional", "random_factorised",
                                                                       "left_to_right"]),
}


def illegal_reason(objective: Objective, supervised: frozenset[str]) -> Optional[str]:
    """Why ``objective`` (its input a task name) is left out of the space, or None when it is legal."""
    if objective.output == DENOISE:
        if objective.transform == "none" and objective.attention not in ONE_WAY:
            return "a copy task: no token is hidden from the position that predicts it"
        return None
    if objective.output not in supervised:
        return f"output {objective.output!r} is neither 'denoise' nor a supervised task"
    if objective.output != objective.input:
        return f"a supervised output needs its own task's text as input, not {objective.input!r}"
    if objective.attention in ONE_WAY:
        return "a supervised output reads the whole sequence; one-way attention does not fit it"
    if objective.transform == "none" and objective.attention == "bidirectional":
        return f"task {objective.output!r} itself (the primary, or an auxiliary task named as it is)"
    return None


def enumerate_space(space: SearchSpace, primary: str,
                    supervised: frozenset[str] = frozenset()) -> tuple[list[Objective], dict[Objective, str]]:
    """The legal objectives, in factor order, and the illegal ones with their reasons; ``task`` as an input or
    output is the primary's name. ``supervised``: the task names that have labels (the primary is one)."""
    legal, illegal = [], {}
    named = [[primary if value == OWN_TEXT else value for value in values]
             for values in (space.inputs, space.transforms, space.attentions, space.outputs)]
    for combination in itertools.product(*named):
        objective = Objective(*combination)
        reason = illegal_reason(objective, supervised | {primary})
        if reason is None:
            legal.append(objective)
        else:
            illegal[objective] = reason
    return legal, illegal
