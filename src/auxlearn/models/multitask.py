"""The multi-task model: one shared encoder, one head per task, saved as a plain folder.

Folder layout: the encoder's ``config.json`` + weights (``save_pretrained``, so plain
``transformers.AutoModel.from_pretrained(folder)`` loads it) or, under a PEFT adapter, the adapter's
``adapter_config.json`` + weights (``PeftModel.from_pretrained(encoder, folder)`` loads it), the tokenizer files,
``heads.safetensors``, ``tasks.json`` (the task specs) and ``auxlearn.json`` (pooling, pair encoding, head dropout,
the adapter, version); a routed adapter adds ``routing.json``, every task's routing weights.

Siamese pair encoding (Reimers & Gurevych 2019, SBERT's classification objective): each text of a pair goes
through the encoder alone, and the head reads ``[u, v, |u - v|, u * v]`` of the two pooled vectors. It keeps
the geometry a sentence-embedding model such as all-MiniLM-L6-v2 was trained for, which reading both texts
as one sequence discards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping, Optional, get_args

import torch
from pydantic import BaseModel, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from auxlearn.version import __version__
from auxlearn.adapters import Adapter, build_adapter
from auxlearn.adapters.base import is_adapter_parameter
from auxlearn.adapters.routing import routing_weights
from auxlearn.errors import AuxlearnError, DamagedFileError, format_validation_error
from auxlearn.io import atomic_directory, json_text, read_json_mapping
from auxlearn.models.encoder import load_tokenizer
from auxlearn.tasks.types.heads import Head
from auxlearn.config_types import PairEncoding, Precision
from auxlearn.tasks.spec import TaskSpec

Pooling = Literal["cls", "mean"]
SIAMESE_FEATURES = 4  # u, v, |u - v|, u * v


class _SavedData(BaseModel):
    max_length: dict[str, int] = {}
    dev_size: Optional[float] = None
    split_seed: int = 0


class _SavedAdapter(BaseModel):
    method: str
    options: dict[str, Any] = {}
    tasks: list[str]


class SavedMetadata(BaseModel):
    """What ``auxlearn.json`` must hold for a model to load and evaluate as it was trained (other keys pass)."""

    pooling: Pooling
    pair_encoding: PairEncoding
    head_dropout: float = Field(ge=0, lt=1)
    precision: Precision = "fp32"
    data: _SavedData = _SavedData()
    adapter: Optional[_SavedAdapter] = None  # None: saved before adapters, fully fine-tuned
    untie_heads: bool = False  # LM heads with their own output matrix (objectives.untie_heads)


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, specs: Mapping[str, TaskSpec], *, pooling: Pooling = "cls",
                 pair_encoding: PairEncoding = "cross", head_dropout: float = 0.1, adapter: Optional[Adapter] = None,
                 untie_heads: bool = False):
        """``adapter``: what built ``encoder`` (default: full fine-tuning); every encoder call takes its inputs for
        the call's task, so a routed adapter learns the task's routing. ``untie_heads``: a head that would share
        the input embeddings (an LM head) gets its own copy of them."""
        super().__init__()
        self.adapter = adapter if adapter is not None else build_adapter("full", {}, list(specs))
        if pooling not in ("cls", "mean"):
            raise AuxlearnError(f"pooling must be 'cls' or 'mean', got {pooling!r}")
        if pair_encoding not in get_args(PairEncoding):
            raise AuxlearnError(f"pair_encoding must be one of {get_args(PairEncoding)}, got {pair_encoding!r}")
        self.encoder, self.pooling, self.pair_encoding = encoder, pooling, pair_encoding
        self.head_dropout, self.untie_heads = head_dropout, untie_heads
        self.specs = dict(specs)
        self.adopted: list[str] = []  # tasks whose head came from another model (adopt_heads)
        self.warmed: dict[str, dict[str, Any]] = {}  # tasks whose head was fitted before training (head warm-up)
        self.heads = nn.ModuleDict({name: self.new_head(name) for name in self.specs})

    def new_head(self, task: str) -> Head:
        """A freshly initialised head for ``task``, bound to the encoder (from the global generator)."""
        spec, hidden = self.specs[task], self.encoder.config.hidden_size
        head = spec.task_type.build_head(hidden * (SIAMESE_FEATURES if spec.siamese(self.pair_encoding) else 1),
                                         spec, self.head_dropout)
        head.bind(self.encoder, tied=not self.untie_heads)
        return head

    def head(self, task: str) -> Head:
        return self.heads[task]

    def freeze_embeddings(self) -> None:
        """The input embeddings stop training (an LM head tied to them then trains its other weights only)."""
        self.encoder.get_input_embeddings().weight.requires_grad_(False)

    def forward(self, task: str, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits of ``task`` for ``batch`` ([B, C], or [B, T, C] for tagging)."""
        return self.heads[task](self.features(task, batch), batch.get("labels"))

    def features(self, task: str, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """What ``task``'s head reads: the encoder's hidden states for a per-token head, else the pooled vector.
        An ``attention_pattern`` in the batch (an objective's [B, 1, T, T] mask) is what the encoder attends by;
        ``attention_mask`` stays the padding mask that pooling reads."""
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch}
        if "attention_pattern" in batch:
            inputs["attention_mask"] = batch["attention_pattern"]
        hidden = self._encode(task, inputs)
        if self.heads[task].per_token:
            return hidden
        pooled = self._pool(hidden, batch["attention_mask"])
        if self.specs[task].siamese(self.pair_encoding):
            if "pair_input_ids" not in batch:
                raise AuxlearnError(f"task {task!r}: the model encodes pairs siamese, but the batch holds one "
                                    "sequence per pair (encode the data with pair_encoding='siamese')")
            second = self.embed(task, batch["pair_input_ids"], batch["pair_attention_mask"])
            pooled = torch.cat([pooled, second, (pooled - second).abs(), pooled * second], dim=-1)
        return pooled

    def embed(self, task: str, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The pooled vector of each text alone, as ``task`` reads it: its sentence embedding, [B, hidden]."""
        hidden = self._encode(task, {"input_ids": input_ids, "attention_mask": attention_mask})
        return self._pool(hidden, attention_mask)

    def _encode(self, task: str, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        ids = inputs["input_ids"]
        return self.encoder(**inputs, **self.adapter.inputs(task, ids.shape[0], ids.device)).last_hidden_state

    def parameter_kind(self, name: str) -> str:
        """``heads``, ``routing`` or ``encoder`` (the encoder's own weights, or the adapters it trains): what sets a
        parameter's learning rate."""
        if name.startswith("heads."):
            return "heads"
        return "routing" if self.adapter.is_routing(name) else "encoder"

    def parameter_counts(self) -> dict[str, int]:
        """Trained parameters of each kind, and ``encoder_size``: the encoder's own, its adapters left out."""
        counts = {"encoder": 0, "routing": 0, "heads": 0}
        for name, param in self.named_parameters():
            if param.requires_grad:
                counts[self.parameter_kind(name)] += param.numel()
        counts["encoder_size"] = sum(p.numel() for n, p in self.encoder.named_parameters()
                                     if not is_adapter_parameter(n))
        return counts

    def routing(self, per_layer: bool = True) -> Optional[dict[str, Any]]:
        """Every task's routing weights ([splits][skills] per task): their ``mean`` over the adapted layers and,
        with ``per_layer``, each layer's; None without routing."""
        layers = routing_weights(self.encoder) if self.adapter.peft else {}
        if not layers:
            return None
        mean = torch.stack(list(layers.values())).mean(0).tolist()
        return {"tasks": self.adapter.tasks, "mean": mean,
                **({"layers": {name: weights.tolist() for name, weights in layers.items()}} if per_layer else {})}

    def _pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return pool(hidden, mask, self.pooling)

    def adopt_heads(self, specs: Mapping[str, TaskSpec], states: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Load the heads of another model (a saved folder, an earlier phase) for the tasks both have with the
        same type, labels and input width; the other heads keep their fresh initialisation. ``self.adopted``
        lists the tasks whose head was taken over."""
        adopted = []
        for task, head in self.heads.items():
            theirs, mine = specs.get(task), self.specs[task]
            state = states.get(task)
            if theirs is None or state is None or (theirs.type, theirs.label_names) != (mine.type, mine.label_names):
                continue
            if set(state) != set(head.state_dict()):  # a tied LM head's weights for an untied one, or back
                continue
            if any(state[k].shape != v.shape for k, v in head.state_dict().items() if k in state):
                continue
            head.load_state_dict(state)
            adopted.append(task)
        self.adopted = adopted

    def head_states(self) -> dict[str, dict[str, torch.Tensor]]:
        return {task: head.state_dict() for task, head in self.heads.items()}

    def loss(self, task: str, batch: Mapping[str, torch.Tensor],
             logits: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``task``'s loss on ``batch``; ``logits`` when the caller computed them (through the wrapper that shares
        the model between training processes)."""
        return self.heads[task].loss(self(task, batch) if logits is None else logits, batch["labels"])

    def save(self, folder: str | Path, tokenizer, metadata: Mapping | None = None) -> Path:
        """Write the model folder atomically (a killed or failed save leaves the previous folder intact; a failed
        one, a full disk say, is an error naming the folder and the cause).

        ``metadata`` (how the data was split and encoded) goes into auxlearn.json for `evaluate`."""
        with atomic_directory(folder) as tmp:
            if self.adapter.peft:  # its layers never touch the embeddings: no lookup of the base's vocabulary
                self.encoder.save_pretrained(tmp, save_embedding_layers=False)
            else:
                self.encoder.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            routing = self.routing()
            if routing is not None:
                (tmp / "routing.json").write_text(json_text(routing), encoding="utf-8")
            save_file({k: v.detach().cpu().contiguous() for k, v in self.heads.state_dict().items()},
                      str(tmp / "heads.safetensors"))
            specs = {n: s.model_dump(mode="json") for n, s in self.specs.items()}
            (tmp / "tasks.json").write_text(json_text(specs), encoding="utf-8")
            about = {"version": __version__, "pooling": self.pooling, "pair_encoding": self.pair_encoding,
                     "head_dropout": self.head_dropout, "adapter": self.adapter.describe(),
                     **({"untie_heads": True} if self.untie_heads else {}), **(metadata or {})}
            (tmp / "auxlearn.json").write_text(json_text(about), encoding="utf-8")
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path) -> tuple["MultiTaskModel", object, dict]:
        """The model, its tokenizer and its metadata from a folder written by ``save``."""
        specs, states, meta = saved_heads(folder)
        saved = meta.get("adapter") or {"method": "full", "options": {}, "tasks": list(specs)}
        adapter = build_adapter(saved["method"], saved["options"], saved["tasks"])
        model = cls(adapter.load(Path(folder)), specs, pooling=meta["pooling"], pair_encoding=meta["pair_encoding"],
                    head_dropout=meta["head_dropout"], adapter=adapter, untie_heads=meta.get("untie_heads", False))
        for task, head in model.heads.items():
            try:
                head.load_state_dict(states[task])
            except RuntimeError as error:
                raise DamagedFileError(f"{Path(folder) / 'heads.safetensors'}: the weights of task {task!r} do not "
                                       f"fit its head ({str(error).splitlines()[-1].strip()})") from None
        return model, load_tokenizer(str(folder)), meta


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """One vector per sequence: the first token's (``cls``) or the mean over its real tokens (``mean``)."""
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def is_model_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``MultiTaskModel.save`` (an encoder folder has no auxlearn.json)."""
    return (Path(path) / "auxlearn.json").is_file()


def saved_heads(folder: str | Path) -> tuple[dict[str, TaskSpec], dict[str, dict[str, torch.Tensor]], dict]:
    """The task specs, head weights per task and metadata of a saved model folder; a damaged or foreign file is
    a DamagedFileError naming it."""
    folder = Path(folder)
    for name in ("auxlearn.json", "tasks.json", "heads.safetensors"):
        if not (folder / name).is_file():
            raise AuxlearnError(f"{folder} is not an auxlearn model folder: {name} is missing")
    if not (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file():
        raise AuxlearnError(f"{folder} is not an auxlearn model folder: config.json (an encoder) is missing, and "
                            "so is adapter_config.json (an adapter over one)")
    meta = read_json_mapping(folder / "auxlearn.json")
    try:
        SavedMetadata.model_validate(meta)
    except ValidationError as error:
        raise DamagedFileError(f"{folder / 'auxlearn.json'}: {format_validation_error(error)}") from None
    specs = {}
    for name, spec in read_json_mapping(folder / "tasks.json").items():
        try:
            specs[name] = TaskSpec.model_validate(spec)
        except ValidationError as error:
            problem = format_validation_error(error)
            raise DamagedFileError(f"{folder / 'tasks.json'}: task {name!r}: {problem}") from None
    try:
        tensors = load_file(str(folder / "heads.safetensors"))
    except (SafetensorError, OSError) as error:
        raise DamagedFileError(f"{folder / 'heads.safetensors'}: cannot read the head weights ({error})") from None
    states: dict[str, dict[str, torch.Tensor]] = {task: {} for task in specs}
    for key, tensor in tensors.items():
        task, _, name = key.partition(".")
        states.setdefault(task, {})[name] = tensor
    headless = [task for task in specs if not states[task]]
    if headless:
        raise DamagedFileError(f"{folder / 'heads.safetensors'}: no weights for task(s) "
                               f"{', '.join(map(repr, headless))} of tasks.json")
    return specs, states, meta
