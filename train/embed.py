"""Embed every record (or window) of a FASTA/FASTQ/CSV/BED file with a DNABERT-2 encoder into sharded Parquet.

    python train/embed.py --input reads.fq.gz --output_dir embeddings            # one process
    accelerate launch --num_processes 4 train/embed.py --input reads.fq.gz ...   # one shard per process
    dnabert2-embed --input reads.fq.gz --output_dir embeddings --num_shards 8 --shard_index $SLURM_ARRAY_TASK_ID

Record i belongs to shard i % num_shards; each worker writes its own parts (at most --part_size rows, written
whole or not at all) and records them in manifest.json, so a rerun redoes only the missing parts.
"""

from dataclasses import asdict, dataclass, field

import torch

import dnabert2
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.embedding import embed_to_parts
from dnabert2.inference.prediction import iter_inputs, load_classifier
from dnabert2.inference.sharding import open_run, worker_device
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from dnabert2.runtime.logs import configure_logging


@dataclass
class EmbedArguments:
    input: str = field(metadata={"help": "FASTA/FASTQ(.gz), CSV (sequence column) or BED (with --fasta)."})
    output_dir: str = field(metadata={"help": "Folder of Parquet parts and manifest.json (shared by all shards)."})
    model_name_or_path: str = field(
        default=str(dnabert2.packaged("model")),
        metadata={"help": "Pretrained encoder, fine-tuned classifier or LoRA adapter folder (its encoder embeds)."},
    )
    fasta: str | None = field(default=None, metadata={"help": "Indexed reference FASTA for a BED --input."})
    pooling: str = field(default="mean", metadata={"help": "mean | cls | token | nucleotide."})
    kmer: int | None = field(
        default=None,
        metadata={"help": "k-mer length of a DNABERT model, -1 for none (default: from the model's vocabulary)."},
    )
    window: int | None = field(default=None, metadata={"help": "Embed records longer than this many bp in windows."})
    stride: int | None = field(default=None, metadata={"help": "bp between window starts (default: --window)."})
    rc_average: bool = field(default=False, metadata={"help": "Average each input's and its reverse complement's."})
    max_tokens_per_batch: int = field(default=16384, metadata={"help": "Token budget of a batch (count x longest)."})
    dtype: str = field(
        default="float32", metadata={"help": "Stored vectors: float32 | float16 | bfloat16 (on GPUs also the compute)."}
    )
    part_size: int = field(default=10000, metadata={"help": "Rows per Parquet part file."})
    shard_index: int = field(default=0, metadata={"help": "This worker's shard (with --num_shards)."})
    num_shards: int = field(default=1, metadata={"help": "Shards in all (times WORLD_SIZE under a launcher)."})


def main(argv=None):
    """Embed this worker's shard of the input into --output_dir; returns the counts of parts, rows and skips."""
    parser = command_parser(
        EmbedArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-embed --input FILE --output_dir DIR [--pooling mean|cls|token|nucleotide] [options]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    configure_logging()
    if args.stride and not args.window:
        raise ValueError("--stride needs --window.")
    settings = {
        key: value
        for key, value in asdict(args).items()
        if key in ("pooling", "window", "stride", "rc_average", "dtype", "part_size")
    }
    store = open_run(
        args.output_dir, args.model_name_or_path, settings, args.input, args.fasta, args.shard_index, args.num_shards
    )
    encoder = load_classifier(args.model_name_or_path, allow_untrained_head=True).bert.to(worker_device())
    if encoder.device.type == "cuda" and args.dtype != "float32":  # half precision compute on GPUs only
        encoder.to(getattr(torch, args.dtype))
    return embed_to_parts(
        encoder,
        load_tokenizer(args.model_name_or_path, args.kmer),
        iter_inputs(args.input, args.fasta),
        store,
        args.pooling,
        args.window,
        args.stride,
        args.rc_average,
        args.dtype,
        args.part_size,
        args.max_tokens_per_batch,
    )


if __name__ == "__main__":
    run_command(main)
