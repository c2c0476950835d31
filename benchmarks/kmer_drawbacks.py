"""The paper's two arguments against k-mer tokens, measured on held-out sequence (no model involved).

(a) Leakage: the share of masked overlapping-6-mer tokens that a rule with no model recovers exactly from the
visible tokens (every base of a masked token lies in some unmasked token), under BERT's single-token masking and
DNABERT's masking of 6 contiguous tokens (``dnabert2.pretraining.masking.select_positions``, 15 %).
(b) Indel sensitivity: after one random single-base insertion into a 500-bp sequence, the share of its tokens that
change and how far (bp) from the edit the change reaches, for overlapping 6-mers (DNABERT), non-overlapping 6-mers
(Nucleotide Transformer) and the shipped BPE (4,096).

    python benchmarks/kmer_drawbacks.py --fasta ../shared/data/genomes/plant_Arabidopsis_arenosa_chr1_chr2.fa.gz
    # -> benchmarks/results/tokenization/kmer_drawbacks.{md,json}
"""

import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2 import packaged
from dnabert2.data.alphabet import ACGT
from dnabert2.data.fasta import read_segments
from dnabert2.data.tokenizer import load_tokenizer, nonoverlapping_kmers
from dnabert2.pretraining.masking import select_positions
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from dnabert2.runtime.files import write_text_atomic

K = 6


@dataclass
class DrawbackArguments:
    fasta: str = field(
        metadata={
            "help": "A held-out species no model of this project trained on "
            "(../shared/data/genomes/plant_Arabidopsis_arenosa_chr1_chr2.fa.gz for the committed results)."
        },
    )
    windows: int = field(default=2000, metadata={"help": "500-bp windows measured."})
    length: int = field(default=500, metadata={"help": "Window length (bp)."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Share of tokens masked."})
    seed: int = field(default=0)
    output_dir: str = field(default="benchmarks/results/tokenization")


def windows_of(path, count: int, length: int) -> list[str]:
    """The first ``count`` non-overlapping windows of ``length`` bp of A/C/G/T segments of a FASTA file."""
    out = []
    for segment in read_segments([path], min_length=length):
        for start in range(0, len(segment) - length + 1, length):
            out.append(segment[start : start + length])
            if len(out) == count:
                return out
    return out


def recoverable(masked: np.ndarray, k: int = K) -> tuple[np.ndarray, np.ndarray]:
    """For overlapping k-mer tokens (token i = bases i..i+k-1) with a boolean mask: per token, whether all its bases
    lie in some unmasked token (so a rule reads it off its neighbours), and how many of its k bases do."""
    n = len(masked)
    visible = np.concatenate([[0], np.cumsum(~masked)])  # visible tokens among 0..t-1
    bases = np.arange(n + k - 1)
    first, last = np.clip(bases - k + 1, 0, n), np.clip(bases + 1, 0, n)  # tokens covering base j: [j-k+1, j]
    covered = (visible[last] - visible[first]) > 0
    window = np.lib.stride_tricks.sliding_window_view(covered, k)  # (n, k): the bases of token i
    return window.all(axis=1), window.sum(axis=1)


def leakage(sequences: list[str], probability: float, span: int, seed: int) -> dict:
    """Masked tokens that the no-model rule recovers exactly, and the mean share of their bases it knows."""
    rng = np.random.default_rng(seed)
    masked_total = recovered = known = 0
    for sequence in sequences:
        n = len(sequence) - K + 1
        mask = np.zeros(n, dtype=bool)
        mask[select_positions(rng, n, probability, span)] = True
        exact, bases = recoverable(mask)
        masked_total += int(mask.sum())
        recovered += int(exact[mask].sum())
        known += int(bases[mask].sum())
    return {
        "masking": "single tokens" if span == 1 else f"spans of {span} tokens",
        "masked_share": masked_total / sum(len(s) - K + 1 for s in sequences),
        "masked_tokens": masked_total,
        "recovered_exactly": recovered / masked_total,
        "bases_known": known / (K * masked_total),
    }


def overlapping_spans(sequence: str) -> list[tuple[str, int]]:
    """(token, start) of the overlapping 6-mers."""
    return [(sequence[i : i + K], i) for i in range(len(sequence) - K + 1)]


def nonoverlapping_spans(sequence: str) -> list[tuple[str, int]]:
    """(token, start) of the Nucleotide Transformer's non-overlapping 6-mers."""
    out, start = [], 0
    for token in nonoverlapping_kmers(sequence, K):
        out.append((token, start))
        start += len(token)
    return out


def bpe_spans_of(tokenizer):
    """(token, start) of a BPE tokenizer's tokens (special tokens left out)."""

    def spans(sequence: str) -> list[tuple[str, int]]:
        encoded = tokenizer(sequence, add_special_tokens=False, return_offsets_mapping=True)
        return [(sequence[a:b], a) for a, b in encoded["offset_mapping"]]

    return spans


def edit_effect(before: list[tuple[str, int]], after: list[tuple[str, int]], position: int) -> tuple[int, int]:
    """(tokens of ``before`` that changed, farthest changed base from the edit in bp) after inserting one base at
    ``position``: tokens unchanged are the common prefix (same token, same start) and the common suffix (same token,
    start moved by one); the others changed."""
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while (
        suffix < min(len(before), len(after)) - prefix
        and before[-1 - suffix][0] == after[-1 - suffix][0]
        and after[-1 - suffix][1] == before[-1 - suffix][1] + 1
    ):
        suffix += 1
    changed = before[prefix : len(before) - suffix]
    if not changed:
        return 0, 0
    start, end = changed[0][1], changed[-1][1] + len(changed[-1][0])
    return len(changed), max(position - start, end - position)


def indel_sensitivity(sequences: list[str], spans, seed: int) -> dict:
    """Share of tokens changed by one random single-base insertion, and the reach of the change (bp)."""
    rng = np.random.default_rng(seed)
    changed_share, reach = [], []
    for sequence in sequences:
        position = int(rng.integers(1, len(sequence)))  # inside the sequence, never at an end
        edited = sequence[:position] + ACGT[int(rng.integers(4))] + sequence[position:]
        before = spans(sequence)
        changed, farthest = edit_effect(before, spans(edited), position)
        changed_share.append(changed / len(before))
        reach.append(farthest)
    return {
        "tokens_changed_share_mean": float(np.mean(changed_share)),
        "tokens_changed_share_median": float(np.median(changed_share)),
        "reach_bp_mean": float(np.mean(reach)),
        "reach_bp_median": float(np.median(reach)),
        "reach_bp_max": int(np.max(reach)),
    }


def markdown(report: dict) -> str:
    """The report as markdown tables."""
    lines = [
        "# The paper's arguments against k-mer tokens, measured",
        "",
        f"Held-out sequence: {report['windows']} windows of {report['length']} bp from `{report['source']}` (no model "
        f"of this project was trained on that species); seed {report['seed']}. Command: `{report['command']}`.",
        "",
        "## (a) Leakage of masked overlapping 6-mers",
        "",
        "A masked token is recovered exactly when each of its 6 bases lies in some unmasked token (no model: the "
        "neighbours spell it out).",
        "",
        "| masking | tokens masked | masked tokens recovered exactly | bases of masked tokens known |",
        "|---|---|---|---|",
    ]
    for row in report["leakage"]:
        lines.append(
            f"| {row['masking']} | {row['masked_share']:.1%} | {row['recovered_exactly']:.1%} | "
            f"{row['bases_known']:.1%} |"
        )
    lines += [
        "",
        "## (b) One random single-base insertion",
        "",
        "Tokens unchanged are the common prefix (same token at the same place) and suffix (same token, one base "
        "later); reach: the farthest base of a changed token from the insertion.",
        "",
        "| tokenization | tokens changed (mean) | (median) | reach, bp (mean) | (median) | (max) |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["indel"].items():
        lines.append(
            f"| {name} | {row['tokens_changed_share_mean']:.1%} | {row['tokens_changed_share_median']:.1%} | "
            f"{row['reach_bp_mean']:.1f} | {row['reach_bp_median']:.0f} | {row['reach_bp_max']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    """Measure both arguments and write kmer_drawbacks.{md,json}."""
    parser = command_parser(
        DrawbackArguments,
        usage="python benchmarks/kmer_drawbacks.py [--windows N]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    sequences = windows_of(args.fasta, args.windows, args.length)
    if not sequences:
        raise ValueError(f"{args.fasta}: no {args.length}-bp stretch of A/C/G/T.")
    bpe = bpe_spans_of(load_tokenizer(packaged("model")))
    report = {
        "source": Path(args.fasta).name,
        "windows": len(sequences),
        "length": args.length,
        "seed": args.seed,
        "command": shlex.join(["python", "benchmarks/kmer_drawbacks.py", *(sys.argv[1:] if argv is None else argv)]),
        "leakage": [leakage(sequences, args.mlm_probability, span, args.seed) for span in (1, K)],
        "indel": {
            "overlapping 6-mers (DNABERT)": indel_sensitivity(sequences, overlapping_spans, args.seed),
            "non-overlapping 6-mers (NT)": indel_sensitivity(sequences, nonoverlapping_spans, args.seed),
            "BPE 4096 (shipped)": indel_sensitivity(sequences, bpe, args.seed),
        },
    }
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "kmer_drawbacks.json", json.dumps(report, indent=2))
    write_text_atomic(output / "kmer_drawbacks.md", markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    run_command(main)
