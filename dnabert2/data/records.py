"""Sequence records from any supported file, the reader chosen by its name: FASTA, FASTQ or BED regions."""

import re
from pathlib import Path
from typing import Iterator

from dnabert2.data.bed import read_bed_sequences
from dnabert2.data.fasta import FastaRecord, expand_paths, read_fasta
from dnabert2.data.fastq import read_fastq
from dnabert2.runtime.errors import InputError

FASTQ_NAME = re.compile(r"\.(fq|fastq)(\.gz)?$")


def read_records(path, fasta=None) -> Iterator[FastaRecord]:
    """The records of ``path``: FASTQ (*.fq, *.fastq[.gz]), BED regions cut from the indexed ``fasta`` (*.bed),
    else FASTA (a file, a folder of them or a glob)."""
    path = Path(path)
    if FASTQ_NAME.search(path.name):
        yield from read_fastq(path)
    elif path.suffix == ".bed":
        if fasta is None:
            raise InputError(f"{path}: BED regions need the reference FASTA they refer to (--fasta).")
        yield from read_bed_sequences(path, fasta)
    else:
        for file in expand_paths(str(path)):
            yield from read_fasta(file)
