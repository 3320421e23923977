"""TokenRows: rows read straight from Arrow's list layout are the rows, and a padded batch is what row-by-row
padding gives, whatever the column's chunks and slices."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from auxlearn.data.token_rows import TokenRows

ROWS = [[101, 7, 8, 102], [101, 9, 102], [101, 102], [101, 4, 5, 6, 7, 102], [101, 3, 102]]


def _padded_by_hand(rows, indices, fill, width=None):
    width = width or max(len(rows[i]) for i in indices)
    matrix = np.full((len(indices), width), fill)
    for r, i in enumerate(indices):
        matrix[r, :len(rows[i])] = rows[i]
    return matrix


@pytest.mark.parametrize("make", [
    lambda: TokenRows.from_arrow(pa.array(ROWS, type=pa.list_(pa.int32()))),
    lambda: TokenRows.from_arrow(pa.chunked_array([pa.array(ROWS[:2]), pa.array(ROWS[2:])])),
    lambda: TokenRows.from_arrow(pa.array([[1, 1]] + ROWS + [[2]]).slice(1, len(ROWS))),  # offsets not from 0
], ids=["arrow", "chunks", "slice"])
def test_rows_lengths_and_padded_batches_are_those_of_the_lists(make):
    rows = make()
    assert len(rows) == len(ROWS) and list(rows) == ROWS and rows[3] == ROWS[3] and rows == ROWS
    assert rows.lengths.tolist() == [len(r) for r in ROWS]
    for indices in ([3, 0, 2], [1], [4, 4, 0]):
        matrix, real = rows.padded(indices, 0)
        assert matrix.tolist() == _padded_by_hand(ROWS, indices, 0).tolist()
        assert real.sum(1).tolist() == [len(ROWS[i]) for i in indices]
    assert rows.padded([2, 1], -1, width=8)[0].tolist() == _padded_by_hand(ROWS, [2, 1], -1, 8).tolist()
    assert list(rows.take([4, 1, 1])) == [ROWS[4], ROWS[1], ROWS[1]] and rows[1:3] == ROWS[1:3]
    assert list(rows.take([])) == []
