"""Throughput (bp/s) and peak memory of dnabert2-predict on short and long inputs, with the default token budget.

Inputs are generated (seeded random DNA): 10,000 short records of 100-300 bp, one record of 100 kb, and both in
one FASTA. Each case runs ``train/predict.py`` in a fresh process (peak RSS = its VmHWM) with the shipped model
and an untrained head (speed and memory do not depend on the head's weights).

    python benchmarks/prediction.py     # ~3 min on 2 cores; writes benchmarks/results/prediction.{md,json}
"""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2 import packaged
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.alphabet import ACGT
from dnabert2.runtime.arguments import command_parser, model_field
from dnabert2.runtime.errors import run_command

CHILD = """
import json, sys, time
from dnabert2.train.predict import main
start = time.perf_counter()
main(sys.argv[1:])
seconds = time.perf_counter() - start
peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({"seconds": seconds, "peak_rss_mb": peak}))
"""


@dataclass
class PredictionBenchArguments:
    model_name_or_path: str = model_field("Model folder (default: the shipped one).", str(packaged("model")))
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})
    threads: int = field(default=2, metadata={"help": "torch threads of the measured process."})


def write_fasta(path: Path, records: dict):
    """Write name -> sequence records, 80 bp per line."""
    with open(path, "w") as handle:
        for name, sequence in records.items():
            handle.write(f">{name}\n" + "\n".join(sequence[i : i + 80] for i in range(0, len(sequence), 80)) + "\n")


def run_case(model: str, fasta: Path, extra: list, threads: int) -> dict:
    """Run predict.py in a fresh process; seconds and peak RSS (MB)."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-c",
            CHILD,
            "--model",
            model,
            "--input",
            str(fasta),
            "--output",
            f"{out}/p.csv",
            "--allow_untrained_head",
            "True",
            *extra,
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={"OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    """Generate the inputs, measure each case, print and write the table."""
    (args,) = command_parser(
        PredictionBenchArguments, description=__doc__.split("\n\n")[0]
    ).parse_args_into_dataclasses()
    rng = np.random.default_rng(0)
    dna = lambda n: "".join(rng.choice(list(ACGT), n))  # noqa: E731
    short = {f"short{i}": dna(int(rng.integers(100, 301))) for i in range(10_000)}
    long = {"long_100kb": dna(100_000)}
    cases = [
        ("10,000 short (100-300 bp)", short, []),
        ("one 100-kb record, whole", long, []),
        ("one 100-kb record, 10-kb windows", long, ["--window", "10000"]),
        ("100 kb + 10,000 short, one file", {**long, **short}, []),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for name, records, extra in cases:
            fasta = Path(work) / "in.fa"
            write_fasta(fasta, records)
            bases = sum(map(len, records.values()))
            row = {
                "case": name,
                "records": len(records),
                "bp": bases,
                **run_case(args.model_name_or_path, fasta, extra, args.threads),
            }
            row["bp_per_s"] = bases / row["seconds"]
            rows.append(row)
            print(row, flush=True)
    lines = [
        f"`dnabert2-predict` with `{Path(args.model_name_or_path).name}` (shipped model unless given), default token "
        f"budget (16,384), {args.threads} threads; one fresh process per row (time includes loading the model).",
        "",
        "| case | records | Mbp | time (s) | bp/s | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['case']} | {r['records']:,} | {r['bp'] / 1e6:.2f} | {r['seconds']:.1f} | {r['bp_per_s']:,.0f} | "
        f"{r['peak_rss_mb']:.0f} |"
        for r in rows
    ]
    write_report(args.output_dir, "prediction", lines, rows)


if __name__ == "__main__":
    run_command(main)
