"""The reader of every inference job: records of a FASTA/FASTQ(.gz), BED (+ indexed FASTA) or CSV file as pieces,
cut in windows when asked. Input paths are checked before any work starts."""

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from dnabert2.data.alphabet import clean_bases, invalid_characters
from dnabert2.data.fasta import expand_paths
from dnabert2.data.records import read_records
from dnabert2.data.tasks import read_csv_split, sequence_columns_of
from dnabert2.runtime.errors import InputError, existing_path


@dataclass
class Piece:
    """One input to score: a whole record or CSV row, or a window ``[start, end)`` (bp) of a long record;
    ``index`` is the record's position in the input (names may repeat, indices do not); ``description`` the rest of
    its header after the name."""

    name: str
    sequences: tuple
    start: int = 0
    end: int | None = None
    index: int = 0
    description: str = ""


def check_inputs(input_path, fasta=None):
    """``InputError`` naming a missing input (or reference FASTA), a folder given where a file is wanted, or a BED
    file without its reference; nothing is read."""
    path = existing_path(input_path, "input")
    if path.is_dir():
        expand_paths(path)  # a folder must hold FASTA files
    if path.suffix == ".bed" and fasta is None:
        raise InputError(f"{path}: BED regions need the reference FASTA they refer to (--fasta).")
    if fasta is not None and not existing_path(fasta, "reference FASTA").is_file():
        raise InputError(f"reference FASTA is a folder, not a file: {fasta}")


def iter_inputs(path, fasta=None) -> Iterator[Piece]:
    """Pieces of a CSV (``sequence`` or ``sequence1,sequence2`` columns; read and checked whole), or of the
    records of a FASTA/FASTQ(.gz) file (or folder or glob of FASTA files) or BED regions of ``fasta``
    (``read_records``, one record at a time)."""
    check_inputs(path, fasta)
    path = Path(path)
    if path.suffix == ".csv":
        columns = read_csv_split(path, require_labels=False)
        keys = sequence_columns_of(columns)
        for row, sequences in enumerate(zip(*(columns[k] for k in keys))):
            yield Piece(str(row), tuple(sequences), 0, len(sequences[0]), row)
        return
    for index, record in enumerate(read_records(path, fasta)):
        yield Piece(record.name, (record.sequence,), 0, len(record.sequence), index, record.description)


def read_inputs(path) -> tuple[list[str], list[tuple]]:
    """Names and sequence tuples of a whole CSV or FASTA file (``iter_inputs`` collected)."""
    pieces = list(iter_inputs(path))
    return [p.name for p in pieces], [p.sequences for p in pieces]


def as_pieces(sequences) -> Iterator[Piece]:
    """Pieces of in-memory sequences: strings (one sequence each) or tuples (pairs), named by their position, read
    by the one DNA alphabet as files are (case ignored, U as T, gaps dropped; other letters an error)."""
    for index, item in enumerate(sequences):
        item = tuple(clean_bases(text) for text in ((item,) if isinstance(item, str) else item))
        bad = "".join(sorted({character for text in item for character in invalid_characters(text)}))
        if bad:
            raise InputError(f"sequence {index}: characters that are not nucleotides: {bad!r}.")
        yield Piece(str(index), item, 0, len(item[0]), index)


def sliding_windows(pieces: Iterable[Piece], window_bp: int | None, stride_bp: int | None = None) -> Iterator[Piece]:
    """Cut single sequences longer than ``window_bp`` into windows every ``stride_bp`` (default: the window).

    The last window ends at the record's end (it may overlap the one before), so every base is covered.
    Pairs of sequences are never cut. ``window_bp=None`` passes the pieces through whole.
    """
    check_windows(window_bp, stride_bp)
    stride_bp = stride_bp or window_bp
    for piece in pieces:
        sequence = piece.sequences[0]
        if window_bp is None or len(piece.sequences) > 1 or len(sequence) <= window_bp:
            yield piece
            continue
        starts = list(range(0, len(sequence) - window_bp, stride_bp)) + [len(sequence) - window_bp]
        for start in dict.fromkeys(starts):
            yield Piece(
                piece.name,
                (sequence[start : start + window_bp],),
                start,
                start + window_bp,
                piece.index,
                piece.description,
            )


def check_windows(window_bp: int | None, stride_bp: int | None):
    """``InputError`` for a stride without a window, or a stride outside (0, window] (bases would go unscored)."""
    if window_bp is None:
        if stride_bp:
            raise InputError("--stride needs --window.")
        return
    if window_bp < 1 or not 0 < (stride_bp or window_bp) <= window_bp:
        raise InputError(
            f"Windows need 0 < stride <= window (got window {window_bp}, stride {stride_bp}): a larger "
            "stride would leave bases unscored."
        )
