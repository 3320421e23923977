"""Rows of token ids of different lengths, in one flat array with offsets: Arrow's list layout, read without a copy.

A split's columns used to stay ``datasets`` columns, read a row at a time: each row cost an Arrow slice and a
conversion to a Python list, and collating one training batch of 16 pairs took 5.5 ms, 3 % of a bfloat16 step on
a Xeon with AMX (``bench/step_profile.py``). Here a batch is padded by one gather from the flat array.
Memory stays that of the Arrow buffers (memory-mapped from the encoding cache), not of Python lists.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence

import numpy as np
import pyarrow as pa


class TokenRows(Sequence):
    """``rows[i]``: row ``i``'s ids as a list, as the rows of a split built in memory are; ``padded`` builds a
    batch's matrix at once and ``lengths`` needs no row read."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values, self.offsets = values, offsets.astype(np.int64, copy=False)

    @classmethod
    def from_arrow(cls, column: pa.ChunkedArray | pa.Array) -> "TokenRows":
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        return cls(array.values.to_numpy(zero_copy_only=False), array.offsets.to_numpy())

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        return self.values[self.offsets[index]:self.offsets[index + 1]].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        values, offsets = self.values, self.offsets
        return (values[offsets[i]:offsets[i + 1]].tolist() for i in range(len(self)))

    def __eq__(self, other) -> bool:
        """Row by row, as lists of rows compare."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == list(b) for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def _spans(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Where the rows at ``indices`` start in the flat array, and their lengths (read for those rows only:
        a batch does not diff the whole split's offsets)."""
        indices = np.asarray(indices, dtype=np.int64)
        starts = self.offsets[indices]
        return starts, self.offsets[indices + 1] - starts

    def take(self, indices: Sequence[int]) -> "TokenRows":
        """The rows at ``indices``, in that order, as rows of their own."""
        starts, lengths = self._spans(indices)
        return TokenRows(self.values[_positions(starts, lengths, int(lengths.max(initial=0)))[1]],
                         np.concatenate([[0], np.cumsum(lengths)]))

    def padded(self, indices: Sequence[int], fill: int, width: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows at ``indices`` padded with ``fill`` to ``width`` (default: the longest), and where they are real."""
        starts, lengths = self._spans(indices)
        real, positions = _positions(starts, lengths, width or int(lengths.max(initial=0)))
        matrix = np.full(real.shape, fill, dtype=np.int64)
        matrix[real] = self.values[positions]
        return matrix, real


def _positions(starts: np.ndarray, lengths: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Which cells of a [rows, width] matrix hold a token, and those tokens' positions in the flat array."""
    columns = np.arange(width)
    real = columns < lengths[:, None]
    return real, (starts[:, None] + columns)[real]
