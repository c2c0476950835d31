"""Embed every record (or window) of a FASTA/FASTQ/CSV/BED file with a DNABERT-2 encoder into sharded Parquet.

    python train/embed.py --input reads.fq.gz --output_dir embeddings            # one process
    accelerate launch --num_processes 4 train/embed.py --input reads.fq.gz ...   # one shard per process
    dnabert2-embed --input reads.fq.gz --output_dir embeddings --num_shards 8 --shard_index $SLURM_ARRAY_TASK_ID

Record i belongs to shard i % num_shards; each worker writes its own parts (at most --part_size rows, written
whole or not at all) and records them in .manifest.json, so a rerun redoes only the missing parts.
"""

from dnabert2.inference.arguments import EmbedArguments
from dnabert2.inference.jobs import run_embed
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Embed this worker's shard of the input into --output_dir; returns the run's counts."""
    parser = command_parser(
        EmbedArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-embed --input FILE --output_dir DIR [--pooling mean|cls|token|nucleotide] [options]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    return run_embed(args)


if __name__ == "__main__":
    run_command(main)
