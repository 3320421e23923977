"""The mixer interface: with what proportions the kept tasks are trained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from auxlearn.stage import Stage


@dataclass
class Mixture:
    """The sampler that trains the final model, the ratios it implies, and method-specific evidence."""

    method: str
    sampler: dict[str, Any]  # {"name": ..., **options}, as in train.sampler
    ratios: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tasks(self) -> list[str]:
        """Tasks with a non-zero ratio: a ratio of 0 drops the task."""
        return [t for t, r in self.ratios.items() if r > 0]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Mixer:
    name: ClassVar[str]

    def mix(self, stage: Stage, tasks: list[str]) -> Mixture:
        """``tasks``: the primary first, then the selected auxiliaries."""
        raise NotImplementedError
