"""Train the DNA BPE tokenizer on FASTA files.

python train/train_tokenizer.py --fasta ../shared/data/genomes --vocab_size 4096 --output_dir .
"""

from dataclasses import dataclass, field

from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

from dnabert2.data.fasta import read_segments
from dnabert2.data.tokenizer import chunked, train_bpe
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class TokenizerArguments:
    fasta: list[str] = field(metadata={"help": "FASTA(.gz) files, folders or globs."})
    output_dir: str = field(default=".", metadata={"help": "Where tokenizer.json and tokenizer_config.json go."})
    vocab_size: int = field(default=4096)
    chunk_length: int = field(default=1000, metadata={"help": "Training chunks of this many bp."})
    sample_fraction: float = field(default=1.0, metadata={"help": "Fraction of chunks used for training."})
    held_out_percent: float = field(
        default=5.0, metadata={"help": "Percent of records (by name hash) kept out of training, for evaluation."}
    )
    model_max_length: int = field(
        default=VERY_LARGE_INTEGER,
        metadata={"help": "Recorded in tokenizer_config.json. ALiBi has no position limit: only memory bounds length."},
    )
    seed: int = field(default=42)


def main(argv=None):
    parser = command_parser(
        TokenizerArguments,
        usage="dnabert2-train-tokenizer --fasta FASTA [FASTA ...] --output_dir DIR [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    segments = read_segments(args.fasta, split="train", held_out_percent=args.held_out_percent, min_length=10)
    tokenizer = train_bpe(
        chunked(segments, args.chunk_length, args.sample_fraction, args.seed), args.vocab_size, args.model_max_length
    )
    tokenizer.save_pretrained(args.output_dir)
    print(f"Saved a {len(tokenizer)}-token tokenizer to {args.output_dir}")


if __name__ == "__main__":
    run_command(main)
