"""Embeddings of every record (or window) by an encoder, pooled four ways (``pooling.POOLINGS``): the pipeline's
embed job, writing Parquet parts (the folder is the output: ``pd.read_parquet(folder)`` reads it)."""

import numpy as np
import torch

from dnabert2.inference.batching import predict_stream
from dnabert2.inference.inputs import Piece
from dnabert2.inference.pipeline import Job, PieceReader, position_columns
from dnabert2.inference.pooling import POOLINGS
from dnabert2.runtime.errors import InputError

DTYPES = ("float32", "float16", "bfloat16")


def pooling_for(pooling: str, dtype: str = "float32", rc_average: bool = False):
    """The pooling object for ``pooling``; ``InputError`` for an unknown pooling or dtype, or strand averaging
    where the strands' tokens do not pair up."""
    if pooling not in POOLINGS:
        raise InputError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}.")
    if dtype not in DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    pool = POOLINGS[pooling]()
    if rc_average and pool.combine_strands is None:
        raise InputError(f"--rc_average is not defined for {pooling} pooling: the strands' tokens do not pair up.")
    return pool


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


def embedding_job(
    encoder,
    tokenizer,
    reader: PieceReader,
    pooling: str = "mean",
    rc_average: bool = False,
    dtype: str = "float32",
    max_tokens_per_batch: int = 16384,
) -> Job:
    """The embed job: each part's table holds the rows' positions and embeddings (``embedding_table``)."""
    pool = pooling_for(pooling, dtype, rc_average)

    def compute(rows, bar):
        pieces = [piece for _, piece in rows]
        stream = predict_stream(
            encoder,
            tokenizer,
            pieces,
            max_tokens_per_batch,
            with_embeddings=True,
            progress=False,
            rc_average=rc_average,
            pooling=pool,
        )
        embeddings = [embedding for _, _, embedding in stream]
        bar.update(sum(len(s) for piece in pieces for s in piece.sequences))
        return embedding_table(rows, embeddings, dtype)

    return Job(reader, compute, reader.skipped_counts, unit="bp", description="Embedding")
