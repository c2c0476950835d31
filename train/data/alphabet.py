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

ACGT = "ACGT"
AMBIGUITY_CODES = "NRYKMSWBDHV"
NUCLEOTIDES = frozenset(ACGT + AMBIGUITY_CODES)
_CLEAN = str.maketrans({"U": "T", "-": None, ".": None, "*": None})
_WHITESPACE = re.compile(r"\s+")
_NON_ACGT = re.compile(f"[^{ACGT}]+")
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


def reverse_complement(sequence: str) -> str:
    """The other strand, read 5' to 3', case kept (ambiguity codes complemented: R<->Y, K<->M, B<->V, D<->H; S, W,
    N kept)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def acgt_segments(sequence: str, min_length: int = 1) -> list[str]:
    """Split a cleaned sequence at runs of N and other ambiguity codes; keep pieces of at least ``min_length``."""
    return [piece for piece in _NON_ACGT.split(sequence) if len(piece) >= min_length]
