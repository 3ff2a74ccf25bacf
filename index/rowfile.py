"""A float32 matrix in a `.npy` file, written and read a block of rows at a time with plain file I/O.

A build streams a million sentence vectors through it: rows arrive out of order (cached articles
at once, embedded ones a batch later) and are read back in chunks to train and fill FAISS.
Plain reads and writes keep the process's memory bounded; a memmap would count every page it
touched in the process's RSS. The file is an ordinary `.npy` that `np.load` reads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

DTYPE = np.dtype("<f4")


class RowFile:
    """`rows` × `dimension` float32 rows; unwritten rows read as zeros."""

    def __init__(self, path: Path, rows: int, dimension: int) -> None:
        self.path = Path(path)
        self.rows = rows
        self.dimension = dimension
        with open(self.path, "wb") as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": DTYPE.str, "fortran_order": False, "shape": (rows, dimension)})
            self._data_offset = handle.tell()
            handle.truncate(self._data_offset + rows * self._row_bytes)
        self._fd = os.open(self.path, os.O_RDWR)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows, self.dimension

    def __len__(self) -> int:
        return self.rows

    def write(self, row: int, block: np.ndarray) -> None:
        """Store `block` as rows `row`, `row + 1`, ..."""
        block = np.ascontiguousarray(block, dtype=DTYPE)
        if block.ndim != 2 or block.shape[1] != self.dimension or not 0 <= row <= self.rows - len(block):
            raise ValueError(f"rows {row}..{row + len(block)} of width {block.shape[-1]} do not fit {self.shape}")
        os.pwrite(self._fd, block.tobytes(), self._data_offset + row * self._row_bytes)

    def read(self, start: int, stop: int) -> np.ndarray:
        stop = min(stop, self.rows)
        data = os.pread(self._fd, (stop - start) * self._row_bytes, self._data_offset + start * self._row_bytes)
        return np.frombuffer(data, dtype=DTYPE).reshape(stop - start, self.dimension).copy()

    def chunks(self, size: int) -> Iterator[np.ndarray]:
        for start in range(0, self.rows, size):
            yield self.read(start, start + size)

    def take(self, rows: np.ndarray, chunk: int) -> np.ndarray:
        """The given rows (sorted ascending), read in one pass of `chunk`-row blocks."""
        rows = np.asarray(rows, dtype=np.int64)
        taken = np.empty((len(rows), self.dimension), dtype=DTYPE)
        bounds = np.searchsorted(rows, np.arange(0, self.rows + chunk, chunk))
        for number, block in enumerate(self.chunks(chunk)):
            first, last = bounds[number], bounds[number + 1]
            taken[first:last] = block[rows[first:last] - number * chunk]
        return taken

    def close(self, *, sync: bool = True) -> None:
        """Close the file, first flushing it to disk unless it is scratch about to be deleted."""
        if sync:
            os.fsync(self._fd)
        os.close(self._fd)

    @property
    def _row_bytes(self) -> int:
        return self.dimension * DTYPE.itemsize
