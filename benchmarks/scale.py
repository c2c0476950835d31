"""Embeddings, predictions and variant scores at scale on this machine: one process against several, same inputs,
and how busy each process keeps the model.

Generated (seeded random) inputs: 20,000 reads of 150 bp (FASTQ.gz) for `dnabert2-embed` (mean pooling) and
`dnabert2-predict`, a 2-Mbp genome in 1-kb windows for `dnabert2-embed`, the cost of nucleotide pooling on a subset
of the reads, and `dnabert2-score-variants` on generated variants, with 1 and 2 workers. Several processes run under
`accelerate launch` (on CPUs each takes cores / processes torch threads). Every process is measured by
``benchmarks/measure/forward_share.py``: the same batches replayed through the forward pass alone give the time the
model itself needs, beside the command's. Times include starting the processes and loading the model; peak memory
is the largest process's maximum RSS (GNU time, which follows the launcher's children).

    python benchmarks/scale.py     # ~15 min on 2 idle cores; writes benchmarks/results/scale.{md,json}
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

CASES = ["reads", "predict", "genome", "pooling", "variants"]


@dataclass
class ScaleBenchArguments:
    model_name_or_path: str = model_field("Model folder (default: the shipped one).", str(packaged("model")))
    reads: int = field(default=20_000, metadata={"help": "Reads in the generated FASTQ.gz."})
    read_length: int = field(default=150, metadata={"help": "Read length (bp)."})
    genome_bp: int = field(
        default=2_000_000, metadata={"help": "Generated genome size (bp), embedded in 1-kb windows."}
    )
    nucleotide_reads: int = field(default=5_000, metadata={"help": "Reads embedded with mean and nucleotide pooling."})
    variants: int = field(default=400, metadata={"help": "Generated variants scored."})
    processes: str = field(default="1,2", metadata={"help": "Process counts to compare, comma-separated."})
    cases: str = field(
        default="reads,predict,genome,pooling,variants",
        metadata={"help": "Cases to run; the other cases' rows are kept from the existing scale.json."},
    )
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})


def run_case(module: str, flags: list, processes: int, work: Path) -> tuple[float, float, list[dict]]:
    """Run the command line ``module`` (e.g. ``dnabert2.train.embed``) with ``processes`` processes, each measured
    by ``forward_share``; (seconds from launch to the last worker's end, peak RSS of the largest process in MB, each
    process's forward-share report)."""
    launcher = (
        [sys.executable, "-m"]
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
            "-m",
        ]
    )
    report = work / f"forward-share-{time.time_ns()}.json"
    start = time.time()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "peak-kb %M", *launcher, "dnabert2.benchmarks.measure.forward_share", report, module]
        + list(map(str, flags)),
        capture_output=True,
        text=True,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    if result.returncode:
        raise RuntimeError(f"{module} with {processes} process(es) failed:\n{result.stderr[-3000:]}")
    peak = [line for line in result.stderr.splitlines() if line.startswith("peak-kb ")][-1]
    reports = [json.loads(path.read_text()) for path in sorted(work.glob(f"{report.name}*"))]
    seconds = max(r["ended_at"] for r in reports) - start  # launch to the last worker's end, the replays left out
    return seconds, int(peak.split()[1]) / 1024, reports


def kind_of(row: dict) -> str:
    """Which of ``CASES`` a result row belongs to."""
    case = row["case"]
    if "pooling" in case:
        return "pooling"
    if "genome" in case:
        return "genome"
    if case.startswith("score"):
        return "variants"
    return "predict" if case.startswith("predict") else "reads"


def parquet_rows(folder: Path) -> int:
    """Rows in a folder's Parquet parts."""
    return ds.dataset(sorted(map(str, folder.glob("*.parquet"))), format="parquet").count_rows()


def csv_rows(path: Path, delimiter: str = ",") -> int:
    """Data rows of a CSV or TSV file."""
    with open(path) as handle:
        return sum(1 for _ in csv.DictReader(handle, delimiter=delimiter))


def main(argv=None):
    """Generate the inputs, time every case with its forward share, check the outputs' row counts, print and write
    the table."""
    parser = command_parser(
        ScaleBenchArguments, usage="python benchmarks/scale.py [options]", description=__doc__.split("\n\n")[0]
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    counts = [int(n) for n in args.processes.split(",")]
    model = ["--model_name_or_path", args.model_name_or_path]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        reads = write_reads(work / "reads.fq.gz", args.reads, args.read_length)
        write_genome(work / "genome.fa", {"genome": args.genome_bp})
        few = write_reads(work / "few.fq.gz", args.nucleotide_reads, args.read_length, seed=1)
        contigs = write_genome(work / "ref.fa", {"chr1": 1_000_000, "chr2": 1_000_000}, seed=2)
        vcf = write_vcf(work / "v.vcf", contigs, generated_variants(contigs, args.variants))
        cases = []  # (kind, name, unit, bp per unit, command module, flags, output -> rows, process counts, baseline)
        cases.append((
            "reads", f"embed {args.reads:,} reads of {args.read_length} bp (FASTQ.gz), mean", "reads",
            args.read_length, "dnabert2.train.embed", [*model, "--input", reads, "--output_dir"], parquet_rows,
            counts, None,
        ))  # fmt: skip
        cases.append((
            "predict", f"predict {args.reads:,} reads of {args.read_length} bp (FASTQ.gz)", "reads",
            args.read_length, "dnabert2.train.predict",
            [*model, "--allow_untrained_head", "True", "--input", reads, "--output"], csv_rows, counts, None,
        ))  # fmt: skip
        cases.append((
            "genome", f"embed a {args.genome_bp / 1e6:g}-Mbp genome in 1-kb windows, mean", "windows", 1000,
            "dnabert2.train.embed", [*model, "--input", work / "genome.fa", "--window", 1000, "--output_dir"],
            parquet_rows, counts, None,
        ))  # fmt: skip
        for pooling in ("mean", "nucleotide"):
            cases.append((
                "pooling", f"embed {args.nucleotide_reads:,} reads, {pooling} pooling, float16", "reads",
                args.read_length, "dnabert2.train.embed",
                [*model, "--input", few, "--pooling", pooling, "--dtype", "float16", "--output_dir"], parquet_rows,
                [1], f"embed {args.nucleotide_reads:,} reads, mean pooling, float16",
            ))  # fmt: skip
        cases.append((
            "variants", f"score {args.variants} variants (512-bp windows)", "variants", 0,
            "dnabert2.train.score_variants", [*model, "--vcf", vcf, "--fasta", work / "ref.fa", "--output"],
            lambda path: csv_rows(path, "\t"), counts, None,
        ))  # fmt: skip
        for kind, name, unit, unit_bp, module, flags, count_rows, processes_list, baseline in cases:
            for processes in processes_list if kind in args.cases.split(",") else ():
                out = work / f"{kind}-{len(rows)}{ {'variants': '.tsv', 'predict': '.csv'}.get(kind, '') }"
                seconds, peak, reports = run_case(module, [*flags, out], processes, work)
                amount = count_rows(out)
                rows.append(
                    {
                        "case": name,
                        "unit": unit,
                        "amount": amount,
                        "bp": amount * unit_bp if kind != "genome" else args.genome_bp,
                        "processes": processes,
                        "seconds": seconds,
                        "per_s": amount / seconds,
                        "bp_per_s": (amount * unit_bp if kind != "genome" else args.genome_bp) / seconds,
                        "peak_mb": peak,
                        "baseline": baseline or name,
                        "startup_s": max(r["startup_s"] for r in reports),
                        "forward_only_s": [r["forward_only_s"] for r in reports],
                        "forward_share": [r["share"] for r in reports],
                        "forward_mfu": [r["forward_gflops"] / r["matmul_peak_gflops"] for r in reports],
                        "matmul_peak_gflops": [r["matmul_peak_gflops"] for r in reports],
                    }
                )
                print(rows[-1], flush=True)
        expected = {"reads": args.reads, "predict": args.reads, "pooling": args.nucleotide_reads}
        for row in rows:  # every input made its row
            assert kind_of(row) not in expected or row["amount"] == expected[kind_of(row)], row
    previous = Path(args.output_dir) / "scale.json"
    if previous.exists():  # the cases not rerun keep their rows
        rows += [row for row in json.loads(previous.read_text()) if kind_of(row) not in args.cases.split(",")]
        rows.sort(key=lambda row: CASES.index(kind_of(row)))
    write_report(args.output_dir, "scale", report_lines(rows, args), rows)


def report_lines(rows: list[dict], args) -> list[str]:
    """The markdown table: each case's end-to-end time beside its forward-only time and share."""
    model_name = (
        "the shipped model"
        if Path(args.model_name_or_path) == packaged("model")
        else f"`{Path(args.model_name_or_path).name}`"
    )
    lines = [
        f"Inputs generated (seeded random DNA); {model_name}; CPU, torch threads per process = cores / processes; "
        "`python benchmarks/scale.py`. Time: the whole command, process start and model loading included. "
        "Forward share: the same batches run again through the encoder's forward pass alone, in the same process "
        "after the command, over the command's time after start-up (start-up: until the first forward pass began); "
        "1.0 would mean reading, tokenizing, pooling and writing cost nothing beside the model. Forward MFU: the "
        "replayed forward passes' matmul FLOPs per second over the matmul peak measured in that process. With 2 "
        "processes, each process's figure.",
        "",
        "| case | processes | time (s) | start-up (s) | forward only (s) | forward share | forward MFU | per second "
        "| bp/s | time of the baseline / time | peak RSS per process (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def each(values, form):
        return " / ".join(form.format(v) for v in values) if values else "-"

    for row in rows:  # baseline: the same case in 1 process; for nucleotide pooling, mean pooling
        alone = next(r for r in rows if r["case"] == row["baseline"] and r["processes"] == 1)
        bp_per_s = f"{row['bp_per_s']:,.0f}" if row["bp"] else "-"
        startup = f"{row['startup_s']:.1f}" if "startup_s" in row else "-"
        lines.append(
            f"| {row['case']} | {row['processes']} | {row['seconds']:.1f} | {startup} | "
            f"{each(row.get('forward_only_s', []), '{:.1f}')} | {each(row.get('forward_share', []), '{:.2f}')} | "
            f"{each(row.get('forward_mfu', []), '{:.0%}')} | {row['per_s']:,.1f} {row['unit']} | {bp_per_s} | "
            f"{alone['seconds'] / row['seconds']:.2f}x | {row['peak_mb']:,.0f} |"
        )
    return lines


if __name__ == "__main__":
    run_command(main)
