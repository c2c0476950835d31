"""Embeddings of every record (or window) of a file by a DNABERT-2 encoder, pooled four ways, into sharded Parquet.

Poolings: ``mean`` (exactly ``DNABert2Model.embed``: the mean of the last hidden state over all tokens, [CLS] and
[SEP] included), ``cls`` (the [CLS] token's vector), ``token`` (one vector per sequence token, with its bp span;
[CLS] and [SEP] have none and are left out) and ``nucleotide`` (one vector per base: the vector of the token
covering it, from the tokenizer's offsets).
"""

from typing import Iterable, Iterator

import numpy as np
import torch

from dnabert2.inference.prediction import MeanPooling, Piece, predict_stream
from dnabert2.inference.sharding import PartStore, position_columns, run_sharded
from dnabert2.runtime.errors import InputError

DTYPES = ("float32", "float16", "bfloat16")


class ClsPooling(MeanPooling):
    """The [CLS] token's last hidden state (the published pooler was never trained, so it is not applied)."""

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """One (hidden,) vector per sequence: its first token's."""
        return list(encoding.packed.first(encoding.hidden).float().cpu().numpy())


def _sequence_tokens(encoding, offsets) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per sequence of a batch: (vectors, spans) of its tokens that cover bases, in order."""
    hidden = encoding.hidden.float().cpu().numpy()
    bounds = encoding.packed.cu_seqlens.tolist()
    for row, spans in enumerate(offsets):
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        covering = spans[:, 1] > spans[:, 0]
        yield hidden[bounds[row] : bounds[row + 1]][covering], spans[covering]


class TokenPooling:
    """One vector per token with its bp span [start, end) in the sequence. No strand averaging
    (``combine_strands`` is None): the two strands are tokenized differently, so their tokens do not pair up."""

    needs_offsets = True

    def pool(self, encoding, offsets) -> list[tuple[np.ndarray, np.ndarray]]:
        """(vectors (tokens, hidden), spans (tokens, 2)) per sequence."""
        return list(_sequence_tokens(encoding, offsets))

    combine_strands = None


class NucleotidePooling:
    """One vector per base: that of the token covering it; with both strands, each base's two vectors averaged."""

    needs_offsets = True

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """(bases, hidden) per sequence."""
        pooled = []
        for vectors, spans in _sequence_tokens(encoding, offsets):
            if len(spans) and (spans[0, 0] != 0 or (spans[1:, 0] != spans[:-1, 1]).any()):
                raise ValueError("The tokenizer's offsets do not tile the sequence: cannot map bases to tokens.")
            pooled.append(np.repeat(vectors, spans[:, 1] - spans[:, 0], axis=0))
        return pooled

    def combine_strands(self, forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
        """Base j of the forward strand is base (length - 1 - j) of its reverse complement."""
        return (forward + reverse[::-1]) / 2


POOLINGS = {"mean": MeanPooling, "cls": ClsPooling, "token": TokenPooling, "nucleotide": NucleotidePooling}


def _list_array(arrays: list[np.ndarray]):
    """A pyarrow list array of 1-D arrays (list of values), or of 2-D arrays (list of rows, each a list)."""
    import pyarrow as pa

    flat = np.concatenate(arrays)
    values = pa.array(flat.reshape(-1))
    if flat.ndim == 2:
        values = pa.ListArray.from_arrays(pa.array(np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32)), values)
    return pa.ListArray.from_arrays(pa.array(np.cumsum([0] + [len(a) for a in arrays], dtype=np.int32)), values)


def stored(vectors: np.ndarray, dtype: str) -> np.ndarray:
    """Vectors as stored: float32, float16, or bfloat16 values kept in float32 (Parquet has no bfloat16; the low
    16 bits are zero and compress away)."""
    if dtype == "bfloat16":
        return torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).bfloat16().float().numpy()
    return np.asarray(vectors, dtype={"float32": np.float32, "float16": np.float16}[dtype])


def embedding_table(rows: list[tuple[int, Piece]], embeddings: list, dtype: str):
    """The Parquet table of a part: index, name, start, end, embedding (and, for token pooling, spans)."""
    import pyarrow as pa

    pieces = [piece for _, piece in rows]
    columns = position_columns(rows)
    if isinstance(embeddings[0], tuple):  # token pooling: (vectors, spans in the piece)
        columns["embedding"] = _list_array([stored(vectors, dtype) for vectors, _ in embeddings])
        columns["spans"] = _list_array([spans + p.start for (_, spans), p in zip(embeddings, pieces)])
    else:
        columns["embedding"] = _list_array([stored(vectors, dtype) for vectors in embeddings])
    return pa.table(columns)


def embed_to_parts(
    encoder,
    tokenizer,
    pieces: Iterable[Piece],
    store: PartStore,
    pooling: str = "mean",
    window: int | None = None,
    stride: int | None = None,
    rc_average: bool = False,
    dtype: str = "float32",
    part_size: int = 10000,
    max_tokens_per_batch: int = 16384,
) -> dict:
    """Embed this worker's share of ``pieces`` into ``store``'s parts, skipping parts already complete; returns the
    counts of ``run_sharded``."""
    if pooling not in POOLINGS:
        raise InputError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}.")
    if dtype not in DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    pool = POOLINGS[pooling]()
    if rc_average and pool.combine_strands is None:
        raise InputError(f"--rc_average is not defined for {pooling} pooling: the strands' tokens do not pair up.")

    def compute(rows):
        stream = predict_stream(
            encoder,
            tokenizer,
            [piece for _, piece in rows],
            max_tokens_per_batch,
            with_embeddings=True,
            progress=False,
            rc_average=rc_average,
            pooling=pool,
        )
        return embedding_table(rows, [embedding for _, _, embedding in stream], dtype)

    return run_sharded(pieces, store, part_size, window, stride, compute)
