"""Rows of a big table in a file, read on demand: the embedding models' word tables.

A question uses a few dozen of a word table's 30,000 (MiniLM) or 250,000 (e5) rows. Mapped
into memory, every row it touched would stay in the process's resident memory, and with the
kernel's fault-around its neighbours too: after a day of varied questions e5's table alone was
~25 MB of the bot's RSS. Read with `pread`, the rows come from the page cache, which every
worker on the machine shares and the kernel drops under pressure, and the process keeps only the
batch it is embedding. Reading a question's rows costs ~1 µs each.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class RowFile:
    """A table of `rows` × `row_dtype` stored contiguously at `offset` in `path`."""

    def __init__(self, path: Path, offset: int, rows: int, row_dtype: np.dtype) -> None:
        self.path, self.offset, self.rows, self.row_dtype = Path(path), offset, rows, np.dtype(row_dtype)
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        end = offset + rows * self.row_dtype.itemsize
        if os.fstat(self._fd).st_size < end:
            self.close()
            raise ValueError(f"{path} is shorter than its table ({end} bytes expected)")

    @classmethod
    def of_npy(cls, path: Path) -> RowFile:
        """The 2-D array saved by `numpy.save` at `path`, one row per entry of its first axis."""
        with open(path, "rb") as file:
            major, _ = np.lib.format.read_magic(file)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(file)
            offset = file.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path} does not hold a row-major table")
        return cls(path, offset, shape[0], np.dtype((dtype, shape[1])))

    def __getitem__(self, ids) -> np.ndarray:
        """The rows `ids` (any sequence of row numbers), in that order, as one array."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.rows):
            raise IndexError(f"row out of range 0..{self.rows - 1}")
        unique, where = np.unique(ids, return_inverse=True)
        size = self.row_dtype.itemsize
        data = b"".join(os.pread(self._fd, size, self.offset + int(row) * size) for row in unique)
        if len(data) != size * len(unique):
            raise OSError(f"{self.path} was cut short while it was read")
        base = self.row_dtype.base
        table = np.frombuffer(data, base).reshape((len(unique), *self.row_dtype.shape))
        return table[where]

    def integer(self, at: int) -> int:
        """Row `at` of a table of single integers, as a Python int: for a loop that reads one at
        a time (the language identifier's automaton, a byte of text each)."""
        size = self.row_dtype.itemsize
        order = "big" if self.row_dtype.byteorder == ">" else "little"
        return int.from_bytes(os.pread(self._fd, size, self.offset + at * size), order)

    def close(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        self.close()
