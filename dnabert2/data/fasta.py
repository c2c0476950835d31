"""FASTA reading shared by every script: plain or gzipped, multi-record, wrapped, any case, CRLF line endings.

Letters follow the one DNA alphabet (``train/data/alphabet.py``); anything else is an error naming the file and line.
"""

import glob
import gzip
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dnabert2.data.alphabet import acgt_segments, clean_bases, invalid_characters
from dnabert2.runtime.errors import InputError


class FastaError(InputError):
    """A file that is not valid FASTA; the message names the file (and line where known)."""


@dataclass
class FastaRecord:
    """One FASTA record: its header line (without '>') and its cleaned sequence (``alphabet.clean_bases``)."""

    header: str
    sequence: str

    @property
    def name(self) -> str:
        """The record's ID: the header's first word, as FASTA tools take it."""
        return self.header.split(maxsplit=1)[0] if self.header.strip() else ""

    @property
    def description(self) -> str:
        """The rest of the header after the ID ('' when there is none)."""
        parts = self.header.split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""


def expand_paths(patterns) -> list[Path]:
    """Expand files, directories (their *.fa/*.fasta/*.fna[.gz]) and globs into a sorted list of files."""
    paths = []
    for pattern in [patterns] if isinstance(patterns, (str, Path)) else patterns:
        pattern = str(pattern)
        if Path(pattern).is_dir():
            found = [p for p in Path(pattern).iterdir() if re.search(r"\.(fa|fasta|fna)(\.gz)?$", p.name)]
            if not found:
                raise InputError(
                    f"input is a folder without FASTA files (*.fa, *.fasta, *.fna, gzipped or not): {pattern}"
                )
        else:
            found = [Path(p) for p in glob.glob(pattern)]
        if not found:
            raise InputError(f"No FASTA file matches {pattern!r}.")
        paths.extend(sorted(found))
    return paths


def _lines(path: Path, error: type = FastaError, kind: str = "FASTA") -> Iterator[str]:
    """The ASCII lines of a plain or gzipped text file, without line endings; ``error`` (naming the file as not
    ``kind``) for binary content or a corrupt gzip stream. Shared by the FASTA and FASTQ readers."""
    with open(path, "rb") as handle:
        opener = gzip.open if handle.read(2) == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:  # a byte-order mark (as some Windows editors write) is not content
                    yield (raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw).decode("ascii").rstrip("\r\n")
                except UnicodeDecodeError:
                    raise error(f"{path}:{number}: not a {kind} file (binary or non-ASCII content).") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as failure:
        raise error(f"{path}: corrupt or truncated gzip file ({failure}).") from None


def read_fasta(path) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file (plain or gzip), sequences upper-cased with U -> T."""
    path = Path(path)
    name, chunks, seen_any = None, [], False
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        if line.startswith(">"):
            if name is not None:
                yield FastaRecord(name, "".join(chunks))
            name, chunks, seen_any = line[1:].strip(), [], True
            continue
        if name is None:
            raise FastaError(f"{path}:{number}: sequence before the first '>' header; is this FASTA?")
        chunk = clean_bases(line)
        bad = invalid_characters(chunk)
        if bad:
            raise FastaError(f"{path}:{number}: characters that are not nucleotides: {bad!r}.")
        chunks.append(chunk)
    if not seen_any:
        raise FastaError(f"{path}: empty file or no FASTA record.")
    yield FastaRecord(name, "".join(chunks))


def is_held_out(file_name: str, record_name: str, percent: float) -> bool:
    """Deterministic split by whole records: a record is held out when a hash of its file and name says so."""
    return zlib.crc32(f"{Path(file_name).name}\t{record_name}".encode()) % 10000 < percent * 100


def read_segments(paths, split: str = "all", held_out_percent: float = 5.0, min_length: int = 1) -> Iterator[str]:
    """A/C/G/T segments of every record in ``paths``; ``split`` is "train", "held_out" or "all"."""
    for path in expand_paths(paths):
        for record in read_fasta(path):
            if split != "all" and is_held_out(path.name, record.header, held_out_percent) != (split == "held_out"):
                continue
            yield from acgt_segments(record.sequence, min_length)
