"""PARITY ONLY: the reference GradTS code's head statistic (Ma et al. 2021; ``mt_dnn/model.py::update_no_grad``),
bug included, to reproduce its numbers; ``importance.head_importance`` is the statistic to use otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from auxlearn.errors import AuxlearnError

from .head_mask import attention_sites, head_shape
from .importance import Accumulator, HeadImportance, LossFn, batch_example_ids, check_losses, eval_mode

__all__ = ["per_example_reference_statistic", "reference_importance"]


class _LinearTap:
    """Records each call's input and output of a linear layer, so per-example weight gradients can be formed."""

    def __init__(self, module: nn.Module, what: str):
        self.module, self.what = module, what
        self.inputs: list[torch.Tensor] = []
        self.outputs: list[torch.Tensor] = []
        self.probe: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        if not isinstance(output, torch.Tensor):
            raise AuxlearnError(f"{self.what} returned {type(output).__name__}, expected a tensor")
        if not output.requires_grad:
            # frozen weights: give the output a gradient path without cutting the graph
            if self.probe is None:
                self.probe = torch.zeros((), dtype=output.dtype, device=output.device, requires_grad=True)
            output = output + self.probe
        self.inputs.append(args[0].detach())
        self.outputs.append(output)
        return output

    def clear(self) -> None:
        self.inputs.clear()
        self.outputs.clear()

    def remove(self) -> None:
        self.handle.remove()


def _reference_batch(sites, taps, loss_fn, batch, ids) -> np.ndarray:
    for tap in taps:
        tap.clear()
    try:
        losses = check_losses(loss_fn(batch), len(ids), ids)
        for tap in taps:
            if len(tap.outputs) != 1:
                raise AuxlearnError(
                    f"{tap.what} ran {len(tap.outputs)} times in one forward pass; the reference statistic needs "
                    "exactly one call per layer (shared or relative-position projections are not supported)"
                )
        grads = torch.autograd.grad(losses.sum(), [tap.outputs[0] for tap in taps], allow_unused=True)
        batch_size = len(ids)
        out = np.zeros((batch_size, len(sites), sites[0].num_heads))
        for layer, site in enumerate(sites):
            total = None
            for j in (2 * layer, 2 * layer + 1):  # key, value
                tap, dy = taps[j], grads[j]
                x = tap.inputs[0]
                if dy is None:
                    dy = torch.zeros_like(tap.outputs[0])
                # per-example weight gradient of y = x W^T + b: dW_b = sum_t dy_bt x_bt^T, shape [B, out, in]
                gw = torch.einsum("bto,bti->boi", dy.reshape(batch_size, -1, dy.shape[-1]).to(torch.float64),
                                  x.reshape(batch_size, -1, x.shape[-1]).to(torch.float64)).abs()
                total = gw if total is None else total + gw
            n_out, n_in = total.shape[1:]
            heads = site.num_heads
            if n_in % heads:
                raise AuxlearnError(f"layer {layer}: input size {n_in} is not divisible by {heads} heads")
            # THE REFERENCE'S GROUPING: the INPUT (last) dimension split into H chunks, mean over each chunk
            out[:, layer, :] = total.reshape(batch_size, n_out, heads, n_in // heads).mean(dim=(1, 3)).cpu().numpy()
        return out
    finally:
        for tap in taps:
            tap.clear()


def _reference_taps(encoder: nn.Module):
    sites = attention_sites(encoder)
    head_shape(encoder)
    taps: list[_LinearTap] = []
    try:
        for site in sites:
            for what, module in (("key", site.key), ("value", site.value)):
                if not isinstance(getattr(module, "weight", None), torch.Tensor) or module.weight.dim() != 2:
                    raise AuxlearnError(f"layer {site.layer} {what} projection has no 2-D weight matrix")
                taps.append(_LinearTap(module, f"layer {site.layer} {what} projection ({site.name})"))
    except BaseException:
        for tap in taps:
            tap.remove()
        raise
    return sites, taps


def per_example_reference_statistic(encoder: nn.Module, loss_fn: LossFn, batch: Mapping[str, Any]) -> np.ndarray:
    """The reference code's per-example ``[B, L, H]`` statistic for one batch (see :func:`reference_importance`)."""
    ids = batch_example_ids(batch)
    sites, taps = _reference_taps(encoder)
    try:
        with eval_mode(encoder), torch.enable_grad():
            return _reference_batch(sites, taps, loss_fn, batch, ids)
    finally:
        for tap in taps:
            tap.remove()


def reference_importance(encoder: nn.Module, loss_fn: LossFn, batches: Iterable[Mapping[str, Any]], *,
                         normalization: str = "sum") -> HeadImportance:
    """PARITY ONLY: the reference GradTS code's statistic (``mt_dnn/model.py::update_no_grad``, ``inference.py``).

    Per example: the absolute gradients of each layer's KEY and VALUE weight matrices (the QUERY weights are
    ignored, as the reference does although its comment says Q/K/V), summed elementwise, ``A = |dL/dW_K| +
    |dL/dW_V|`` of shape ``[out, in]``; the INPUT (last) dimension is split into ``H`` chunks of ``in / H``
    columns and ``stat[l, h]`` is the mean of ``A[:, chunk h]``. Then the same averaging and normalisation as
    :func:`head_importance`.

    THIS GROUPING IS THE KNOWN BUG of the reference code: the heads of ``W_K``/``W_V`` live along the
    OUTPUT rows, so a column chunk of the input dimension mixes every head, and the "head" index really
    indexes a block of input hidden units. Use :func:`head_importance` for anything but reproducing the
    reference numbers.

    Differences kept deliberately: eval mode (the reference leaves dropout on, which only adds noise), and
    per-example weight gradients formed in batch from each projection's input and output gradient (exactly
    what a batch-size-1 ``loss.backward()`` puts in ``.grad``; no parameter ``.grad`` is touched here).
    """
    acc = Accumulator(normalization, "reference")
    sites, taps = _reference_taps(encoder)
    try:
        with eval_mode(encoder), torch.enable_grad():
            for batch in batches:
                ids = batch_example_ids(batch)
                if len(ids) == 0:
                    continue
                acc.add(ids, _reference_batch(sites, taps, loss_fn, batch, ids))
    finally:
        for tap in taps:
            tap.remove()
    return acc.result()
