"""FASTQ reading: plain or gzipped, four lines per record; qualities are checked, not kept."""

from pathlib import Path
from typing import Iterator

from dnabert2.data.alphabet import clean_bases, invalid_characters
from dnabert2.data.fasta import FastaRecord, _lines
from dnabert2.runtime.errors import InputError


class FastqError(InputError):
    """A file that is not valid FASTQ; the message names the file and line."""


def read_fastq(path) -> Iterator[FastaRecord]:
    """Yield the records of a FASTQ file (plain or gzip) as ``FastaRecord`` (header without '@', cleaned sequence).

    Each record is four lines: '@' header, sequence, '+' (optionally repeating the header), quality of the same
    length as the sequence. Blank lines between records are skipped. A missing '+', a quality line of another
    length, letters that are not nucleotides or a record cut short is a ``FastqError`` naming file and line.
    """
    path = Path(path)
    lines = enumerate(_lines(path, FastqError, "FASTQ"), start=1)
    seen_any = False
    for number, header in lines:
        if not header.strip():
            continue
        if not header.startswith("@"):
            raise FastqError(f"{path}:{number}: expected a '@' header, got {header[:30]!r}; is this FASTQ?")
        record = [text for _, (_, text) in zip(range(3), lines)]
        if len(record) < 3:
            raise FastqError(f"{path}:{number}: truncated record (the file ends before its quality line).")
        sequence, plus, quality = record
        if not plus.startswith("+"):
            raise FastqError(f"{path}:{number + 2}: expected the '+' line, got {plus[:30]!r}.")
        if len(quality) != len(sequence):
            raise FastqError(
                f"{path}:{number + 3}: quality line has {len(quality)} characters for a "
                f"sequence of {len(sequence)} bases."
            )
        bases = clean_bases(sequence)
        bad = invalid_characters(bases)
        if bad:
            raise FastqError(f"{path}:{number + 1}: characters that are not nucleotides: {bad!r}.")
        seen_any = True
        yield FastaRecord(header[1:].strip(), bases)
    if not seen_any:
        raise FastqError(f"{path}: empty file or no FASTQ record.")
