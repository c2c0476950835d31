"""Throughput of dnabert2-embed on short reads: one process against several (``accelerate launch``), same machine.

The input is generated (seeded random DNA): 100,000 reads of 150 bp in a FASTQ.gz. Each case embeds it into a
fresh folder (mean pooling, shipped model unless --model); the time includes starting the processes and loading
the model. On CPUs each process takes cores / processes torch threads, so the comparison shows what sharding
gains over one process's intra-op threads.

    python benchmarks/embed.py     # writes benchmarks/results/embed.{md,json}
"""

import gzip
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds
from transformers import HfArgumentParser

from dnabert2 import packaged
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.train.data.alphabet import ACGT

EMBED = Path(__file__).resolve().parents[1] / "train" / "embed.py"


@dataclass
class EmbedBenchArguments:
    model: str = field(default=str(packaged("model")), metadata={"help": "Model folder (default: the shipped one)."})
    reads: int = field(default=100_000, metadata={"help": "Reads in the generated FASTQ.gz."})
    length: int = field(default=150, metadata={"help": "Read length (bp)."})
    processes: str = field(default="1,2", metadata={"help": "Process counts to compare, comma-separated."})
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})


def write_reads(path: Path, count: int, length: int, seed: int = 0):
    """A gzipped FASTQ of ``count`` random reads of ``length`` bp."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(ACGT))
    with gzip.open(path, "wt", compresslevel=1) as handle:
        for i in range(count):
            handle.write(f"@read{i}\n{''.join(letters[rng.integers(0, 4, length)])}\n+\n{'I' * length}\n")


def run_case(model: str, reads: Path, output_dir: Path, processes: int) -> float:
    """Embed ``reads`` with ``processes`` processes; the wall-clock seconds."""
    launcher = [sys.executable] if processes == 1 else [
        "accelerate", "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no"]
    start = time.perf_counter()
    subprocess.run([*launcher, str(EMBED), "--model_name_or_path", model, "--input", str(reads),
                    "--output_dir", str(output_dir)], check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    """Generate the reads, time each process count, check the row counts, print and write the table."""
    args = HfArgumentParser(EmbedBenchArguments).parse_args_into_dataclasses()[0]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        reads = Path(work) / "reads.fq.gz"
        write_reads(reads, args.reads, args.length)
        for processes in map(int, args.processes.split(",")):
            output = Path(work) / f"out{processes}"
            seconds = run_case(args.model, reads, output, processes)
            written = ds.dataset(sorted(map(str, output.glob("*.parquet"))), format="parquet").count_rows()
            if written != args.reads:
                raise RuntimeError(f"{processes} process(es) wrote {written} rows for {args.reads} reads.")
            rows.append({"processes": processes, "reads": args.reads, "seconds": seconds,
                         "reads_per_s": args.reads / seconds})
            print(rows[-1], flush=True)
    lines = [f"`dnabert2-embed` (mean pooling) with `{Path(args.model).name}` on {args.reads:,} reads of "
             f"{args.length} bp (FASTQ.gz); time includes process start and model loading.", "",
             "| processes | time (s) | reads/s | speed-up |", "|---|---|---|---|"]
    lines += [f"| {r['processes']} | {r['seconds']:.1f} | {r['reads_per_s']:,.0f} | "
              f"{rows[0]['seconds'] / r['seconds']:.2f}x |" for r in rows]
    write_report(args.output_dir, "embed", lines, rows)


if __name__ == "__main__":
    main()
