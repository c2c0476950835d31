"""Score the variants of a VCF/BCF with a DNABERT-2 language model (and optionally a fine-tuned classifier).

    python train/score_variants.py --vcf variants.vcf.gz --fasta genome.fa --output scores.tsv
    python train/score_variants.py --vcf v.vcf --fasta genome.fa.gz --classifier output --output scores.tsv

Output: a TSV with CHROM, POS, ID, REF, ALT, embedding_distance, llr, llr_tokens (and delta_<label> with
--classifier), one row per ALT allele, written as computed. Definitions in train/inference/variants.py.

Sharded (--num_shards/--shard_index for job arrays, or several processes under accelerate launch / torchrun), ALT
allele i of the VCF belongs to shard i % shards: each worker scores its own into resumable Parquet parts in
<output>.parts/, and the worker that completes the last shard merges them, in VCF order, into the TSV one process
writes (--merge_only merges a finished run again).
"""

import csv
import logging
import os
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from dnabert2 import packaged
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.prediction import load_classifier
from dnabert2.inference.sharding import open_run, run_parts, worker_device
from dnabert2.inference.variants import COLUMNS, Reference, SkipCounts, read_variants, score_variants
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from dnabert2.runtime.files import atomic_output
from modeling_dnabert2 import DNABert2ForMaskedLM

logger = logging.getLogger("score_variants")


@dataclass
class VariantArguments:
    vcf: str = field(metadata={"help": "VCF or BCF, plain or bgzipped; every ALT of a record gets a row."})
    fasta: str = field(metadata={"help": "Reference FASTA (plain, or bgzipped with .fai/.gzi); indexed if needed."})
    output: str = field(default="variant_scores.tsv", metadata={"help": "TSV written as variants are scored."})
    model_name_or_path: str = field(
        default=str(packaged("model")), metadata={"help": "Masked language model (default: the shipped one)."}
    )
    classifier: str | None = field(
        default=None, metadata={"help": "Fine-tuned classifier folder: adds delta_<label> columns."}
    )
    window: int = field(default=512, metadata={"help": "bp of sequence around each variant."})
    on_ref_mismatch: str = field(
        default="error", metadata={"help": "REF differing from the FASTA: 'error' (names it) or 'skip' (counted)."}
    )
    batch_size: int = field(default=16, metadata={"help": "Variants scored together."})
    part_size: int = field(default=1000, metadata={"help": "ALT alleles per Parquet part (sharded runs)."})
    shard_index: int = field(default=0, metadata={"help": "This worker's shard (job arrays)."})
    num_shards: int = field(default=1, metadata={"help": "Shards in all (times WORLD_SIZE under a launcher)."})
    merge_only: bool = field(
        default=False, metadata={"help": "Merge the parts of a finished sharded run into --output."}
    )


def main(argv=None):
    """Score every variant and write the TSV; returns the skip counts."""
    parser = command_parser(
        VariantArguments,
        usage="dnabert2-score-variants --vcf VCF --fasta FASTA [--output scores.tsv] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    tokenizer = load_tokenizer(args.model_name_or_path)
    mlm = DNABert2ForMaskedLM.from_pretrained(args.model_name_or_path).eval().to(worker_device())
    classifier = load_classifier(args.classifier).to(worker_device()) if args.classifier else None
    columns = COLUMNS + (
        [f"delta_{classifier.config.id2label[k]}" for k in range(classifier.config.num_labels)] if classifier else []
    )
    if args.merge_only or args.num_shards > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return score_to_parts(args, mlm, tokenizer, classifier, columns)
    counts, written = SkipCounts(), 0
    # the TSV appears under its name only once every variant is scored; the reference is closed either way
    with (
        Reference(args.fasta) as reference,
        atomic_output(args.output) as output,
        open(output, "w", newline="") as handle,
    ):
        rows = score_variants(
            read_variants(args.vcf, counts),
            reference,
            mlm,
            tokenizer,
            args.window,
            classifier,
            args.on_ref_mismatch,
            counts,
            args.batch_size,
        )
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t", extrasaction="ignore")
        writer.writeheader()
        for row in tqdm(rows, unit="variant", desc="Scoring"):
            writer.writerow(row)
            written += 1
    logger.info("%s; wrote %d rows to %s", counts.summary(), written, args.output)
    return counts


def score_to_parts(args: VariantArguments, mlm, tokenizer, classifier, columns: list[str]) -> SkipCounts:
    """This worker's shard of the ALT alleles into Parquet parts in <output>.parts; the worker that completes the
    last shard (or --merge_only) merges them into the TSV. Returns this worker's skip counts."""
    import pyarrow as pa

    settings = {key: getattr(args, key) for key in ("classifier", "window", "on_ref_mismatch", "part_size")}
    store = open_run(
        f"{args.output}.parts",
        args.model_name_or_path,
        settings,
        args.vcf,
        args.fasta,
        args.shard_index,
        args.num_shards,
    )
    counts = SkipCounts()
    if not args.merge_only:
        schema = pa.schema(
            [
                (
                    name,
                    pa.int64()
                    if name in ("POS", "index")
                    else pa.float64()
                    if name in ("embedding_distance", "llr") or name.startswith("delta_")
                    else pa.string(),
                )
                for name in ["index", *columns]
            ]
        )
        with Reference(args.fasta) as reference:

            def compute(rows):
                scored = score_variants(
                    [variant for _, variant in rows],
                    reference,
                    mlm,
                    tokenizer,
                    args.window,
                    classifier,
                    args.on_ref_mismatch,
                    counts,
                    args.batch_size,
                )
                return pa.Table.from_pylist(list(scored), schema=schema)

            own = ((variant.index, variant) for variant in read_variants(args.vcf, counts, store.shard.owns))
            for part, rows, done in run_parts(own, args.part_size, store, compute):
                logger.info("%s: %s (%d alleles).", store.shard.part_name(part), done, len(rows))
        store.record_skipped(counts.skipped)
        logger.info("Shard %d of %d: %s", store.shard.index, store.shard.count, counts.summary())
    if args.merge_only or store.finish_shard():
        table = store.merged_table()
        with atomic_output(args.output) as output, open(output, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t", extrasaction="ignore")
            writer.writeheader()
            writer.writerows(table.to_pylist())
        logger.info("Merged %d rows from %s into %s", table.num_rows, store.folder, args.output)
    return counts


if __name__ == "__main__":
    run_command(main)
