"""Word tables read row by row: the same rows as the array, in the order asked, and a file that
cannot hold its table is refused at once, not mid-question."""

from __future__ import annotations

import numpy as np
import pytest

from bot.index.rows import RowFile


def test_rows_come_back_as_the_array_holds_them(tmp_path):
    table = np.random.default_rng(3).random((500, 24), dtype=np.float32)
    np.save(tmp_path / "t.npy", table)
    rows = RowFile.of_npy(tmp_path / "t.npy")
    ids = np.array([[7, 3, 7], [499, 0, 3]])
    assert np.array_equal(rows[ids.reshape(-1)], table[ids.reshape(-1)])
    assert rows[[]].shape == (0, 24)
    with pytest.raises(IndexError):
        rows[[500]]


def test_a_table_cut_short_is_refused_when_opened(tmp_path):
    np.save(tmp_path / "t.npy", np.zeros((500, 24), np.float32))
    (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:10_000])
    with pytest.raises(ValueError, match="shorter than its table"):
        RowFile.of_npy(tmp_path / "t.npy")
    np.save(tmp_path / "c.npy", np.zeros((3, 4, 5), np.float32))
    with pytest.raises(ValueError, match="row-major table"):
        RowFile.of_npy(tmp_path / "c.npy")
