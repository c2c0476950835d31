"""Score sequences with a masked language model: each record's (or window's) pseudo-log-likelihood (PLL).

    dnabert2-score --input sequences.fa --output scores.tsv
    dnabert2-score --input genome.fa --window 1000 --mask_stride 4 --output scores.tsv --tracks tracks.parquet
    dnabert2-score --input regions.bed --fasta genome.fa --region 100:200 --output scores.tsv

Output: a TSV with name, start, end, tokens (scored), pll (natural log), pll_per_bp, one row per record or window;
with --tracks, a Parquet file with each row's per-token and per-base log-probabilities. Exact by default (every
token masked once); --mask_stride k masks every k-th token per copy (k copies, faster, approximate). Inputs are
scored as they come into resumable Parquet parts (<output>.parts/, removed once merged into --output), so a killed
run resumes; sharded (--num_shards/--shard_index, or several processes under accelerate launch / torchrun), the
worker that completes the last shard merges every shard's parts, in input order, into the same files one process
writes; --merge_only merges a finished run again. Definitions, figures and limits: docs/likelihoods.md.
"""

from dnabert2.inference.arguments import ScoreArguments
from dnabert2.inference.jobs import run_score
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Score every record (or window) of --input into --output (and --tracks); returns the run's counts."""
    parser = command_parser(
        ScoreArguments,
        usage="dnabert2-score --input FILE [--output scores.tsv] [--mask_stride K] [--tracks FILE.parquet] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    return run_score(args)


if __name__ == "__main__":
    run_command(main)
