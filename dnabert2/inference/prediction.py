"""Prediction with a fine-tuned classifier: the pipeline's predict job (logits, class outputs and, optionally,
embeddings per record or window) and its CSV / .npy writer, plus ``predict_logits`` for sequences in memory."""

import logging
import warnings
from contextlib import nullcontext

import numpy as np

from dnabert2.inference.batching import LengthLimit, predict_stream
from dnabert2.inference.heads import prediction_columns, prediction_header, prediction_row
from dnabert2.inference.inputs import Piece, as_pieces
from dnabert2.inference.pipeline import Job, PieceReader, position_columns
from dnabert2.inference.writers import NpyRowWriter, write_delimited

logger = logging.getLogger(__name__)


def prediction_job(
    model,
    tokenizer,
    reader: PieceReader,
    max_tokens_per_batch: int,
    limit: LengthLimit,
    with_embeddings: bool = False,
    rc_average: bool = False,
) -> Job:
    """The predict job: per record or window, its logits (float32, as computed), the head's outputs as columns
    (``prediction``, ``prob_<label>``) and, ``with_embeddings``, its mean-pooled embedding."""

    def compute(rows, bar):
        import pyarrow as pa

        stream = list(
            predict_stream(
                model,
                tokenizer,
                [piece for _, piece in rows],
                max_tokens_per_batch,
                limit,
                with_embeddings,
                progress=False,
                rc_average=rc_average,
            )
        )
        bar.update(sum(len(s) for _, piece in rows for s in piece.sequences))
        logits = [row_logits for _, row_logits, _ in stream]
        columns = {
            **position_columns(rows),
            **prediction_columns(logits, model.config),
            "logits": pa.array([row.astype("float32") for row in logits], pa.list_(pa.float32())),
        }
        if with_embeddings:
            columns["embedding"] = pa.array(
                [embedding.astype("float32") for _, _, embedding in stream], pa.list_(pa.float32())
            )
        return pa.table(columns)

    return Job(reader, compute, reader.skipped_counts, unit="bp", description="Predicting")


def stored_predictions(rows):
    """(piece, logits, embedding or None) back from the merged rows of predict parts, in their order."""
    for row in rows:
        piece = Piece(row["name"], ("",), row["start"], row["end"], row["index"], row["description"])
        embedding = np.asarray(row["embedding"], np.float32) if "embedding" in row else None
        yield piece, np.asarray(row["logits"], np.float32), embedding


def prediction_writer(output, config, embeddings_path=None, aggregate: bool = False):
    """A writer of merged predict rows: the CSV (name, start, end, prediction, probabilities) and, with
    ``embeddings_path``, the .npy of embeddings, one row each; with ``aggregate`` also one row per record cut in
    windows, from its windows' mean logits (and embeddings)."""

    def write(rows) -> int:
        items = stored_predictions(rows)
        items = with_record_means(items) if aggregate else items
        with NpyRowWriter(embeddings_path) if embeddings_path else nullcontext() as embeddings:

            def cells():
                for piece, logits, embedding in items:
                    if embeddings is not None:
                        embeddings.write(embedding)
                    yield prediction_row(piece, logits, config)

            return write_delimited(output, prediction_header(config), cells())

    return write


def predict_logits(
    model,
    tokenizer,
    sequences,
    max_tokens_per_batch=16384,
    max_length=None,
    with_embeddings=False,
    progress=True,
    rc_average=False,
):
    """Logits (N, num_labels) in input order and, optionally, mean-pooled embeddings (N, hidden), for a list of
    sequences (strings, or tuples for pairs); whole sequences unless ``max_length`` (then cut, with a warning); both
    strands averaged with ``rc_average``."""
    limit = LengthLimit(max_length)
    rows = list(
        predict_stream(
            model,
            tokenizer,
            as_pieces(sequences),
            max_tokens_per_batch,
            limit,
            with_embeddings,
            progress=progress,
            rc_average=rc_average,
        )
    )
    if limit.report():
        warnings.warn(limit.report())
    logits = np.stack([r[1] for r in rows]) if rows else np.zeros((0, model.config.num_labels), np.float32)
    embeddings = np.stack([r[2] for r in rows]) if with_embeddings and rows else None
    return logits, embeddings


def with_record_means(stream):
    """Pass ``predict_stream`` items through and, after the last window of each record cut in several, add one
    item for the whole record: the mean of its windows' logits (and embeddings), spanning [0, last end). Windows
    belong together by record index, so adjacent records that share a name stay apart."""
    windows = []

    def record_mean():
        first = windows[0][0]
        piece = Piece(first.name, ("",), 0, max(p.end for p, _, _ in windows), first.index)
        embeddings = [e for _, _, e in windows]
        mean_embedding = None if embeddings[0] is None else np.mean(embeddings, axis=0)
        return piece, np.mean([logits for _, logits, _ in windows], axis=0), mean_embedding

    for item in stream:
        if windows and item[0].index != windows[0][0].index:
            if len(windows) > 1:
                yield record_mean()
            windows = []
        windows.append(item)
        yield item
    if len(windows) > 1:
        yield record_mean()
