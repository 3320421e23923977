"""The selector interface: which auxiliary tasks to keep for the primary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from auxlearn.stage import Stage


@dataclass
class Selection:
    """The kept auxiliaries (best first), the score each candidate got, and method-specific evidence.

    ``instances`` (instance-level selection, GradTS-fg) maps a kept auxiliary to the example ids of its
    train split to keep; the mix and final stages train on those examples only.
    """

    method: str
    selected: list[str]
    scores: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    instances: dict[str, list[int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Selector:
    name: ClassVar[str]

    def select(self, stage: Stage) -> Selection:
        raise NotImplementedError
