"""The one inference pipeline: a reader yields this worker's rows, a compute step turns each part of them into a
table, the part store keeps the tables (resumable Parquet parts), and a writer turns the merged parts into the
job's output file. One process is the case of one shard; embed, predict and score-variants are each a ``Job``.
"""

import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from dnabert2.data.alphabet import BaseTally, non_acgt_count
from dnabert2.inference.inputs import Piece, sliding_windows
from dnabert2.inference.sharding import PartStore, Shard, run_parts

logger = logging.getLogger(__name__)


@dataclass
class Job:
    """An inference job: ``rows(shard)`` yields this shard's (input index, item) in input order (the reader);
    ``compute(rows, bar)`` makes a part's pyarrow table from its rows, advancing the progress bar by the bp (or
    items) done; ``skipped()`` gives this shard's items left out, by reason, once its rows are read; ``unit`` names
    what the bar counts."""

    rows: Callable[[Shard], Iterable[tuple[int, object]]]
    compute: Callable[[list, tqdm], object]
    skipped: Callable[[], dict] = field(default=dict)
    unit: str = "bp"
    description: str = "Computing"


def run_job(
    job: Job,
    store: PartStore,
    part_size: int,
    write: Callable[[Iterator[dict]], int] | None = None,
    merge_only: bool = False,
    keep_parts: bool = True,
) -> dict:
    """Run this worker's share of ``job`` into ``store`` (complete parts of an earlier run are skipped); the worker
    that completes the last shard (or ``merge_only``) then hands the merged rows, in input order, to ``write``,
    which returns how many it wrote. Without ``keep_parts`` the parts folder goes once written out.

    Returns counts: parts and rows written and skipped, items skipped by reason (also in the manifest), whether
    this worker completed the run, and the rows merged.
    """
    counts = Counter()
    if not merge_only:
        # log lines go above the bar, never on its line
        with logging_redirect_tqdm(), tqdm(unit=job.unit, unit_scale=True, desc=job.description) as bar:
            for part, rows, done in run_parts(job.rows(store.shard), part_size, store, lambda r: job.compute(r, bar)):
                counts[f"parts {done}"] += 1
                counts[f"rows {done}"] += len(rows)
                logger.info("%s: %s (%d rows).", store.shard.part_name(part), done, len(rows))
        skipped = job.skipped()
        store.record_skipped(skipped)
        if skipped:
            logger.warning("Skipped: %s.", ", ".join(f"{n} {reason}" for reason, n in sorted(skipped.items())))
        counts["skipped"] = skipped
        logger.info("Shard %d of %d done: %s", store.shard.index, store.shard.count, dict(counts))
    counts["completes the run"] = merge_only or store.finish_shard()
    if write is not None and counts["completes the run"]:
        counts["merged rows"] = write(store.merged_rows())
        if not keep_parts:
            shutil.rmtree(store.folder)
    return dict(counts)


def run_in_memory(job: Job, progress: bool = False):
    """The job's whole output as one pyarrow table (None for no rows), computed in this process without a part
    store: the Python API's way to run the same reader and compute step as a command line."""
    with tqdm(unit=job.unit, unit_scale=True, desc=job.description, disable=not progress) as bar:
        rows = list(job.rows(Shard(0, 1)))
        return job.compute(rows, bar) if rows else None


class PieceReader:
    """The reader of embed and predict: this shard's (record index, piece or window) pairs, in input order.

    Without windows record i is shard i % count's. With windows, the windows of all records are numbered in input
    order and window w is shard w % count's, so a single long record (a chromosome) is split among the workers too.
    A record's bases are counted in ``tally`` by the shard that owns its record index, and with ``skip_unusable``
    an empty record or one without an A/C/G/T base is left out and counted in ``skipped``.
    """

    def __init__(self, pieces: Iterable[Piece], window: int | None, stride: int | None, skip_unusable: bool):
        self.pieces, self.window, self.stride, self.skip_unusable = pieces, window, stride, skip_unusable
        self.skipped, self.tally = Counter(), BaseTally()

    def __call__(self, shard: Shard) -> Iterator[tuple[int, Piece]]:
        """This shard's rows; other shards' records are passed over before tokenizing."""
        windows_seen = 0
        for index, piece in enumerate(self.pieces):
            counted_here = shard.owns(index)
            if self.window is None and not counted_here:
                continue
            sequence = piece.sequences[0]
            if counted_here:
                self.tally.add(sequence)
            unusable = (
                "empty"
                if not sequence
                else "only N (or other ambiguity codes)"
                if non_acgt_count(sequence) == len(sequence)
                else None
            )
            if self.skip_unusable and unusable:
                if counted_here:
                    self.skipped[unusable] += 1
                continue
            if self.window is None:
                yield index, piece
                continue
            for window_piece in sliding_windows([piece], self.window, self.stride):
                if shard.owns(windows_seen):
                    yield index, window_piece
                windows_seen += 1
        logger.info("%s", self.tally.report())

    def skipped_counts(self) -> dict:
        """Records left out by reason (after the rows were read)."""
        return dict(self.skipped)


def position_columns(rows: list[tuple[int, Piece]]) -> dict:
    """The pyarrow columns that place each row of a part: index (the record's position in the input), name,
    description (the rest of its header), start, end."""
    import pyarrow as pa

    return {
        "index": pa.array([index for index, _ in rows], pa.int64()),
        "name": pa.array([piece.name for _, piece in rows], pa.string()),
        "description": pa.array([piece.description for _, piece in rows], pa.string()),
        "start": pa.array([piece.start for _, piece in rows], pa.int64()),
        "end": pa.array([piece.end for _, piece in rows], pa.int64()),
    }
