"""The paper's vocabulary-size study on held-out sequence, and tokenizer throughput.

For BPE vocabularies 2^8 .. 2^15 (trained on the training records of the corpus) and for 6-mers: average token
length (bp), tokens per bp, and relative forward FLOPs of the 117M architecture on 500-bp inputs, all measured on
held-out records (never seen in training). Writes markdown, JSON and a plot under benchmarks/results/.

    python benchmarks/tokenizer_study.py --fasta ../shared/data/genomes
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dnabert2 import packaged
from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.benchmarks.measure.flops import DNABERT2, forward_flops
from dnabert2.data.fasta import read_segments
from dnabert2.data.tokenizer import chunked, load_tokenizer, train_bpe
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class StudyArguments:
    fasta: list[str] = field(metadata={"help": "FASTA files or folders (e.g. ../shared/data/genomes)."})
    min_power: int = field(default=8)
    max_power: int = field(default=15)
    train_bp: int = field(default=8_000_000, metadata={"help": "bp of training records used per tokenizer."})
    held_out_bp: int = field(default=1_000_000, metadata={"help": "bp of held-out records measured."})
    output_dir: str = field(default="benchmarks/results")
    seed: int = field(default=0)
    only_throughput: bool = field(default=False, metadata={"help": "Re-measure throughput only, keep the study rows."})


def take_bp(segments, limit, chunk=1000):
    """Chunks of ``chunk`` bp from the segments until ``limit`` bp."""
    out, total = [], 0
    for piece in chunked(segments, chunk, 1.0, 0):
        if len(piece) < 50:
            continue
        out.append(piece)
        total += len(piece)
        if total >= limit:
            break
    return out


def study_row(name, tokens_per_bp):
    """Average token length, tokens per bp and FLOPs of a 500-bp input (relative FLOPs are filled in later)."""
    tokens_500 = round(500 * tokens_per_bp) + 2
    return {
        "tokenizer": name,
        "avg_token_bp": 1 / tokens_per_bp,
        "tokens_per_bp": tokens_per_bp,
        "tokens_for_500bp": tokens_500,
        "flops_500bp": forward_flops(DNABERT2, tokens_500),
    }


def measure_bpe(tokenizer, held_out):
    ids = tokenizer(held_out, add_special_tokens=False)["input_ids"]
    return sum(map(len, ids)) / sum(map(len, held_out))


def throughput(tokenizer, held_out, repeats=3):
    """bp per second of batch encoding (the tokenizer's Rust threads on this machine's cores)."""
    total = sum(map(len, held_out))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tokenizer(held_out, add_special_tokens=False)
        best = min(best, time.perf_counter() - start)
    return total / best


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bpe = [r for r in rows if r["tokenizer"].startswith("BPE")]
    sizes = [int(r["tokenizer"].split()[1]) for r in bpe]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(sizes, [r["avg_token_bp"] for r in bpe], "o-")
    axes[0].set_xscale("log", base=2)
    axes[0].set_xlabel("BPE vocabulary size")
    axes[0].set_ylabel("average token length (bp, held-out)")
    axes[1].plot(sizes, [r["relative_flops"] for r in bpe], "o-", label="BPE")
    for r in rows:
        if not r["tokenizer"].startswith("BPE"):
            axes[1].axhline(r["relative_flops"], linestyle="--", color="gray")
            axes[1].text(sizes[0], r["relative_flops"], r["tokenizer"], va="bottom", fontsize=8)
    axes[1].set_xscale("log", base=2)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("BPE vocabulary size")
    axes[1].set_ylabel("forward FLOPs, 500-bp input (rel. to BPE 4096)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    (args,) = command_parser(StudyArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(argv)
    command = " ".join(["python benchmarks/tokenizer_study.py", *(sys.argv[1:] if argv is None else argv)])
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    held_out = take_bp(read_segments(args.fasta, "held_out", min_length=50), args.held_out_bp)
    shipped = load_tokenizer(packaged("model"))
    speed = {"shipped_tokenizer_bp_per_s": throughput(shipped, held_out), "chunk_bp": 1000, "command": command}
    if args.only_throughput:
        study = json.loads((out / "tokenizer_study.json").read_text())
        corpus, rows, shipped_row = study["corpus"], study["rows"], study["shipped"]
    else:
        train = take_bp(read_segments(args.fasta, "train", min_length=50), args.train_bp)
        rows = []
        for power in range(args.min_power, args.max_power + 1):
            tokenizer = train_bpe(train, 2**power, show_progress=False)
            rows.append(study_row(f"BPE {2**power}", measure_bpe(tokenizer, held_out)))
            print(f"vocab {2**power}: {rows[-1]['avg_token_bp']:.2f} bp/token", flush=True)
        rows.append(study_row("6-mer overlapping", 1.0))
        rows.append(study_row("6-mer non-overlapping", 1 / 6))
        reference = next(r["flops_500bp"] for r in rows if r["tokenizer"] == "BPE 4096")
        for row in rows:
            row["relative_flops"] = row["flops_500bp"] / reference
        shipped_row = study_row("shipped tokenizer (BPE 4096, full corpus)", measure_bpe(shipped, held_out))
        shipped_row["relative_flops"] = shipped_row["flops_500bp"] / reference
        corpus = {
            "train_bp": sum(map(len, train)),
            "held_out_bp": sum(map(len, held_out)),
            "fasta": args.fasta,
            "command": command,
        }
    (out / "tokenizer_study.json").write_text(
        json.dumps({"corpus": corpus, "rows": rows, "shipped": shipped_row, "throughput": speed}, indent=2)
    )
    lines = [
        f"Command: `{corpus.get('command', command)}`",
        "",
        f"Trained on {corpus['train_bp']:,} bp of training records; "
        f"measured on {corpus['held_out_bp']:,} bp of held-out records.",
        "",
        "| tokenizer | avg token (bp) | tokens / bp | tokens for 500 bp | rel. FLOPs (500 bp, 117M) |",
        "|---|---|---|---|---|",
    ]
    for row in rows + [shipped_row]:
        lines.append(
            f"| {row['tokenizer']} | {row['avg_token_bp']:.2f} | {row['tokens_per_bp']:.3f} | "
            f"{row['tokens_for_500bp']} | {row['relative_flops']:.2f} |"
        )
    lines += [
        "",
        f"Shipped tokenizer throughput (batch encode, 1-kb chunks, 2 cores): "
        f"{speed['shipped_tokenizer_bp_per_s'] / 1e6:.2f} Mbp/s "
        f"(`{command}`)",
    ]
    table = "\n".join(lines) + "\n"
    write_results_markdown(out / "tokenizer_study.md", table)
    plot(rows, out / "tokenizer_study.png")
    print(table)


if __name__ == "__main__":
    run_command(main)
