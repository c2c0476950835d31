"""Predict with a fine-tuned DNABERT-2 (merged model or LoRA adapter folder) on a CSV or FASTA file.

    dnabert2-predict --model_name_or_path output --input sequences.fa --output predictions.csv --embeddings emb.npy

Whole sequences by default (ALiBi has no position limit; memory grows linearly with length). Inputs are read and
scored as they come, batched by a token budget, into resumable Parquet parts (<output>.parts/, removed once merged
into --output), so a multi-gigabyte FASTA need not fit in memory and a killed run resumes.
Records longer than you want to score whole go in windows (--window/--stride, in bp), one output row per window
(name, start, end), plus with --aggregate mean one row per record averaging its windows' logits.
Sharded (--num_shards/--shard_index, or several processes under accelerate launch / torchrun: the launcher's
RANK/WORLD_SIZE pick each worker's records), every worker writes resumable Parquet parts into <output>.parts/ (or
--output_dir) and the worker that completes the last shard merges them, in input order, into --output (and
--embeddings): the same rows one process writes. --merge_only merges a finished run again. With --output_dir alone,
the parts are the output (as dnabert2-embed writes them).
"""

from dnabert2.inference.arguments import PredictArguments
from dnabert2.inference.jobs import run_predict
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Predict every input (or window) into --output (and --embeddings); returns the run's counts."""
    parser = command_parser(
        PredictArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-predict --model_name_or_path DIR --input FILE [--output predictions.csv] [options]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    return run_predict(args)


if __name__ == "__main__":
    run_command(main)
