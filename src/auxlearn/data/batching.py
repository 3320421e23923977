"""Batches: padded to the longest sequence of the batch, optionally grouped by length, endless for training."""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np
import torch

from auxlearn.data.encode import EncodedSplit
from auxlearn.data.token_rows import TokenRows

# Length grouping sorts windows of this many batches by length, as transformers' LengthGroupedSampler does.
GROUP_WINDOW_BATCHES = 50


def _pad(rows: TokenRows, indices: Sequence[int], fill: int,
         width: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows at ``indices`` padded with ``fill`` to the longest (or to ``width``), and their attention mask."""
    matrix, real = rows.padded(indices, fill, width)
    return torch.from_numpy(matrix), torch.from_numpy(real.astype(np.int64))


def collate(split: EncodedSplit, indices: Sequence[int], pad_id: int,
            pad_to: Optional[int] = None) -> dict[str, torch.Tensor]:
    """Stack examples ``indices`` into tensors padded to the longest (or to ``pad_to``).

    The second texts of siamese pairs are padded on their own, to their own longest; the split's task type
    stacks the labels."""
    input_ids, attention_mask = _pad(split.input_ids, indices, pad_id, pad_to)
    width = input_ids.shape[1]
    batch = {"input_ids": input_ids, "attention_mask": attention_mask,
             "example_id": torch.as_tensor(split.example_ids[list(indices)])}
    if split.pair_input_ids is not None:
        batch["pair_input_ids"], batch["pair_attention_mask"] = _pad(split.pair_input_ids, indices, pad_id, pad_to)
    if split.token_type_ids is not None:
        batch["token_type_ids"] = _pad(split.token_type_ids, indices, 0, width)[0]
    batch["labels"] = split.task_type.collate_labels([split.labels[i] for i in indices], width)
    return batch


def epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                  group_by_length: bool) -> list[np.ndarray]:
    """One shuffled pass over the examples, as a list of index arrays."""
    order = rng.permutation(len(lengths))
    if group_by_length:
        window = batch_size * GROUP_WINDOW_BATCHES
        order = np.concatenate([
            chunk[np.argsort(-lengths[chunk], kind="stable")]
            for chunk in np.array_split(order, max(1, -(-len(order) // window)))
        ])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class EndlessBatches:
    """A task's training batches, reshuffled every epoch, forever. Its state is a checkpointable dict.

    ``examples`` and ``tokens`` count what it has handed out, tokens from ``split.lengths`` (both texts of a
    siamese pair), so the training step needs no device sync to count them."""

    def __init__(self, split: EncodedSplit, batch_size: int, pad_id: int, *, seed: int,
                 group_by_length: bool = False, pad_to: Optional[int] = None, shard: tuple[int, int] = (0, 1)):
        """``shard`` (index, count): with several processes, each draws the same global batches and collates
        its own share of each (every ``count``-th example from ``index``)."""
        self.split, self.batch_size, self.pad_id = split, batch_size, pad_id
        self.group_by_length, self.pad_to, self.shard = group_by_length, pad_to, shard
        self.lengths = split.lengths
        self.rng = np.random.default_rng(seed)
        self.epoch, self.position, self.batches = 0, 0, epoch_batches(self.lengths, batch_size, self.rng,
                                                                      group_by_length)
        self.examples = self.tokens = 0

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self.position == len(self.batches):
            self.epoch, self.position = self.epoch + 1, 0
            self.batches = epoch_batches(self.lengths, self.batch_size, self.rng, self.group_by_length)
        indices = self.batches[self.position]
        self.position += 1
        self.examples += len(indices)
        self.tokens += int(self.lengths[indices].sum())
        return collate(self.split, self._share(indices), self.pad_id, self.pad_to)

    def _share(self, indices: np.ndarray) -> np.ndarray:
        """This process's examples of a global batch; a batch that does not divide evenly repeats its first
        examples to fill the last shares (as torch's DistributedSampler pads), so no process gets none."""
        index, count = self.shard
        if count == 1:
            return indices
        return np.resize(indices, len(indices) + -len(indices) % count)[index::count]  # resize repeats cyclically

    def state_dict(self) -> dict:
        """Where this task is in its data order (checkpointed: a resumed run draws the batches it would have)."""
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch, "position": self.position,
                "batches": [b.tolist() for b in self.batches], "examples": self.examples, "tokens": self.tokens}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.position = state["epoch"], state["position"]
        self.batches = [np.asarray(b, dtype=np.int64) for b in state["batches"]]
        self.examples, self.tokens = state["examples"], state["tokens"]


def eval_batches(split: EncodedSplit, batch_size: int, pad_id: int,
                 max_tokens: Optional[int] = None) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Batches sorted by length (least padding), with the indices of their examples in ``split``.

    ``max_tokens`` caps a batch's padded size (examples x longest): on a CPU, batches whose activations fit in
    the caches ran fastest (``bench/throughput.py``), so short texts go many to a batch and long ones few."""
    lengths = split.lengths
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = min(start + batch_size, len(order))
        if max_tokens is not None:  # sorted ascending: the last example of a batch is its longest
            fits = np.nonzero(lengths[order[start:end]] * np.arange(1, end - start + 1) <= max_tokens)[0]
            end = start + (int(fits[-1]) + 1 if len(fits) else 1)
        indices = order[start:end]
        yield indices, collate(split, indices, pad_id)
        start = end
