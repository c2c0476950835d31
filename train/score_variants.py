"""Score the variants of a VCF/BCF with a DNABERT-2 language model (and optionally a fine-tuned classifier).

    python train/score_variants.py --vcf variants.vcf.gz --fasta genome.fa --output scores.tsv
    python train/score_variants.py --vcf v.vcf --fasta genome.fa.gz --classifier output --output scores.tsv

Output: a TSV with CHROM, POS, ID, REF, ALT, embedding_distance, llr, llr_tokens (and delta_<label> with
--classifier), one row per ALT allele, written as computed. Definitions in train/inference/variants.py.
"""

import csv
import logging
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from dnabert2 import packaged
from dnabert2.train.inference.prediction import load_classifier
from dnabert2.train.data.tokenizer import load_tokenizer
from dnabert2.train.inference.variants import COLUMNS, Reference, SkipCounts, read_variants, score_variants
from modeling_dnabert2 import DNABert2ForMaskedLM
from dnabert2.train.runtime.errors import run_command
from dnabert2.train.runtime.files import atomic_output
from dnabert2.train.runtime.arguments import command_parser

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


def main(argv=None):
    """Score every variant and write the TSV; returns the skip counts."""
    parser = command_parser(VariantArguments, usage="dnabert2-score-variants --vcf VCF --fasta FASTA [--output scores.tsv] [options]", description=__doc__.split("\n\n")[0])
    (args,) = parser.parse_args_into_dataclasses(argv)
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    tokenizer = load_tokenizer(args.model_name_or_path)
    mlm = DNABert2ForMaskedLM.from_pretrained(args.model_name_or_path).eval()
    classifier = load_classifier(args.classifier) if args.classifier else None
    counts = SkipCounts()
    columns = COLUMNS + ([f"delta_{classifier.config.id2label[k]}" for k in range(classifier.config.num_labels)]
                         if classifier else [])
    written = 0
    # the TSV appears under its name only once every variant is scored; the reference is closed either way
    with Reference(args.fasta) as reference, atomic_output(args.output) as output, \
            open(output, "w", newline="") as handle:
        rows = score_variants(read_variants(args.vcf, counts), reference, mlm, tokenizer, args.window, classifier,
                              args.on_ref_mismatch, counts, args.batch_size)
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t")
        writer.writeheader()
        for row in tqdm(rows, unit="variant", desc="Scoring"):
            writer.writerow(row)
            written += 1
    logger.info("%s; wrote %d rows to %s", counts.summary(), written, args.output)
    return counts


if __name__ == "__main__":
    run_command(main)
