"""Embeddings and variant scores at scale on this machine: one process against several, same inputs.

Generated (seeded random) inputs: 100,000 reads of 150 bp (FASTQ.gz) and a 10-Mbp genome in 1-kb windows for
`dnabert2-embed` (mean pooling), the cost of nucleotide pooling on a subset of the reads, and
`dnabert2-score-variants` on generated variants with 1 and 2 workers. Several processes run under
`accelerate launch` (on CPUs each takes cores / processes torch threads). Times include starting the processes and
loading the model; peak memory is the largest process's maximum RSS (GNU time, which follows the launcher's
children).

    python benchmarks/scale.py     # ~40 min on 2 cores; writes benchmarks/results/scale.{md,json}
"""

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.dataset as ds

from dnabert2 import packaged
from dnabert2.benchmarks.measure.generated import generated_variants, write_genome, write_reads, write_vcf
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.runtime.arguments import command_parser, model_field
from dnabert2.runtime.errors import run_command

TRAIN = Path(__file__).resolve().parents[1] / "train"
CASES = ["reads", "genome", "pooling", "variants"]


@dataclass
class ScaleBenchArguments:
    model_name_or_path: str = model_field("Model folder (default: the shipped one).", str(packaged("model")))
    reads: int = field(default=100_000, metadata={"help": "Reads in the generated FASTQ.gz."})
    read_length: int = field(default=150, metadata={"help": "Read length (bp)."})
    genome_bp: int = field(
        default=10_000_000, metadata={"help": "Generated genome size (bp), embedded in 1-kb windows."}
    )
    nucleotide_reads: int = field(default=5_000, metadata={"help": "Reads embedded with mean and nucleotide pooling."})
    variants: int = field(default=400, metadata={"help": "Generated variants scored."})
    processes: str = field(default="1,2", metadata={"help": "Process counts to compare, comma-separated."})
    cases: str = field(
        default="reads,genome,pooling,variants",
        metadata={"help": "Cases to run; the other cases' rows are kept from the existing scale.json."},
    )
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})


def run_case(script: str, flags: list, processes: int) -> tuple[float, float]:
    """Run a command line of train/ with ``processes`` processes; (wall seconds, peak RSS of the largest process
    in MB)."""
    launcher = (
        [sys.executable]
        if processes == 1
        else [
            "accelerate",
            "launch",
            "--multi_gpu",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ]
    )
    start = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "peak-kb %M", *launcher, str(TRAIN / script), *map(str, flags)],
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    seconds = time.perf_counter() - start
    if result.returncode:
        raise RuntimeError(f"{script} with {processes} process(es) failed:\n{result.stderr[-3000:]}")
    peak = [line for line in result.stderr.splitlines() if line.startswith("peak-kb ")][-1]
    return seconds, int(peak.split()[1]) / 1024


def kind_of(row: dict) -> str:
    """Which of ``CASES`` a result row belongs to."""
    case = row["case"]
    return (
        "pooling"
        if "pooling" in case
        else "genome"
        if "genome" in case
        else "variants"
        if case.startswith("score")
        else "reads"
    )


def parquet_rows(folder: Path) -> int:
    """Rows in a folder's Parquet parts."""
    return ds.dataset(sorted(map(str, folder.glob("*.parquet"))), format="parquet").count_rows()


def main(argv=None):
    """Generate the inputs, time every case, check the outputs' row counts, print and write the table."""
    parser = command_parser(
        ScaleBenchArguments, usage="python benchmarks/scale.py [options]", description=__doc__.split("\n\n")[0]
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    counts = [int(n) for n in args.processes.split(",")]
    rows = []

    def record(case, unit, amount, bp, processes, seconds, peak_mb, baseline=None):
        """One row; ``baseline``: the case whose 1-process time the speed-up is against (default: this case)."""
        rows.append(
            {
                "case": case,
                "unit": unit,
                "amount": amount,
                "bp": bp,
                "processes": processes,
                "seconds": seconds,
                "per_s": amount / seconds,
                "bp_per_s": bp / seconds,
                "peak_mb": peak_mb,
                "baseline": baseline or case,
            }
        )
        print(rows[-1], flush=True)

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        reads = write_reads(work / "reads.fq.gz", args.reads, args.read_length)
        write_genome(work / "genome.fa", {"genome": args.genome_bp})
        few = write_reads(work / "few.fq.gz", args.nucleotide_reads, args.read_length, seed=1)
        contigs = write_genome(work / "ref.fa", {"chr1": 1_000_000, "chr2": 1_000_000}, seed=2)
        vcf = write_vcf(work / "v.vcf", contigs, generated_variants(contigs, args.variants))
        model = ["--model_name_or_path", args.model_name_or_path]
        for processes in counts if "reads" in args.cases else ():
            out = work / f"reads{processes}"
            seconds, peak = run_case("embed.py", [*model, "--input", reads, "--output_dir", out], processes)
            assert parquet_rows(out) == args.reads
            record(
                f"embed {args.reads:,} reads of {args.read_length} bp (FASTQ.gz), mean",
                "reads",
                args.reads,
                args.reads * args.read_length,
                processes,
                seconds,
                peak,
            )
        for processes in counts if "genome" in args.cases else ():
            out = work / f"genome{processes}"
            seconds, peak = run_case(
                "embed.py", [*model, "--input", work / "genome.fa", "--output_dir", out, "--window", 1000], processes
            )
            windows = parquet_rows(out)
            assert windows == -(-args.genome_bp // 1000)
            record(
                f"embed a {args.genome_bp / 1e6:g}-Mbp genome in 1-kb windows, mean",
                "windows",
                windows,
                args.genome_bp,
                processes,
                seconds,
                peak,
            )
        for pooling in ("mean", "nucleotide") if "pooling" in args.cases else ():
            out = work / f"pool-{pooling}"
            seconds, peak = run_case(
                "embed.py", [*model, "--input", few, "--output_dir", out, "--pooling", pooling, "--dtype", "float16"], 1
            )
            assert parquet_rows(out) == args.nucleotide_reads
            record(
                f"embed {args.nucleotide_reads:,} reads, {pooling} pooling, float16",
                "reads",
                args.nucleotide_reads,
                args.nucleotide_reads * args.read_length,
                1,
                seconds,
                peak,
                baseline=f"embed {args.nucleotide_reads:,} reads, mean pooling, float16",
            )
        for processes in counts if "variants" in args.cases else ():
            out = work / f"scores{processes}.tsv"
            seconds, peak = run_case(
                "score_variants.py",
                [
                    "--vcf",
                    vcf,
                    "--fasta",
                    work / "ref.fa",
                    "--output",
                    out,
                    "--model_name_or_path",
                    args.model_name_or_path,
                ],
                processes,
            )
            with open(out) as handle:
                scored = sum(1 for _ in csv.DictReader(handle, delimiter="\t"))
            assert scored == args.variants
            record(f"score {args.variants} variants (512-bp windows)", "variants", scored, 0, processes, seconds, peak)
    previous = Path(args.output_dir) / "scale.json"
    if previous.exists():  # the cases not rerun keep their rows
        rows += [row for row in json.loads(previous.read_text()) if kind_of(row) not in args.cases.split(",")]
        rows.sort(key=lambda row: CASES.index(kind_of(row)))
    model_name = (
        "the shipped model"
        if Path(args.model_name_or_path) == packaged("model")
        else f"`{Path(args.model_name_or_path).name}`"
    )
    lines = [
        f"Inputs generated (seeded random DNA); {model_name}; CPU, torch threads per process "
        "= cores / processes; times include process start and model loading; `python benchmarks/scale.py`.",
        "",
        "| case | processes | time (s) | per second | bp/s | time of the baseline / time | peak RSS per process (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:  # baseline: the same case in 1 process; for nucleotide pooling, mean pooling
        alone = next(r for r in rows if r["case"] == row["baseline"] and r["processes"] == 1)
        bp_per_s = f"{row['bp_per_s']:,.0f}" if row["bp"] else "-"
        lines.append(
            f"| {row['case']} | {row['processes']} | {row['seconds']:.1f} | {row['per_s']:,.1f} "
            f"{row['unit']} | {bp_per_s} | {alone['seconds'] / row['seconds']:.2f}x | "
            f"{row['peak_mb']:,.0f} |"
        )
    write_report(args.output_dir, "scale", lines, rows)


if __name__ == "__main__":
    run_command(main)
