"""The DNA alphabet, decided once for every reader (FASTA, CSV, VCF windows), the tokenizer and the CNN baseline.

- Case does not matter: lower case (soft-masked repeats) is upper-cased; U (RNA) is read as T.
- A, C, G, T are bases. N and the other IUPAC ambiguity codes (R Y K M S W B D H V) are valid letters: readers keep
  them in place, the model reads them as [UNK] tokens (the vocabulary holds A/C/G/T merges only), and pretraining
  and tokenizer training split sequences at them (``acgt_segments``), so models only ever train on unambiguous bases.
- Gap and stop characters of aligned FASTA ('-', '.', '*') are dropped; whitespace inside a sequence is dropped.
- Anything else (digits, protein letters, punctuation, control bytes) is an error that the reader reports with its
  file and line (``invalid_characters``).
"""

import re
from dataclasses import dataclass

import numpy as np

ACGT = "ACGT"
AMBIGUITY_CODES = "NRYKMSWBDHV"
NUCLEOTIDES = frozenset(ACGT + AMBIGUITY_CODES)
_CLEAN = str.maketrans({"U": "T", "-": None, ".": None, "*": None})
_WHITESPACE = re.compile(r"\s+")
_NON_ACGT = re.compile(f"[^{ACGT}]+")
# What happens to N and other ambiguity codes where a model reads them, said once in every command's log.
MODEL_READS_AMBIGUITY = "the model reads each as an [UNK] token (its vocabulary holds A/C/G/T merges only)"
NOT_ACGT = 255  # acgt_codes' code for every letter but A, C, G and T
_ACGT_CODES = np.full(256, NOT_ACGT, dtype=np.uint8)
for _code, _base in enumerate(ACGT):
    _ACGT_CODES[ord(_base)] = _ACGT_CODES[ord(_base.lower())] = _code
_COMPLEMENT = str.maketrans("ACGTNRYKMSWBDHVacgtnrykmswbdhv", "TGCANYRMKSWVHDBtgcanyrmkswvhdb")


def clean_bases(text: str) -> str:
    """``text`` upper-cased, U -> T, gaps and whitespace dropped; other letters kept for ``invalid_characters``."""
    return _WHITESPACE.sub("", text).upper().translate(_CLEAN)


def invalid_characters(sequence: str) -> str:
    """The distinct characters of a cleaned sequence that are not nucleotide letters, sorted ('' when none)."""
    return "".join(sorted(set(sequence) - NUCLEOTIDES))


def non_acgt_count(sequence: str) -> int:
    """How many letters of a cleaned sequence are N or another ambiguity code."""
    return sum(len(run) for run in _NON_ACGT.findall(sequence))


def is_acgt(sequence: str) -> bool:
    """True when a cleaned sequence holds A, C, G and T only."""
    return _NON_ACGT.search(sequence) is None


def acgt_codes(sequence: str) -> np.ndarray:
    """One uint8 per byte of ``sequence``: 0-3 for A, C, G, T in either case, NOT_ACGT for anything else."""
    return _ACGT_CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]


def reverse_complement(sequence: str) -> str:
    """The other strand, read 5' to 3', case kept (ambiguity codes complemented: R<->Y, K<->M, B<->V, D<->H; S, W,
    N kept)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def acgt_segments(sequence: str, min_length: int = 1) -> list[str]:
    """Split a cleaned sequence at runs of N and other ambiguity codes; keep pieces of at least ``min_length``."""
    return [piece for piece in _NON_ACGT.split(sequence) if len(piece) >= min_length]


@dataclass
class BaseTally:
    """How many bases a command met, and how many of them were N or another ambiguity code."""

    sequences: int = 0
    bases: int = 0
    ambiguous: int = 0
    sequences_with_ambiguity: int = 0

    def add(self, sequence: str):
        """Count one cleaned sequence."""
        ambiguous = non_acgt_count(sequence)
        self.sequences += 1
        self.bases += len(sequence)
        self.ambiguous += ambiguous
        self.sequences_with_ambiguity += ambiguous > 0

    def report(self, treatment: str = MODEL_READS_AMBIGUITY) -> str:
        """One line for the log: the counts and what was done with the ambiguous bases."""
        if not self.ambiguous:
            return f"Bases: {self.bases:,} in {self.sequences:,} sequences, all A/C/G/T."
        return (
            f"Bases: {self.ambiguous:,} of {self.bases:,} ({self.ambiguous / self.bases:.2%}) in "
            f"{self.sequences_with_ambiguity:,} of {self.sequences:,} sequences were N or another ambiguity code: "
            f"{treatment}."
        )
