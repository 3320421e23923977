"""An atlas read back for prediction: each measured pair's mean gain and interval, and the task embeddings stored
beside them. Every key read is checked, so a damaged or foreign file is an error that names the file and the key.

A pair's gain is read against one of two references. ``control`` (the default): the primary alone trained for as
many steps as the pair (the alone run itself when the pair trained no longer than it), which asks whether the
candidate helps beyond training longer, as ``run``'s final model is judged. ``alone``: the primary alone on its own
recipe, which also credits a pair with the extra steps it gave an undertrained primary.

The built-in atlas (all-MiniLM-L6-v2, ``builtin/``) ships with the package: summaries only, no runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import numpy as np

from auxlearn.errors import AuxlearnError, DamagedFileError
from auxlearn.io import read_json

FORMAT = "auxlearn-atlas"
Reference = Literal["control", "alone"]
BUILTIN_FOLDER = Path(__file__).resolve().parent / "builtin"


def builtin_file(encoder: str) -> Path:
    """Where the built-in atlas of ``encoder`` lives (or would)."""
    return BUILTIN_FOLDER / f"{encoder.replace('/', '__')}.json"


def builtin_path(encoder: str) -> Path:
    """The built-in atlas of ``encoder``; an error when none ships for it."""
    path = builtin_file(encoder)
    if not path.is_file():
        shipped = sorted(p.stem for p in BUILTIN_FOLDER.glob("*.json"))
        raise AuxlearnError(f"no built-in atlas for encoder {encoder!r} (built in: {', '.join(shipped) or 'none'}); "
                            "compute one with `auxlearn atlas` and give its atlas.json")
    return path


@dataclass
class Pair:
    gain: float
    low: Optional[float]
    high: Optional[float]
    n: int

    @property
    def harmful(self) -> bool:
        """Its whole 95 % interval below zero."""
        return self.high is not None and self.high < 0

    @property
    def helpful(self) -> bool:
        return self.low is not None and self.low > 0


@dataclass
class TransferTable:
    """``pairs[primary][candidate]``: the measured gain of training the primary with the candidate, signed so
    that positive helps; ``embeddings[task]``: the stored task embeddings (may be empty)."""

    path: Path
    encoder: str
    pairs: dict[str, dict[str, Pair]]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    embedding_settings: dict[str, Any] = field(default_factory=dict)
    reference: Reference = "control"

    @property
    def primaries(self) -> list[str]:
        return list(self.pairs)

    @property
    def candidates(self) -> list[str]:
        return sorted({c for row in self.pairs.values() for c in row})

    def gains(self, primary: str) -> dict[str, float]:
        return {c: p.gain for c, p in self.pairs.get(primary, {}).items()}

    def without(self, primary: str) -> "TransferTable":
        """The table with ``primary``'s row left out: what a selector may learn from when choosing for it."""
        return TransferTable(self.path, self.encoder, {p: r for p, r in self.pairs.items() if p != primary},
                             self.embeddings, self.embedding_settings, self.reference)


def read_atlas(path: str | Path, reference: Reference = "control") -> TransferTable:
    """The pairs of an ``atlas.json`` (as `auxlearn atlas` writes it) with at least one seed of their gain over
    ``reference``."""
    path = Path(path)
    if not path.is_file():
        raise AuxlearnError(f"atlas file {path} not found")
    try:
        doc = read_json(path)
    except (OSError, ValueError) as error:
        raise DamagedFileError(f"{path}: not an atlas ({error})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DamagedFileError(f"{path}: format: expected {FORMAT!r}, got "
                               f"{doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    encoder = _need(doc, "encoder", str, path)
    rows = _need(doc, "rows", dict, path)
    pairs: dict[str, dict[str, Pair]] = {}
    for primary, row in rows.items():
        entries = _need(row, "pairs", dict, path, f"rows.{primary}")
        for candidate, entry in entries.items():
            where = f"rows.{primary}.pairs.{candidate}"
            if not isinstance(entry, dict):
                raise DamagedFileError(f"{path}: {where}: expected a mapping")
            key = _gain_key(entry, row, reference)
            gain = entry.get(key)
            if not gain:
                continue  # not trained yet
            if not isinstance(gain, dict):
                raise DamagedFileError(f"{path}: {where}.{key}: expected a mapping")
            mean = _number(gain.get("mean"), path, f"{where}.{key}.mean")
            low, high = (None if gain.get(k) is None else _number(gain[k], path, f"{where}.{key}.{k}")
                         for k in ("low", "high"))
            pairs.setdefault(primary, {})[candidate] = Pair(mean, low, high, int(gain.get("n", 0)))
    embeddings = {}
    for task, vector in (doc.get("embeddings") or {}).items():
        array = np.asarray(vector, dtype=float) if isinstance(vector, list) else None
        if array is None or array.ndim != 1 or not array.size or not np.isfinite(array).all():
            raise DamagedFileError(f"{path}: embeddings.{task}: expected a list of finite numbers")
        embeddings[task] = array
    if len({v.size for v in embeddings.values()}) > 1:
        raise DamagedFileError(f"{path}: embeddings: the vectors differ in length")
    return TransferTable(path, encoder, pairs, embeddings, dict(doc.get("embedding_settings") or {}), reference)


def has_control(planned_steps: Any, baseline_steps: Any) -> bool:
    """Whether an arm planned for ``planned_steps`` (an atlas pair, `run`'s final model) gets a control of its own
    (the primary alone as long): only when it trains longer than the primary's own recipe; otherwise the primary
    alone is its control. The values may come from a JSON file: anything but two numbers has none."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (planned_steps, baseline_steps))
    return numbers and planned_steps > baseline_steps


def _gain_key(entry: dict, row: dict, reference: Reference) -> str:
    """Where ``entry`` keeps its gain over ``reference``."""
    longer = has_control(entry.get("planned_steps"), row.get("baseline_steps"))
    return "control_gain" if reference == "control" and longer else "gain"


def _need(doc: Any, key: str, kind: type, path: Path, where: str = "") -> Any:
    name = f"{where}.{key}" if where else key
    if not isinstance(doc, dict) or not isinstance(doc.get(key), kind):
        raise DamagedFileError(f"{path}: {name}: expected a {kind.__name__}")
    return doc[key]


def _number(value: Any, path: Path, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DamagedFileError(f"{path}: {where}: expected a finite number, got {value!r}")
    return float(value)
