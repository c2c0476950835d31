"""What the pretraining data pipeline costs: tokenize time, disk cache and memory per Gbp, cached vs streaming.

Each measurement runs in a fresh subprocess (peak RSS = its VmHWM) on the FASTA corpus:
- cached: FASTA -> arrow pieces -> token windows of 128 (``load_sequences`` + ``tokenize_windows``), with 1 and 2
  tokenizing processes (``--preprocessing_num_workers``), into an empty cache folder whose size is then measured;
- streaming: the same windows read and tokenized as they are consumed (``--streaming``), on a quarter of the files
  and on all of them, to show that memory does not grow with the corpus and nothing is written to disk.

    python benchmarks/pretraining_data.py --train_file "../shared/data/genomes/*.fa.gz"
    # ~3 min on 2 cores; writes benchmarks/results/pretraining_data.{md,json}
"""

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.fasta import expand_paths
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command

CHILD = """
import json, sys, time
from dnabert2 import packaged
from dnabert2.data.windows import load_sequences, tokenize_windows
from dnabert2.data.tokenizer import load_tokenizer
files, cache, streaming, workers = json.loads(sys.argv[1])
tokenizer = load_tokenizer(packaged("model"))
start = time.perf_counter()
data = tokenize_windows(load_sequences(files, validation_split_percentage=5, cache_dir=cache, streaming=streaming),
                        tokenizer, 128, workers)
windows = tokens = 0
for window in data["train"]:
    windows += 1
    tokens += len(window["input_ids"])
seconds = time.perf_counter() - start
peak = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024
print(json.dumps({"seconds": seconds, "windows": windows, "tokens": tokens, "peak_rss_mb": peak}))
"""


@dataclass
class DataBenchArguments:
    train_file: str = field(metadata={"help": "FASTA corpus (glob, e.g. '../shared/data/genomes/*.fa.gz')."})
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})


def folder_megabytes(folder: Path) -> float:
    """Size of the files under ``folder`` in MB."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def fasta_bases(paths) -> int:
    """A/C/G/T/N bases in the FASTA files (header lines excluded)."""
    from dnabert2.data.fasta import read_fasta

    return sum(len(record.sequence) for path in paths for record in read_fasta(path))


def measure(files, streaming: bool, workers: int | None) -> dict:
    """Run the pipeline once in a fresh process into an empty cache; time, windows, peak RSS and cache size."""
    with tempfile.TemporaryDirectory() as cache:
        argument = json.dumps([[str(f) for f in files], cache, streaming, workers])
        result = subprocess.run([sys.executable, "-c", CHILD, argument], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"pipeline run failed:\n{result.stderr[-3000:]}")
        row = json.loads(result.stdout.strip().splitlines()[-1])
        row["cache_mb"] = folder_megabytes(Path(cache))
    return row


def main():
    """Measure, print a table, write .md and .json."""
    (args,) = command_parser(DataBenchArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses()
    paths = expand_paths(args.train_file)
    quarter = paths[: max(1, len(paths) // 4)]
    cases = [
        ("cached, 1 process", paths, False, None),
        ("cached, 2 processes", paths, False, 2),
        ("streaming, 1/4 of the files", quarter, True, None),
        ("streaming, all files", paths, True, None),
    ]
    rows = []
    for name, files, streaming, workers in cases:
        bases = fasta_bases(files)
        row = {"case": name, "files": len(files), "bases": bases, **measure(files, streaming, workers)}
        row["seconds_per_gbp"] = row["seconds"] / (bases / 1e9)
        row["cache_gb_per_gbp"] = row["cache_mb"] / 1e3 / (bases / 1e9)
        rows.append(row)
        print(row, flush=True)
    lines = [
        f"Pretraining data pipeline on `{args.train_file}` (windows of 128 tokens), one fresh process per row.",
        "",
        "| case | files | Mbp | windows | time (s) | time per Gbp (h) | "
        "peak RSS (MB) | disk cache (MB) | cache per Gbp (GB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['files']} | {r['bases'] / 1e6:.1f} | {r['windows']:,} | {r['seconds']:.1f} | "
            f"{r['seconds_per_gbp'] / 3600:.2f} | {r['peak_rss_mb']:.0f} | {r['cache_mb']:.0f} | "
            f"{r['cache_gb_per_gbp']:.2f} |"
        )
    write_report(args.output_dir, "pretraining_data", lines, rows)


if __name__ == "__main__":
    run_command(main)
