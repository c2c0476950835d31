"""Write the comparators' k-mer tokenizers for pretraining with run_mlm.py (no training: the vocabularies are fixed).

python train/make_kmer_tokenizers.py --output_dir tokenizers
# -> tokenizers/kmer_overlapping (DNABERT: BERT vocab.txt, overlapping 6-mers; pair with
#    train/configs/dnabert-kmer6-small.json) and tokenizers/kmer_nonoverlapping (NT: EsmTokenizer, 6-mers then
#    single bases; pair with train/configs/nt-kmer6-small.json)
"""

from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.data.tokenizer import KMER_TOKENIZERS, write_kmer_tokenizer
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class KmerTokenizerArguments:
    output_dir: str = field(default="tokenizers", metadata={"help": "One folder per tokenizer is written here."})
    k: int = field(default=6, metadata={"help": "k-mer length."})
    kinds: str = field(default=",".join(KMER_TOKENIZERS), metadata={"help": "Comma-separated tokenizer kinds."})


def main(argv=None):
    """Write each tokenizer folder; returns their paths."""
    parser = command_parser(
        KmerTokenizerArguments,
        usage="python train/make_kmer_tokenizers.py [--output_dir DIR] [--k 6]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    folders = [write_kmer_tokenizer(Path(args.output_dir) / kind, kind, args.k) for kind in args.kinds.split(",")]
    print("Wrote " + ", ".join(map(str, folders)))
    return folders


if __name__ == "__main__":
    run_command(main)
