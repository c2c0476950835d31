"""BED regions: (chrom, start, end[, name]) lines, and their sequences cut from an indexed reference FASTA."""

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dnabert2.data.alphabet import invalid_characters
from dnabert2.data.fasta import FastaRecord
from dnabert2.data.reference import IndexedFasta, ReferenceError
from dnabert2.runtime.errors import InputError


class BedError(InputError):
    """A BED line that cannot be read or fetched; the message names the BED file and line."""


@dataclass
class Region:
    """One BED region: 0-based, half-open ``[start, end)`` on ``chrom``; ``line`` is its line in the file."""

    chrom: str
    start: int
    end: int
    name: str
    line: int


def read_bed(path) -> Iterator[Region]:
    """The regions of a BED file, in file order; header lines ('track', 'browser', '#') and blank lines are
    skipped. A region without a name (4th column) is named ``chrom:start-end``."""
    path = Path(path)
    with open(path, encoding="ascii", errors="replace") as handle:  # binary content fails as a bad line, below
        for number, line in enumerate(handle, start=1):
            line = line.removeprefix("\ufeff")
            fields = line.rstrip("\r\n").split("\t") if "\t" in line else line.split()
            if not line.strip() or fields[0].startswith(("#", "track", "browser")):
                continue
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise BedError(
                    f"{path}:{number}: expected chrom, start, end (integers), got {line.strip()[:60]!r}."
                ) from None
            if not 0 <= start <= end:
                raise BedError(
                    f"{path}:{number}: start {start} and end {end} do not make a region (0 <= start <= end)."
                )
            name = fields[3].strip() if len(fields) > 3 and fields[3].strip() else f"{chrom}:{start}-{end}"
            yield Region(chrom, start, end, name, number)


def read_bed_sequences(bed_path, fasta_path) -> Iterator[FastaRecord]:
    """One record per BED region (header: the region's name), its bases cut from the indexed ``fasta_path``.

    "chr1" and "1" name the same contig. A contig the FASTA lacks, or a region past its contig's end, is a
    ``BedError`` naming the BED file and line.
    """
    with IndexedFasta(fasta_path) as reference:
        yield from _region_sequences(bed_path, reference)


def _region_sequences(bed_path, reference: IndexedFasta) -> Iterator[FastaRecord]:
    for region in read_bed(bed_path):
        where = f"{bed_path}:{region.line}"
        try:
            contig = reference.contig(region.chrom)
        except ReferenceError as error:
            raise BedError(f"{where}: {error}") from None
        if region.end > reference.lengths[contig]:
            raise BedError(
                f"{where}: region {region.chrom}:{region.start}-{region.end} goes past the end of contig "
                f"{contig!r} ({reference.lengths[contig]:,} bp)."
            )
        sequence = reference.fetch(contig, region.start, region.end)
        bad = invalid_characters(sequence)
        if bad:
            raise BedError(f"{where}: the reference holds characters that are not nucleotides there: {bad!r}.")
        yield FastaRecord(region.name, sequence)
