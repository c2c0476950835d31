"""Score the variants of a VCF/BCF with a DNABERT-2 language model (and optionally a fine-tuned classifier).

    dnabert2-score-variants --vcf variants.vcf.gz --fasta genome.fa --output scores.tsv
    dnabert2-score-variants --vcf v.vcf --fasta genome.fa.gz --classifier output --output scores.tsv

Output: a TSV with CHROM, POS, ID, REF, ALT, embedding_distance, llr, llr_tokens (and delta_<label> with
--classifier), one row per ALT allele. Definitions in dnabert2/inference/variants.py.

Sharded (--num_shards/--shard_index for job arrays, or several processes under accelerate launch / torchrun), ALT
allele i of the VCF belongs to shard i % shards: each worker scores its own into resumable Parquet parts in
<output>.parts/, and the worker that completes the last shard merges them, in VCF order, into the TSV (--merge_only
merges a finished run again). One process is one shard: its parts are removed once merged.
"""

from dnabert2.inference.arguments import VariantArguments
from dnabert2.inference.jobs import run_score_variants
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Score every ALT allele and write the TSV; returns this worker's skip counts."""
    parser = command_parser(
        VariantArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-score-variants --vcf VCF --fasta FASTA [--output scores.tsv] [options]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    return run_score_variants(args)


if __name__ == "__main__":
    run_command(main)
