"""Writers of the pipeline's final outputs: delimited text (CSV, TSV) and .npy matrices, each appearing under its
name only once complete."""

import csv
from typing import Iterable

import numpy as np

from dnabert2.runtime.files import atomic_output


def write_delimited(path, header: list[str], rows: Iterable[list], delimiter: str = ",") -> int:
    """Write ``header`` and ``rows`` (lists of cells) to a CSV (or, with ``delimiter="\\t"``, TSV) file, atomically;
    returns the number of rows."""
    count = 0
    with atomic_output(path) as output, open(output, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")  # Unix lines: cut, awk, paste
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


class NpyRowWriter:
    """Rows of float32 appended to a .npy file as they come; the header's row count is written on ``close``.

    The rows go to a temporary file that becomes ``path`` on ``close``; used as a context manager, an error inside
    the block removes it, so a half-written .npy never looks finished."""

    HEADER_BYTES = 128  # magic, version, length, then the header dict padded with spaces

    def __init__(self, path):
        self._output = atomic_output(path)
        self.handle = open(self._output.__enter__(), "wb")
        self.handle.write(b"\0" * self.HEADER_BYTES)
        self.rows, self.width = 0, None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.close()
        else:
            self.handle.close()
            self._output.__exit__(kind, error, traceback)

    def write(self, row: np.ndarray):
        """Append one row (all rows have the width of the first)."""
        row = np.ascontiguousarray(row, dtype="<f4")
        if self.width is None:
            self.width = row.shape[0]
        self.handle.write(row.tobytes())
        self.rows += 1

    def close(self):
        """Write the header for the rows written and close the file."""
        header = repr({"descr": "<f4", "fortran_order": False, "shape": (self.rows, self.width or 0)})
        header = header.encode("latin1").ljust(self.HEADER_BYTES - 10 - 1) + b"\n"
        self.handle.seek(0)
        self.handle.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
        self.handle.close()
        self._output.__exit__(None, None, None)
