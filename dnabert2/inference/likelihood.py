"""Pseudo-log-likelihoods (PLL) of DNA sequences under a masked language model.

A sequence's PLL is the sum, over its scored tokens, of the log-probability the model gives the true token when that
token alone is masked (every other token visible). Exact scoring builds one masked copy of the sequence per scored
token; the copies of many sequences go through the model in batches bounded by a token budget, and only the masked
position of each copy is read out: with DNABERT-2 (``DNABert2ForMaskedLM.logits_at``) neither the MLM head nor the
last encoder layer runs anywhere else. ``mask_stride=k`` is the fast approximation: copy ``c`` masks every k-th
scored token from the c-th on (k copies per sequence), so each token is predicted with the other masked tokens of its
copy hidden too.

Scored tokens: every token of the sequence except the special ones ([CLS], [SEP], padding) and [UNK] (each N is
one), which stay as context. ``regions`` limit scoring to the tokens that overlap a bp interval of each sequence.
"""

import itertools
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
import torch

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.batching import token_budget_batches
from dnabert2.inference.inputs import Piece
from dnabert2.inference.loading import load_masked_lm
from dnabert2.inference.pipeline import Job, PieceReader, position_columns
from dnabert2.inference.sharding import worker_device
from dnabert2.runtime.errors import InputError


@dataclass
class TokenScores:
    """One sequence's scored tokens: their ids, bp spans ``[starts, ends)`` in the sequence (None where the
    tokenizer gives no offsets) and log-probabilities (natural log)."""

    token_ids: np.ndarray
    starts: np.ndarray | None
    ends: np.ndarray | None
    log_probs: np.ndarray

    @property
    def pll(self) -> float:
        """The pseudo-log-likelihood: the sum of the scored tokens' log-probabilities."""
        return float(self.log_probs.sum())

    @property
    def bases(self) -> int | None:
        """bp covered by the scored tokens (None without offsets)."""
        return None if self.starts is None else int((self.ends - self.starts).sum())

    def per_base(self, length: int) -> np.ndarray:
        """(length,) float32: each base of a scored token gets the token's log-probability divided by the token's
        length in bp (so the track sums to the PLL); NaN at bases of unscored tokens."""
        if self.starts is None:
            raise InputError("Per-base scores need token offsets: this tokenizer gives none (use a fast tokenizer).")
        track = np.full(length, np.nan, dtype=np.float32)
        for start, end, value in zip(self.starts, self.ends, self.log_probs):
            track[start:end] = value / (end - start)
        return track


@dataclass
class _Prepared:
    """A tokenized sequence, the positions of its scored tokens and their bp spans."""

    ids: list
    positions: np.ndarray
    starts: np.ndarray | None
    ends: np.ndarray | None


def _prepare(tokenizer, sequences: list[str], regions) -> list[_Prepared]:
    """Tokenize ``sequences`` and choose each one's scored tokens (within its region, if any)."""
    offsets = getattr(tokenizer, "is_fast", False)
    if regions is not None and not offsets:
        raise InputError("Scoring a region needs token offsets: this tokenizer gives none (use a fast tokenizer).")
    encoded = tokenizer(
        list(sequences), return_special_tokens_mask=True, return_offsets_mapping=offsets, add_special_tokens=True
    )
    prepared = []
    for number, ids in enumerate(encoded["input_ids"]):
        special = np.asarray(encoded["special_tokens_mask"][number], dtype=bool)
        keep = ~special & (np.asarray(ids) != tokenizer.unk_token_id)
        spans = np.asarray(encoded["offset_mapping"][number], dtype=np.int64).reshape(-1, 2) if offsets else None
        if regions is not None and regions[number] is not None:
            start, end = regions[number]
            keep &= (spans[:, 0] < end) & (spans[:, 1] > start)
        positions = np.flatnonzero(keep)
        prepared.append(
            _Prepared(
                list(ids),
                positions,
                None if spans is None else spans[positions, 0],
                None if spans is None else spans[positions, 1],
            )
        )
    return prepared


def mask_groups(count: int, mask_stride: int | None = None) -> list[np.ndarray]:
    """Which of ``count`` scored tokens each masked copy hides: without ``mask_stride`` one copy per token (exact);
    with ``k``, min(k, count) copies, copy ``c`` hiding tokens c, c + k, c + 2k, ..."""
    if mask_stride is not None and mask_stride < 1:
        raise InputError(f"--mask_stride must be at least 1, got {mask_stride}.")
    stride = count if mask_stride is None else mask_stride
    indices = np.arange(count)
    return [indices[c::stride] for c in range(min(stride, count))]


def masked_logits(model, input_ids, attention_mask, positions) -> torch.Tensor:
    """A masked LM's logits at ``positions`` ((batch, seqlen) bool) alone, flat in batch-major order: DNABERT-2's
    ``logits_at`` (head and last layer run only there), any other Hugging Face masked LM's full logits indexed."""
    if hasattr(model, "logits_at"):
        return model.logits_at(input_ids, positions, attention_mask)
    return model(input_ids=input_ids, attention_mask=attention_mask).logits[positions]


@torch.no_grad()
def token_log_likelihoods(
    model,
    tokenizer,
    sequences: Iterable[str],
    mask_stride: int | None = None,
    regions: list | None = None,
    max_tokens_per_batch: int = 16384,
) -> list[TokenScores]:
    """Each sequence's scored tokens and their log-probabilities, each token masked alone (with ``mask_stride=k``,
    every k-th token masked in each of k copies). ``regions``: per sequence None or (start, end) in bp; only tokens that
    overlap it are scored. Masked copies are batched by ``max_tokens_per_batch`` (copies x length)."""
    if tokenizer.mask_token_id is None:
        raise InputError("This tokenizer has no mask token: pseudo-likelihoods need a masked language model.")
    sequences = list(sequences)
    prepared = _prepare(tokenizer, sequences, regions)
    jobs = [(s, group) for s, item in enumerate(prepared) for group in mask_groups(len(item.positions), mask_stride)]
    log_probs = [np.zeros(len(item.positions)) for item in prepared]
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for batch in token_budget_batches([len(prepared[s].ids) for s, _ in jobs], max_tokens_per_batch):
        longest = max(len(prepared[jobs[j][0]].ids) for j in batch)
        ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
        attention = torch.zeros_like(ids)
        read = torch.zeros_like(ids, dtype=torch.bool)
        for row, j in enumerate(batch):
            item = prepared[jobs[j][0]]
            ids[row, : len(item.ids)] = torch.tensor(item.ids)
            attention[row, : len(item.ids)] = 1
            read[row, torch.from_numpy(item.positions[jobs[j][1]])] = True
        true = ids[read]
        ids[read] = tokenizer.mask_token_id
        logits = masked_logits(model, ids.to(device), attention.to(device), read.to(device))
        scores = torch.log_softmax(logits.float(), dim=-1).gather(1, true.to(device)[:, None])[:, 0].double().cpu()
        taken = 0
        for j in batch:
            s, group = jobs[j]
            log_probs[s][group] = scores[taken : taken + len(group)].numpy()
            taken += len(group)
    return [
        TokenScores(np.asarray(item.ids)[item.positions], item.starts, item.ends, values)
        for item, values in zip(prepared, log_probs)
    ]


def pseudo_log_likelihood(
    model, tokenizer, sequences: Iterable[str], mask_stride: int | None = None, max_tokens_per_batch: int = 16384
) -> np.ndarray:
    """Each sequence's pseudo-log-likelihood (natural log; exact unless ``mask_stride`` is given), float64 array.

    ``model``: a masked LM in eval mode (``dnabert2.inference.loading.load_masked_lm``); ``tokenizer``: its tokenizer
    (``dnabert2.data.tokenizer.load_tokenizer``).
    """
    scores = token_log_likelihoods(model, tokenizer, sequences, mask_stride, None, max_tokens_per_batch)
    return np.array([score.pll for score in scores])


def load_scorer(model_name_or_path, device=None, kmer: int | None = None):
    """(masked LM in eval mode on ``device``, default this process's GPU or the CPU; its tokenizer, ``kmer`` as in
    ``load_tokenizer``) of a masked-LM folder or Hub id: this project's model, or any other ``AutoModelForMaskedLM``
    (BERT, ESM, ...)."""
    model = load_masked_lm(model_name_or_path).to(device or worker_device())
    return model, load_tokenizer(model_name_or_path, kmer)


COLUMNS = ["name", "start", "end", "tokens", "pll", "pll_per_bp"]


def parse_region(text: str | None) -> tuple[int, int] | None:
    """``START:END`` (0-based bp, end exclusive, in each record's coordinates) as a pair, or None."""
    if text is None:
        return None
    try:
        start, end = (int(value) for value in text.split(":"))
    except ValueError:
        raise InputError(f"--region must be START:END in bp (e.g. 100:250), got {text!r}.") from None
    if not 0 <= start < end:
        raise InputError(f"--region needs 0 <= START < END, got {text!r}.")
    return start, end


def piece_region(piece: Piece, region: tuple[int, int] | None) -> tuple[int, int] | None:
    """A record-coordinate region in the coordinates of ``piece`` (a record or a window of one); (0, 0) when the
    piece lies outside it."""
    if region is None:
        return None
    start, end = max(region[0] - piece.start, 0), min(region[1] - piece.start, len(piece.sequences[0]))
    return (start, end) if start < end else (0, 0)


def score_pieces(
    model,
    tokenizer,
    pieces: Iterable[Piece],
    mask_stride: int | None = None,
    region: tuple[int, int] | None = None,
    max_tokens_per_batch: int = 16384,
    chunk: int = 256,
) -> Iterator[tuple[Piece, TokenScores]]:
    """(piece, its ``TokenScores``) for each piece in input order, ``chunk`` pieces scored together; a pair of
    sequences is an error (a likelihood is of one sequence)."""
    pieces = iter(pieces)
    while batch := list(itertools.islice(pieces, chunk)):
        for piece in batch:
            if len(piece.sequences) != 1:
                raise InputError(f"row {piece.name} holds a pair of sequences; score one sequence per row.")
        regions = None if region is None else [piece_region(piece, region) for piece in batch]
        sequences = [piece.sequences[0] for piece in batch]
        yield from zip(
            batch, token_log_likelihoods(model, tokenizer, sequences, mask_stride, regions, max_tokens_per_batch)
        )


def score_values(piece: Piece, scores: TokenScores) -> list:
    """The values of a piece's row (``COLUMNS``): pll_per_bp divides the PLL by the bp its scored tokens cover (the
    whole sequence unless a region or [UNK] tokens leave some out); NaN when no token was scored."""
    bases = scores.bases if scores.bases is not None else len(piece.sequences[0])
    count = len(scores.log_probs)
    per_bp = scores.pll / bases if count and bases else float("nan")
    return [piece.name, piece.start, piece.end, count, scores.pll, per_bp]


def score_row(row: dict) -> list:
    """The TSV cells of a merged row: ``COLUMNS``, the PLL to 4 decimals and pll_per_bp to 6."""
    return [row["name"], row["start"], row["end"], row["tokens"], f"{row['pll']:.4f}", f"{row['pll_per_bp']:.6f}"]


def track_columns(scored: list[tuple[Piece, TokenScores]]) -> dict:
    """The pyarrow track columns of scored pieces: per token (token_id, token_start and token_end in record
    coordinates, token_log_prob) and per base (base_log_prob, ``TokenScores.per_base``, one value per base)."""
    import pyarrow as pa

    def in_record(field):
        return pa.array([getattr(s, field) + piece.start for piece, s in scored], pa.list_(pa.int64()))

    return {
        "base_log_prob": pa.array([s.per_base(len(piece.sequences[0])) for piece, s in scored], pa.list_(pa.float32())),
        "token_id": pa.array([s.token_ids for _, s in scored], pa.list_(pa.int32())),
        "token_start": in_record("starts"),
        "token_end": in_record("ends"),
        "token_log_prob": pa.array([s.log_probs for _, s in scored], pa.list_(pa.float64())),
    }


TRACK_COLUMNS = ["name", "start", "end", "base_log_prob", "token_id", "token_start", "token_end", "token_log_prob"]


def score_job(
    model,
    tokenizer,
    reader: PieceReader,
    mask_stride: int | None = None,
    region: tuple[int, int] | None = None,
    max_tokens_per_batch: int = 16384,
    tracks: bool = False,
) -> Job:
    """The score job: each part's table holds the rows' positions, tokens, pll and pll_per_bp (``score_values``)
    and, with ``tracks``, their per-token and per-base tracks (``track_columns``)."""
    import pyarrow as pa

    def compute(rows, bar):
        scored = []
        for piece, scores in score_pieces(
            model, tokenizer, (piece for _, piece in rows), mask_stride, region, max_tokens_per_batch
        ):
            scored.append((piece, scores))
            bar.update(len(piece.sequences[0]))
        values = [score_values(piece, scores)[3:] for piece, scores in scored]
        columns = position_columns(rows)
        for name, type_, column in zip(COLUMNS[3:], (pa.int64(), pa.float64(), pa.float64()), zip(*values)):
            columns[name] = pa.array(column, type_)
        if tracks:
            columns.update(track_columns(scored))
        return pa.table(columns)

    return Job(reader, compute, reader.skipped_counts, unit="bp", description="Scoring")


def score_writer(output, tracks_path=None, rows_per_group: int = 256):
    """A writer of merged score rows: the TSV of ``COLUMNS`` and, with ``tracks_path``, the Parquet file of
    ``TRACK_COLUMNS``, one row each, written as the rows stream by."""
    from dnabert2.inference.writers import write_delimited

    def write(rows) -> int:
        if tracks_path is None:
            return write_delimited(output, COLUMNS, map(score_row, rows), delimiter="\t")
        with TrackWriter(tracks_path, rows_per_group) as tracks:
            return write_delimited(output, COLUMNS, (score_row(tracks.add(row)) for row in rows), delimiter="\t")

    return write


class TrackWriter:
    """The tracks Parquet file (``TRACK_COLUMNS``) written in row groups as merged rows are added; it appears under
    its name only once closed without an error."""

    def __init__(self, path, rows_per_group: int = 256):
        import pyarrow as pa

        from dnabert2.runtime.files import atomic_output

        self._output, self.rows_per_group, self.group = atomic_output(path), rows_per_group, []
        types = [pa.string(), pa.int64(), pa.int64(), pa.list_(pa.float32()), pa.list_(pa.int32())]
        types += [pa.list_(pa.int64()), pa.list_(pa.int64()), pa.list_(pa.float64())]
        self.schema = pa.schema(list(zip(TRACK_COLUMNS, types)))

    def __enter__(self):
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(self._output.__enter__(), self.schema)
        return self

    def add(self, row: dict) -> dict:
        """Queue a merged row's tracks (written by the group); returns the row."""
        self.group.append({column: row[column] for column in TRACK_COLUMNS})
        if len(self.group) == self.rows_per_group:
            self._flush()
        return row

    def _flush(self):
        import pyarrow as pa

        if self.group:
            self.writer.write_table(pa.Table.from_pylist(self.group, schema=self.schema))
        self.group.clear()

    def __exit__(self, *error):
        if error[0] is None:
            self._flush()
        self.writer.close()
        return self._output.__exit__(*error)
