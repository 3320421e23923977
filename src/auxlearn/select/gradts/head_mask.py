"""A differentiable mask on every attention head of a Hugging Face encoder, applied through hooks.

transformers 5.x removed the ``head_mask`` argument of ``BertModel.forward``, so the mask is applied by a
forward pre-hook on each layer's attention OUTPUT PROJECTION (BERT ``attention.output.dense``, DistilBERT
``out_lin``, MPNet ``o``): its input is the per-head context concatenated over heads, ``[B, T, H * d]``, and
multiplying head ``h``'s slice by ``xi[l, h]`` is exactly what the old ``head_mask`` did (that one scaled the
attention probabilities, which scales the context linearly). Hooking the projection's input rather than the
self-attention module's output makes the same code right for architectures whose self-attention module already
applies the projection (DistilBERT, MPNet). It acts after the attention kernel, so it is the same for the
``eager`` and ``sdpa`` attention implementations.

The mask is PER EXAMPLE, ``[B, L, H]``: example ``b`` is multiplied by its own row ``mask[b]``. Since examples
of a batch do not interact (eval mode; padded keys get zero attention), the gradient of ``sum_b loss_b`` with
respect to ``mask[b]`` is ``d loss_b / d xi`` of example ``b`` alone: one backward pass over a batch gives every
example's head-importance matrix. A shared ``[L, H]`` mask is accepted too (broadcast over the batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from auxlearn.errors import AuxlearnError

__all__ = ["AttentionSite", "HeadMask", "attention_sites", "head_mask", "head_shape"]


@dataclass(frozen=True)
class _Layout:
    """How one family of self-attention modules is laid out."""

    name: str
    query: str
    key: str
    value: str
    heads: str  # attribute holding the number of heads
    out_proj: str  # path of the output projection, relative to the attention module ("^." = its parent)


# Families of encoders whose attention heads are recognised. BERT-style covers BERT, RoBERTa, XLM-R,
# CamemBERT, ELECTRA, MiniLM (a BertModel) and every other model copied from BERT's attention code.
_LAYOUTS = (
    _Layout("bert", "query", "key", "value", "num_attention_heads", "^.output.dense"),
    _Layout("deberta-v2", "query_proj", "key_proj", "value_proj", "num_attention_heads", "^.output.dense"),
    _Layout("distilbert", "q_lin", "k_lin", "v_lin", "n_heads", "out_lin"),
    _Layout("mpnet", "q", "k", "v", "num_attention_heads", "o"),
)

# Attributes whose presence marks a module as some kind of multi-head attention, recognised or not.
_HEAD_ATTRS = ("num_attention_heads", "n_heads", "num_heads", "attention_head_size", "head_dim")


@dataclass(frozen=True)
class AttentionSite:
    """One encoder layer's self-attention: where the mask acts and where its weights are."""

    layer: int
    name: str  # qualified name of the self-attention module inside the encoder
    module: nn.Module
    num_heads: int
    head_size: int
    query: nn.Module
    key: nn.Module
    value: nn.Module
    out_proj: nn.Module  # the projection whose input is the concatenated per-head context, [B, T, H * d]


def _resolve(modules: dict[str, nn.Module], name: str, path: str) -> nn.Module | None:
    base = name
    parts = path.split(".")
    while parts and parts[0] == "^":
        parts.pop(0)
        if not base:
            return None
        base = base.rpartition(".")[0]
    obj = modules.get(base)
    for part in parts:
        obj = getattr(obj, part, None) if obj is not None else None
    return obj if isinstance(obj, nn.Module) else None


def _is_cross_attention(name: str, module: nn.Module, modules: dict[str, nn.Module]) -> bool:
    if "cross" in type(module).__name__.lower() or getattr(module, "is_cross_attention", False):
        return True
    parent = modules.get(name.rpartition(".")[0]) if "." in name else None
    return bool(getattr(parent, "is_cross_attention", False))


def _find_config(encoder: nn.Module):
    config = getattr(encoder, "config", None)
    if config is not None and hasattr(config, "num_hidden_layers"):
        return config
    for module in encoder.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "num_hidden_layers"):
            return config
    return None


def attention_sites(encoder: nn.Module) -> list[AttentionSite]:
    """The self-attention of every layer of ``encoder``, in layer order.

    ``encoder`` may be the Hugging Face encoder itself or any module that contains it (the whole multi-task
    model): its submodules are searched. Raises :class:`AuxlearnError`, naming the model class, when no
    recognisable attention heads are found, when the number found disagrees with ``config.num_hidden_layers``
    (e.g. ALBERT's parameter-shared layers), or when one projection serves several layers.
    """
    modules = dict(encoder.named_modules())
    sites: list[AttentionSite] = []
    unrecognised: list[str] = []
    for name, module in modules.items():
        layout = next(
            (
                lay
                for lay in _LAYOUTS
                if all(isinstance(getattr(module, a, None), nn.Module) for a in (lay.query, lay.key, lay.value))
                and isinstance(getattr(module, lay.heads, None), int)
            ),
            None,
        )
        if layout is None:
            if any(isinstance(getattr(module, a, None), int) for a in _HEAD_ATTRS):
                unrecognised.append(type(module).__name__)
            continue
        if _is_cross_attention(name, module, modules):
            continue
        out_proj = _resolve(modules, name, layout.out_proj)
        num_heads = int(getattr(module, layout.heads))
        in_features = getattr(out_proj, "in_features", None)
        if out_proj is None or not isinstance(in_features, int) or num_heads <= 0 or in_features % num_heads:
            unrecognised.append(type(module).__name__)
            continue
        sites.append(
            AttentionSite(
                layer=len(sites),
                name=name,
                module=module,
                num_heads=num_heads,
                head_size=in_features // num_heads,
                query=getattr(module, layout.query),
                key=getattr(module, layout.key),
                value=getattr(module, layout.value),
                out_proj=out_proj,
            )
        )
    _check_sites(encoder, sites, unrecognised)
    return sites


def _check_sites(encoder: nn.Module, sites: list[AttentionSite], unrecognised: list[str]) -> None:
    """One site per layer, each with its own projections, or an error naming the model class and why."""
    model_class = type(encoder).__name__
    if not sites:
        detail = (f" (found attention modules of unsupported layout: {sorted(set(unrecognised))})"
                  if unrecognised else "")
        raise AuxlearnError(
            f"{model_class} has no recognisable attention heads{detail}; GradTS head importance supports "
            "BERT-style encoders (BERT, RoBERTa, XLM-R, ELECTRA, MiniLM), DeBERTa-v2, DistilBERT and MPNet"
        )
    if len({id(site.out_proj) for site in sites}) != len(sites):
        raise AuxlearnError(f"{model_class}: several layers share one attention module; "
                            "per-layer head masks are not supported")
    config = _find_config(encoder)
    expected = getattr(config, "num_hidden_layers", None) if config is not None else None
    if isinstance(expected, int) and expected != len(sites):
        raise AuxlearnError(
            f"{model_class}: found {len(sites)} self-attention modules but config.num_hidden_layers is {expected} "
            "(layers sharing parameters, as in ALBERT, are not supported)"
        )


def head_shape(encoder: nn.Module) -> tuple[int, int]:
    """``(num_layers, num_heads)`` of ``encoder``'s attention (every layer must have the same head count)."""
    sites = attention_sites(encoder)
    heads = {site.num_heads for site in sites}
    if len(heads) != 1:
        raise AuxlearnError(f"{type(encoder).__name__}: layers have different head counts {sorted(heads)}")
    return len(sites), heads.pop()


class HeadMask:
    """Context manager multiplying head ``h`` of layer ``l`` by ``mask[b, l, h]`` (or ``mask[l, h]``).

    The hooks stay installed while the context is open; ``set_mask`` swaps the mask between forward passes
    without reinstalling them. Leaving the context removes every hook, also on an exception.
    """

    def __init__(self, encoder: nn.Module, mask: torch.Tensor | None = None):
        self.encoder = encoder
        self.sites = attention_sites(encoder)
        self.shape = head_shape(encoder)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self.mask: torch.Tensor | None = None
        if mask is not None:
            self.set_mask(mask)

    def set_mask(self, mask: torch.Tensor) -> None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"the head mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.dim() not in (2, 3) or tuple(mask.shape[-2:]) != self.shape:
            raise ValueError(
                f"head mask must have shape [B, {self.shape[0]}, {self.shape[1]}] or {list(self.shape)}, "
                f"got {list(mask.shape)}"
            )
        self.mask = mask

    def _hook(self, site: AttentionSite):
        def pre_hook(module: nn.Module, args: tuple):
            mask = self.mask
            if mask is None:
                return None
            context, *rest = args
            batch = context.shape[0]
            if mask.dim() == 3:
                if mask.shape[0] != batch:
                    raise ValueError(f"head mask is for {mask.shape[0]} examples but the batch has {batch}")
                scale = mask[:, site.layer, :]  # [B, H]
            else:
                scale = mask[site.layer].unsqueeze(0)  # [1, H]
            # context: [B, ..., H * d]; head h owns the slice [h * d, (h + 1) * d) of the last dimension
            heads = context.unflatten(-1, (site.num_heads, site.head_size))
            view = (scale.shape[0],) + (1,) * (heads.dim() - 3) + (site.num_heads, 1)
            scaled = heads * scale.reshape(view).to(heads.dtype)
            return (scaled.flatten(-2), *rest)

        return pre_hook

    def __enter__(self) -> "HeadMask":
        if self._handles:
            raise RuntimeError("this HeadMask is already active")
        try:
            for site in self.sites:
                self._handles.append(site.out_proj.register_forward_pre_hook(self._hook(site)))
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def head_mask(encoder: nn.Module, mask: torch.Tensor | None = None) -> HeadMask:
    """``with head_mask(encoder, mask): ...`` runs ``encoder`` with head ``(l, h)`` scaled by ``mask[..., l, h]``.

    ``mask`` is ``[B, L, H]`` (one row per example of the batch) or ``[L, H]`` (shared); it may require
    gradients, which then flow to it through the hooks.
    """
    return HeadMask(encoder, mask)
