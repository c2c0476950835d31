"""Sharded, resumable runs over a stream of records: Parquet part files written atomically, and a manifest.

Record ``i`` of the input belongs to shard ``i % num_shards`` (with windows: window ``w`` of the whole input, so
that one long record is split too). A worker's shard comes from ``--shard_index`` /
``--num_shards`` and, under a multi-process launcher (``accelerate launch``, ``torchrun``), from its RANK and
WORLD_SIZE: with both, shard ``shard_index * WORLD_SIZE + RANK`` of ``num_shards * WORLD_SIZE`` (a job array of
multi-process jobs). A worker groups its own rows into parts of ``part_size`` rows, named by shard and part number;
each part is written to a temporary name and renamed when complete, then recorded in ``.manifest.json`` with its row
count (hidden by its leading dot, which every Parquet reader skips: ``pd.read_parquet(folder)``, pyarrow.dataset and
``datasets.load_dataset("parquet", data_dir=folder)`` read the parts). A rerun
with the same settings skips the complete parts; a rerun with other settings is refused once a part was written (a
run that wrote none does not hold the folder).
"""

import fcntl
import heapq
import json
import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import TEMPORARY, atomic_output, write_text_atomic
from dnabert2.runtime.weights import weights_digest

MANIFEST = ".manifest.json"

logger = logging.getLogger(__name__)


class SettingsMismatchError(InputError):
    """An output folder that already holds a run with other settings."""


@dataclass(frozen=True)
class Shard:
    """This worker's share of the input: records ``i`` with ``i % count == index``."""

    index: int
    count: int

    def owns(self, number: int) -> bool:
        """Whether record (or, with windows, window) ``number`` of the input is this worker's."""
        return number % self.count == self.index

    def part_name(self, part: int) -> str:
        """The file name of this shard's part ``part``."""
        return f"shard-{self.index:05d}-of-{self.count:05d}.part-{part:05d}.parquet"


def current_shard(shard_index: int = 0, num_shards: int = 1) -> Shard:
    """The worker's shard from the flags and the launcher's RANK / WORLD_SIZE (1 process when unset)."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= shard_index < num_shards:
        raise InputError(f"--shard_index must be in [0, --num_shards), got {shard_index} of {num_shards}.")
    return Shard(shard_index * world + rank, num_shards * world)


def worker_device() -> torch.device:
    """This process's device: its own GPU (``cuda:LOCAL_RANK``) when there are GPUs, else the CPU."""
    if torch.cuda.is_available():
        return torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}")
    return torch.device("cpu")


def set_cpu_threads() -> int:
    """On CPU, give each of the launcher's processes on this machine an equal share of the cores; logged."""
    if torch.cuda.is_available():
        return torch.get_num_threads()
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    threads = max(1, len(os.sched_getaffinity(0)) // local_world)
    torch.set_num_threads(threads)
    logger.info("CPU run: %d torch thread(s) per process (%d process(es) on this machine).", threads, local_world)
    return threads


class PartStore:
    """An output folder of Parquet parts and its ``.manifest.json`` (shared by all workers, updated under a lock)."""

    def __init__(self, output_dir, shard: Shard, header: dict):
        """Open ``output_dir`` for ``shard``; ``header`` (model, weights digest, settings) must match the one a
        previous run recorded there, else ``SettingsMismatchError``. Leftover temporary files of the shard go."""
        self.folder, self.shard, self.header = Path(output_dir), shard, header
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._manifest() as manifest:
            recorded = {key: manifest[key] for key in header if key in manifest}
            if manifest.get("parts") and recorded != header:
                changes = "; ".join(
                    f"{key} was {was!r}, now {now!r}" for key, was, now in _differences(recorded, header)
                )
                raise SettingsMismatchError(
                    f"{self.folder} holds parts of a run with other settings ({changes}): rerun with its settings "
                    "to resume, or delete the folder (or pick another) to start over."
                )
            if not manifest.get("parts"):  # nothing written yet: the folder is free for these settings
                manifest.clear()
            manifest.update(header)
            manifest.setdefault("parts", {})
            manifest.setdefault("skipped", {})
        for stale in self.folder.glob(f".{shard.part_name(0).split('.part-')[0]}.part-*{TEMPORARY}*"):
            stale.unlink()

    @contextmanager
    def _manifest(self):
        """The manifest as a dict, locked against other workers (a lock on the folder itself, so no lock file is
        left behind); written back (atomically) if changed."""
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            path = self.folder / MANIFEST
            manifest = json.loads(path.read_text()) if path.exists() else {}
            before = json.dumps(manifest, sort_keys=True)
            yield manifest
            if json.dumps(manifest, sort_keys=True) != before:
                write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        finally:
            os.close(folder)  # releases the lock

    def is_complete(self, part: int) -> bool:
        """Whether part ``part`` of this shard was written whole and recorded by an earlier run."""
        name = self.shard.part_name(part)
        with self._manifest() as manifest:
            return name in manifest["parts"] and (self.folder / name).exists()

    def write(self, part: int, table) -> Path:
        """Write a pyarrow table as part ``part`` (temporary name, then rename) and record it in the manifest."""
        import pyarrow.parquet as pq

        path = self.folder / self.shard.part_name(part)
        with atomic_output(path) as temporary:
            pq.write_table(table, temporary)
        with self._manifest() as manifest:
            manifest["parts"][path.name] = {"rows": table.num_rows}
        return path

    def finish_shard(self) -> bool:
        """Record this shard as complete; True for the worker that completes the last shard (it merges)."""
        with self._manifest() as manifest:
            done = manifest.setdefault("complete_shards", [])
            if self.shard.index not in done:
                done.append(self.shard.index)
            return len(done) == self.shard.count

    def complete_parts(self) -> list[str]:
        """The names of every part of a complete run, sorted (by shard, then part number); an error naming the
        shards still missing when the run is not complete."""
        with self._manifest() as manifest:
            missing = sorted(set(range(self.shard.count)) - set(manifest.get("complete_shards", [])))
            parts = sorted(manifest["parts"])
        if missing:
            raise InputError(
                f"{self.folder}: shards {', '.join(map(str, missing))} of {self.shard.count} are not "
                "complete yet; run their workers (the same command) before merging."
            )
        return parts

    def merged_rows(self) -> Iterator[dict]:
        """Every shard's rows, as dicts, in input order (record index, then window start), read one part at a time
        (each shard's parts are in input order; the shards are merged as they are read)."""
        import pyarrow.parquet as pq

        by_shard = {}
        for name in self.complete_parts():
            by_shard.setdefault(name.split(".part-")[0], []).append(name)

        def shard_rows(names):
            for name in names:
                yield from pq.read_table(self.folder / name).to_pylist()

        yield from heapq.merge(
            *(shard_rows(names) for names in by_shard.values()), key=lambda row: (row["index"], row.get("start", 0))
        )

    def merged_table(self):
        """Every shard's rows as one pyarrow table in input order, the parts' own schema kept: for outputs made from
        a whole run at once (tracks, arrays); ``merged_rows`` streams."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.concat_tables([pq.read_table(self.folder / name) for name in self.complete_parts()])
        return table.sort_by([(key, "ascending") for key in ("index", "start") if key in table.column_names])

    def record_skipped(self, counts: dict):
        """Record this shard's count of skipped records, by reason."""
        with self._manifest() as manifest:
            manifest["skipped"][f"shard-{self.shard.index:05d}-of-{self.shard.count:05d}"] = counts


def _differences(recorded: dict, now: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, recorded value, new value) for every leaf where two run headers differ."""
    differences = []
    for key in sorted(set(recorded) | set(now)):
        was, new = recorded.get(key), now.get(key)
        if isinstance(was, dict) and isinstance(new, dict):
            differences += _differences(was, new, f"{prefix}{key}.")
        elif was != new:
            differences.append((f"{prefix}{key}", was, new))
    return differences


def run_parts(rows: Iterable, part_size: int, store: PartStore, compute: Callable[[list], object]) -> Iterator[tuple]:
    """Group this worker's ``rows`` in parts of ``part_size``; for each part not yet complete, ``compute`` its
    pyarrow table from the part's rows and write it. Yields (part number, rows, "written" or "skipped")."""
    if part_size < 1:
        raise InputError(f"--part_size must be at least 1, got {part_size}.")
    part, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == part_size:
            yield _finish(part, batch, store, compute)
            part, batch = part + 1, []
    if batch:
        yield _finish(part, batch, store, compute)


def _finish(part: int, batch: list, store: PartStore, compute) -> tuple:
    """Write one part unless complete; (part, rows, what was done)."""
    if store.is_complete(part):
        return part, batch, "skipped"
    store.write(part, compute(batch))
    return part, batch, "written"


def open_run(
    output_dir,
    model_name_or_path: str,
    settings: dict,
    input_path,
    fasta=None,
    shard_index: int = 0,
    num_shards: int = 1,
) -> PartStore:
    """This worker's ``PartStore`` in ``output_dir``: its shard (``current_shard``), CPU threads set
    (``set_cpu_threads``), and the run's header (model, weights digest, ``settings``, the input's paths and sizes,
    the number of shards) checked against the folder's manifest."""
    shard = current_shard(shard_index, num_shards)
    set_cpu_threads()
    inputs = {"input": Path(input_path), "fasta": Path(fasta) if fasta else None}
    inputs = {
        key: None
        if path is None
        else {"path": str(path.resolve()), "bytes": path.stat().st_size if path.is_file() else None}
        for key, path in inputs.items()
    }
    header = {
        "model": str(model_name_or_path),
        "weights_digest": weights_digest(Path(model_name_or_path)),
        "settings": {**settings, **inputs, "num_shards": shard.count},
    }
    return PartStore(output_dir, shard, header)
