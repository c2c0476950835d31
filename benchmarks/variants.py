"""Variants scored per second by dnabert2-score-variants on this machine: the shipped model and the 117M
architecture (random weights: speed does not depend on them).

A generated genome (seeded random DNA, 2 contigs of 200 kb) and VCF (SNVs and short indels) are scored in-process
after a warm-up batch; window 512 bp, batch 16.

    python benchmarks/variants.py     # ~3 min on 2 cores; writes benchmarks/results/variants.{md,json}
"""

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from dnabert2.benchmarks.measure.generated import generated_variants, write_genome
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.variants import Reference, Variant, score_variants
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from modeling_dnabert2 import DNABert2ForMaskedLM


@dataclass
class VariantBenchArguments:
    variants: int = field(default=160, metadata={"help": "Variants scored per model."})
    window: int = field(default=512, metadata={"help": "bp per window."})
    threads: int = field(default=2, metadata={"help": "torch threads."})
    output_dir: str = field(default="benchmarks/results", metadata={"help": "Where the .md and .json go."})


def generated_inputs(folder: Path, count: int, seed: int = 0):
    """A 2-contig FASTA (2 x 200 kb) and ``count`` variants on it (``generated_variants``)."""
    contigs = write_genome(folder / "g.fa", {"chr1": 200_000, "chr2": 200_000}, seed)
    return folder / "g.fa", [Variant(c, p, ".", r, a) for c, p, r, a in generated_variants(contigs, count, seed)]


def variants_per_second(model, tokenizer, fasta, variants, window) -> float:
    """Variants/s over the list, after one warm-up batch."""
    reference = Reference(fasta)
    list(score_variants(variants[:16], reference, model, tokenizer, window))
    start = time.perf_counter()
    list(score_variants(variants, reference, model, tokenizer, window))
    return len(variants) / (time.perf_counter() - start)


def main():
    """Measure both models; print and write the table."""
    (args,) = command_parser(VariantBenchArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses()
    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(packaged("model"))
    models = {
        "shipped (5.3M)": DNABert2ForMaskedLM.from_pretrained(packaged("model")),
        "117M architecture": DNABert2ForMaskedLM(DNABert2Config(hidden_dropout_prob=0.0)),
    }
    rows = []
    with tempfile.TemporaryDirectory() as work:
        fasta, variants = generated_inputs(Path(work), args.variants)
        for name, model in models.items():
            rate = variants_per_second(model.eval(), tokenizer, fasta, variants, args.window)
            rows.append({"model": name, "variants": len(variants), "window_bp": args.window, "variants_per_s": rate})
            print(rows[-1], flush=True)
    lines = [
        f"`dnabert2-score-variants` speed: {args.variants} generated variants (70 % SNVs), window {args.window} "
        f"bp, batch 16, {args.threads} threads, fp32 CPU. Each variant costs 4 forward passes (REF and ALT, "
        "masked for the LLR and unmasked for the embeddings).",
        "",
        "| model | variants/s |",
        "|---|---|",
    ]
    lines += [f"| {r['model']} | {r['variants_per_s']:.1f} |" for r in rows]
    write_report(args.output_dir, "variants", lines, rows)


if __name__ == "__main__":
    run_command(main)
