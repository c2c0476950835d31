"""The flags of the inference commands (embed, predict, score, score-variants), shared where they mean the same thing.

Every command names its model ``--model_name_or_path`` (``--model`` is accepted too); each dataclass is also what
the matching ``run_*`` function of ``dnabert2.inference.jobs`` takes.
"""

from dataclasses import dataclass, field

from dnabert2 import packaged
from dnabert2.runtime.arguments import REQUIRED, model_field

SHIPPED = str(packaged("model"))  # = dnabert2.SHIPPED_MODEL


@dataclass(kw_only=True)
class ShardArguments:
    """How a run is split among workers and written in parts (resumable)."""

    part_size: int = field(default=10000, metadata={"help": "Rows per Parquet part file."})
    shard_index: int = field(default=0, metadata={"help": "This worker's shard (with --num_shards; job arrays)."})
    num_shards: int = field(default=1, metadata={"help": "Shards in all (times WORLD_SIZE under a launcher)."})


@dataclass(kw_only=True)
class SequenceInputArguments(ShardArguments):
    """Sequences from a file, whole or in windows, batched by a token budget."""

    input: str = field(metadata={"help": "FASTA/FASTQ(.gz), CSV (sequence column) or BED (with --fasta)."})
    fasta: str | None = field(default=None, metadata={"help": "Indexed reference FASTA for a BED --input."})
    window: int | None = field(default=None, metadata={"help": "Cut records longer than this many bp in windows."})
    stride: int | None = field(default=None, metadata={"help": "bp between window starts (default: --window)."})
    kmer: int | None = field(
        default=None,
        metadata={"help": "k-mer length of a DNABERT model, -1 for none (default: from the model's vocabulary)."},
    )
    max_tokens_per_batch: int = field(
        default=16384, metadata={"help": "Token budget of a batch (count x longest); a longer input goes alone."}
    )


@dataclass(kw_only=True)
class EncoderInputArguments(SequenceInputArguments):
    """Sequences for an encoder's outputs, which may average both strands."""

    rc_average: bool = field(
        default=False, metadata={"help": "Average each input's outputs and its reverse complement's."}
    )


@dataclass(kw_only=True)
class EmbedArguments(EncoderInputArguments):
    """dnabert2-embed: embeddings of every record or window into a folder of Parquet parts."""

    output_dir: str = field(metadata={"help": "Folder of Parquet parts and .manifest.json (shared by all shards)."})
    model_name_or_path: str = model_field("Pretrained encoder, fine-tuned classifier or LoRA adapter folder.", SHIPPED)
    pooling: str = field(default="mean", metadata={"help": "mean | cls | token | nucleotide."})
    dtype: str = field(
        default="float32", metadata={"help": "Stored vectors: float32 | float16 | bfloat16 (on GPUs also the compute)."}
    )
    base_model: str | None = field(
        default=None, metadata={"help": "Base model of a LoRA adapter (default: the one recorded in the adapter)."}
    )


@dataclass(kw_only=True)
class PredictArguments(EncoderInputArguments):
    """dnabert2-predict: a fine-tuned classifier's outputs for every record or window."""

    model_name_or_path: str = model_field(
        "Fine-tuned classifier (dnabert2-finetune --save_model True) or adapter.", REQUIRED
    )
    output: str = field(
        default="predictions.csv", metadata={"help": "CSV: name, start, end, prediction, probabilities."}
    )
    embeddings: str | None = field(
        default=None, metadata={"help": "Also write mean-pooled embeddings, one row per output row, to this .npy."}
    )
    max_length: int | None = field(
        default=None, metadata={"help": "Token limit per input (default: none, whole sequences)."}
    )
    long_inputs: str = field(
        default="cut",
        metadata={"help": "Inputs over --max_length: 'cut' (with a warning that counts them) or 'refuse'."},
    )
    aggregate: str | None = field(
        default=None, metadata={"help": "'mean': also a row per windowed record, from its windows' mean logits."}
    )
    quantize: str | None = field(default=None, metadata={"help": "'int8': dynamic int8 linear layers (CPU)."})
    base_model: str | None = field(
        default=None, metadata={"help": "Base model of a LoRA adapter (default: the one recorded in the adapter)."}
    )
    allow_untrained_head: bool = field(
        default=False, metadata={"help": "Predict even with a model that has no trained head (random outputs)."}
    )
    output_dir: str | None = field(
        default=None,
        metadata={
            "help": "Write resumable Parquet parts and .manifest.json here instead of --output (the parts are "
            "the output)."
        },
    )
    merge_only: bool = field(
        default=False, metadata={"help": "Merge the parts of a finished sharded run into --output (and --embeddings)."}
    )


@dataclass(kw_only=True)
class ScoreArguments(SequenceInputArguments):
    """dnabert2-score: pseudo-log-likelihoods of every record or window under a masked language model."""

    output: str = field(default="scores.tsv", metadata={"help": "TSV: name, start, end, tokens, pll, pll_per_bp."})
    model_name_or_path: str = model_field("Masked language model folder (default: the shipped one).", SHIPPED)
    region: str | None = field(
        default=None,
        metadata={"help": "START:END (0-based bp of each record): score only the tokens overlapping it."},
    )
    mask_stride: int | None = field(
        default=None,
        metadata={"help": "k: every k-th token masked per copy, k copies (approximate; default: exact, one by one)."},
    )
    tracks: str | None = field(
        default=None, metadata={"help": "Also write per-token and per-base log-probabilities to this Parquet file."}
    )
    part_size: int = field(default=1000, metadata={"help": "Rows per Parquet part."})
    merge_only: bool = field(
        default=False, metadata={"help": "Merge the parts of a finished sharded run into --output (and --tracks)."}
    )


@dataclass(kw_only=True)
class VariantArguments(ShardArguments):
    """dnabert2-score-variants: masked-LM and embedding scores (and classifier deltas) per ALT allele."""

    vcf: str = field(metadata={"help": "VCF or BCF, plain or bgzipped; every ALT of a record gets a row."})
    fasta: str = field(metadata={"help": "Reference FASTA (plain, or bgzipped with .fai/.gzi); indexed if needed."})
    output: str = field(default="variant_scores.tsv", metadata={"help": "TSV, one row per ALT allele."})
    model_name_or_path: str = model_field("Masked language model (default: the shipped one).", SHIPPED)
    classifier: str | None = field(
        default=None, metadata={"help": "Fine-tuned classifier folder: adds delta_<label> columns."}
    )
    window: int = field(default=512, metadata={"help": "bp of sequence around each variant."})
    on_ref_mismatch: str = field(
        default="error", metadata={"help": "REF differing from the FASTA: 'error' (names it) or 'skip' (counted)."}
    )
    batch_size: int = field(default=16, metadata={"help": "Variants scored together."})
    part_size: int = field(default=1000, metadata={"help": "ALT alleles per Parquet part."})
    merge_only: bool = field(
        default=False, metadata={"help": "Merge the parts of a finished sharded run into --output."}
    )
