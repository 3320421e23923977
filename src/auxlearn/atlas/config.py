"""The atlas file: an experiment file whose ``atlas:`` section names the primaries (each with its own training cap
and train settings) and the candidate pool, instead of ``primary`` and ``auxiliary``.

Every cell of the atlas is a variant of the shared settings: one primary, at most one candidate, one seed. The
per-primary experiments are checked when the file loads (tasks, caps, options), before any training.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from pydantic import Field, ValidationError, field_validator, model_validator

from auxlearn.config import Experiment, TrainConfig, experiment_from_dict
from auxlearn.config_types import Strict
from auxlearn.config_files import load_document
from auxlearn.errors import AuxlearnError, format_validation_error
from auxlearn.identity import config_identity

# Settings of an experiment file that choose or report, never what a cell trains: dropped from every cell.
NOT_TRAINED = ("select", "mix", "seeds", "preset", "fewshot")


class AtlasPrimary(Strict):
    """One row of the atlas: the primary's training cap (the small-data regime) and its own train settings over
    the file's ``train`` (its steps, evaluations and patience are its baseline recipe)."""

    max_train_examples: Optional[int] = Field(None, gt=0, description="the primary's training examples; None: all")
    train: dict[str, Any] = Field(default_factory=dict, description="train settings over the file's train section")

    @field_validator("train")
    @classmethod
    def _train_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        try:
            TrainConfig.model_validate(settings)
        except ValidationError as error:
            raise ValueError(format_validation_error(error, "train")) from None
        return settings


class AtlasSeeds(Strict):
    """Adaptive seeds: ``initial`` per cell, one more at a time up to ``max`` while the cell's 95 % interval of
    the gain over the primary alone straddles zero and its mean is at least ``widen_at`` from zero (a gain of
    that size is worth telling from noise; a smaller one is not worth the seeds)."""

    initial: int = Field(3, ge=2, description="seeds every cell trains (2 at least: an interval needs two)")
    max: int = Field(8, ge=2, description="seeds a cell may reach")
    widen_at: float = Field(0.01, ge=0, description="|mean gain| from which a straddling cell gets more seeds "
                                                    "(in the metric's units: 0.01 is one point)")

    @model_validator(mode="after")
    def _ordered(self) -> "AtlasSeeds":
        if self.max < self.initial:
            raise ValueError(f"max ({self.max}) is below initial ({self.initial})")
        return self


class AtlasConfig(Strict):
    primaries: dict[str, AtlasPrimary] = Field(min_length=1, description="the rows: primary task -> its settings")
    candidates: list[str] = Field(min_length=1, description="the columns: every primary is paired with each of "
                                                            "these but itself")
    seeds: AtlasSeeds = Field(default_factory=AtlasSeeds)
    both_protocols: list[str] = Field(
        default_factory=list, description="primaries whose every pair also trains under the protocol that "
                                          "transfer.protocol auto did not pick")
    storage: Optional[str] = Field(None, description="Optuna storage the cells are queued in; None: a journal "
                                                     "file in the atlas folder")
    study_name: str = "atlas"

    @field_validator("candidates")
    @classmethod
    def _distinct(cls, candidates: list[str]) -> list[str]:
        if len(set(candidates)) != len(candidates):
            raise ValueError(f"lists a task twice: {candidates}")
        return candidates

    @model_validator(mode="after")
    def _rows_known(self) -> "AtlasConfig":
        unknown = [p for p in self.both_protocols if p not in self.primaries]
        if unknown:
            raise ValueError(f"both_protocols names {unknown}, which are not among the primaries "
                             f"{list(self.primaries)}")
        for primary in self.primaries:
            if not [c for c in self.candidates if c != primary]:
                raise ValueError(f"primary {primary!r} has no candidate but itself")
        return self


@dataclass(frozen=True)
class Cell:
    """One trained arm of the atlas: the primary alone, the primary with one candidate (under the file's protocol,
    or ``protocol`` when set: the one ``auto`` did not pick), or the control (the primary alone for ``steps``)."""

    primary: str
    kind: str  # "alone", "pair" or "control"
    seed: int
    candidate: Optional[str] = None
    protocol: Optional[str] = None
    steps: Optional[int] = None

    @property
    def key(self) -> str:
        return json.dumps([self.primary, self.kind, self.seed, self.candidate, self.protocol, self.steps])

    @classmethod
    def from_key(cls, key: str) -> "Cell":
        primary, kind, seed, candidate, protocol, steps = json.loads(key)
        return cls(primary, kind, seed, candidate, protocol, steps)

    @property
    def arm(self) -> str:
        """The folder name of the arm (a task name may hold '/', as generated objectives do)."""
        if self.kind == "pair":
            name = "pair_" + self.candidate.replace("/", "~")
            return name + (f"@{self.protocol}" if self.protocol else "")
        return f"control_{self.steps}" if self.kind == "control" else "alone"


@dataclass
class Atlas:
    """A loaded atlas file: its settings, the shared experiment document, and where it was read from."""

    config: AtlasConfig
    document: dict[str, Any]  # the experiment keys shared by every cell, without atlas, primary and auxiliary
    where: str

    @property
    def name(self) -> str:
        return self.document["name"]

    def candidates_of(self, primary: str) -> list[str]:
        return [c for c in self.config.candidates if c != primary]

    def experiment(self, primary: str, auxiliary: list[str], seed: int, *, protocol: Optional[str] = None,
                   steps: Optional[int] = None, check: bool = False) -> Experiment:
        """The experiment of one primary with ``auxiliary``: the shared settings, the primary's cap and train
        settings over them, ``protocol`` and ``steps`` (a control's) over those."""
        doc = json.loads(json.dumps(self.document))
        settings = self.config.primaries[primary]
        caps = doc.setdefault("data", {}).get("max_train_examples")
        tasks = [primary, *auxiliary]
        caps = {t: caps for t in tasks} if isinstance(caps, int) else dict(caps or {})
        if settings.max_train_examples is not None:
            caps[primary] = settings.max_train_examples
        doc["data"]["max_train_examples"] = {t: n for t, n in caps.items() if t in tasks} or None
        doc["train"] = {**doc.get("train", {}), **settings.train, **({"steps": steps} if steps else {})}
        if protocol is not None:
            doc["transfer"] = {**doc.get("transfer", {}), "protocol": protocol}
        doc.update(primary=primary, auxiliary=list(auxiliary), seed=seed)
        return experiment_from_dict(doc, where=f"{self.where}, primary {primary!r}", check=check)

    def cell_experiment(self, cell: Cell) -> Experiment:
        auxiliary = [cell.candidate] if cell.kind == "pair" else []
        return self.experiment(cell.primary, auxiliary, cell.seed, protocol=cell.protocol, steps=cell.steps)

    def baseline_steps(self, primary: str) -> int:
        return self.experiment(primary, [], self.seed).train.steps

    @property
    def seed(self) -> int:
        return int(self.document.get("seed", 0))

    def cell_identity(self, cell: Cell) -> str:
        """What a cell trains, as a hash: a stored result counts for a cell only under an equal identity. The
        precision is left out (bf16 where the CPU has the units, fp32 elsewhere: the same model by
        ``bench/precision_parity.py``), and a task file counts by its content, not its absolute path, so that an
        atlas grows over machines of both kinds and over checkouts in other folders."""
        doc = config_identity(self.cell_experiment(cell), exclude=("train.precision",))
        doc["task_files"] = [_file_digest(Path(f), Path(f).stat().st_mtime_ns) for f in doc["task_files"]]
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]

    def storage_url(self, out_dir: Path) -> str:
        return self.config.storage or f"journal://{(out_dir / 'atlas.journal').resolve()}"


@lru_cache(maxsize=32)
def _file_digest(path: Path, mtime_ns: int) -> str:
    """A file's content hash, read once per process while its modification time holds."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_atlas(path: str | Path, overrides: tuple[str, ...] | list[str] = (),
               data_dir: Optional[str] = None) -> Atlas:
    """The atlas of a config file (composed with ``+`` and ``--set`` as an experiment file is); every primary's
    experiment with all its candidates is checked now, so a bad task, cap or option stops before training."""
    document, where, note = load_document(path, overrides, data_dir)
    section = document.pop("atlas", None)
    if section is None:
        raise AuxlearnError(f"{where}: an atlas file needs an 'atlas' section (primaries, candidates)")
    for key in ("primary", "auxiliary"):
        if key in document:
            raise AuxlearnError(f"{where}: {key}: an atlas file names its primaries under atlas.primaries and its "
                                f"candidates under atlas.candidates, not {key}")
    try:
        config = AtlasConfig.model_validate(section)
    except ValidationError as error:
        raise AuxlearnError(f"{where}: {format_validation_error(error, 'atlas', note=note)}") from None
    for key in NOT_TRAINED:
        document.pop(key, None)
    atlas = Atlas(config, document, where)
    for primary in config.primaries:
        train = atlas.experiment(primary, atlas.candidates_of(primary), atlas.seed, check=True).train
        auto = [key for key in ("steps", "eval_every") if getattr(train, key) == "auto"]
        if auto:  # a cell's identity and its control's length are fixed before any data loads, unlike run's
            raise AuxlearnError(f"{where}: primary {primary!r}: train.{' and train.'.join(auto)} must be numbers in "
                                f"an atlas (each cell is one fixed recipe); set them in train or in "
                                f"atlas.primaries.{primary}.train")
    protocol: str = atlas.experiment(next(iter(config.primaries)), [], atlas.seed).transfer.protocol
    if config.both_protocols and protocol != "auto":
        raise AuxlearnError(f"{where}: atlas.both_protocols trains each pair also under the protocol auto did not "
                            f"pick; transfer.protocol is {protocol!r}, not auto")
    return atlas
