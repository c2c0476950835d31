"""Pretraining arguments with the DNABERT-2 paper's defaults (model, data, training) and the model they build."""

from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from configuration_dnabert2 import DNABert2Config
from dnabert2.models import is_dnabert2, saved_as_loaded
from dnabert2.runtime.arguments import model_field
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.parallel import data_parallel_on_cpu
from modeling_dnabert2 import DNABert2ForMaskedLM

# The species the shipped model was pretrained without (train/pretraining/pretrain.sh), held out whole.
HELD_OUT_SPECIES = (
    "protist_Plasmodium_knowlesi",
    "bacteria_Vibrio_cholerae_N16961",
    "plant_Arabidopsis_arenosa_chr1_chr2",
)


@dataclass
class ModelArguments:
    """Which model to train: a checkpoint to continue, or a config for a new one."""

    _argument_group_name = "model"
    model_name_or_path: str | None = model_field("Checkpoint to continue from.")
    config_name: str | None = field(default=None, metadata={"help": "Config file or folder for a new model."})
    config_overrides: str | None = field(
        default=None,
        metadata={
            "help": "Override config values, e.g. 'num_hidden_layers=4,hidden_size=256' (new model) or "
            "'hidden_dropout_prob=0.0' (checkpoint)."
        },
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer folder (default: the model's)."})
    cache_dir: str | None = field(default=None, metadata={"help": "Where tokenized windows are cached."})


@dataclass
class DataTrainingArguments:
    """The corpus, the held-out data and the windows."""

    _argument_group_name = "data"
    train_file: list[str] = field(default=None, metadata={"help": "FASTA(.gz) files or globs, or text/CSV files."})
    gue_dir: str | None = field(
        default=None,
        metadata={
            "help": "Instead of --train_file: the training splits of every GUE task in this folder (official "
            "layout), for further pretraining (the paper's DNABERT-2 with a diamond); dev and test never."
        },
    )
    gue_dataset: str | None = field(
        default=None,
        metadata={"help": "As --gue_dir, from GUE as a Hub dataset (repo id or folder): train splits only."},
    )
    validation_file: list[str] | None = field(default=None, metadata={"help": "FASTA files or globs held out whole."})
    validation_species: list[str] | None = field(
        default=None,
        metadata={
            "help": "Globs on training file names (e.g. 'protist_Plasmodium_knowlesi*'): those files are held "
            "out whole, so evaluation is on genomes never trained on."
        },
    )
    validation_split_percentage: float = field(
        default=5.0,
        metadata={
            "help": "Percent of the remaining records held out whole, by name hash (0: none). Aligned genomes "
            "(e.g. human/chimp chr22 blocks) have near-identical twins in other files: hold those out by file."
        },
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per window, [CLS] and [SEP] included (>= 8)."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Fraction of tokens selected for prediction."})
    mask_span: int | None = field(
        default=None,
        metadata={
            "help": "Mask spans of this many contiguous tokens, in training and evaluation (default: k for an "
            "overlapping k-mer tokenizer, as DNABERT did, since a lone masked k-mer is spelled out by its "
            "neighbours; else 1)."
        },
    )
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only this many training windows."})
    streaming: bool = field(
        default=False,
        metadata={
            "help": "Read and tokenize the training FASTA as it is consumed (memory and disk flat in corpus "
            "size; needs --max_steps). Held-out data is still cached."
        },
    )
    shuffle_buffer_size: int = field(default=10_000, metadata={"help": "Windows in the streaming shuffle buffer."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on a fixed random sample of this many held-out windows."}
    )

    def __post_init__(self):
        if self.max_seq_length < 8:
            raise InputError(f"--max_seq_length {self.max_seq_length}: windows need at least 8 tokens.")
        if not 0 < self.mlm_probability < 1:
            raise InputError(f"--mlm_probability {self.mlm_probability} must lie between 0 and 1.")


@dataclass
class MLMTrainingArguments(TrainingArguments):
    """TrainingArguments with the DNABERT-2 paper's pretraining defaults."""

    _argument_group_name = "training (transformers TrainingArguments; the paper's pretraining defaults)"

    learning_rate: float = field(default=5e-4)
    adam_beta1: float = field(default=0.9)
    adam_beta2: float = field(default=0.98)
    adam_epsilon: float = field(default=1e-6)
    weight_decay: float = field(default=1e-5)
    warmup_steps: float = field(default=0.06, metadata={"help": "Warmup steps, or a fraction (< 1) of all steps."})
    lr_scheduler_type: str = field(default="linear")
    eval_strategy: str = field(default="steps")
    eval_steps: float | None = field(default=500)
    save_steps: float = field(default=500)
    save_total_limit: int | None = field(default=2)
    logging_steps: float = field(default=50)
    dataloader_pin_memory: bool = field(default=torch.cuda.is_available())
    eval_only: bool = field(
        default=False, metadata={"help": "Only evaluate the model on the held-out data (masked-only, with baselines)."}
    )

    def __post_init__(self):
        data_parallel_on_cpu(self)
        super().__post_init__()


def build_model(model_args: ModelArguments, tokenizer):
    """A new model from ``config_name``, or a checkpoint from ``model_name_or_path``; ``config_overrides`` apply to
    either (e.g. the dropout of a checkpoint shipped with fine-tuning settings). Configs of other architectures
    (a BERT for DNABERT-style k-mers, an ESM for NT-style ones) build their Auto masked-LM class."""
    source = model_args.model_name_or_path or model_args.config_name
    if source and not is_dnabert2(source):
        return _auto_masked_lm(model_args, source, tokenizer)
    config = DNABert2Config.from_pretrained(source, cache_dir=model_args.cache_dir) if source else DNABert2Config()
    if model_args.config_overrides:
        config.update_from_string(model_args.config_overrides)
    if model_args.model_name_or_path:
        return DNABert2ForMaskedLM.from_pretrained(source, config=config, cache_dir=model_args.cache_dir)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    return DNABert2ForMaskedLM(config)


def _auto_masked_lm(model_args: ModelArguments, source, tokenizer):
    """build_model for an architecture other than DNABERT-2, through AutoModelForMaskedLM."""
    from transformers import AutoConfig, AutoModelForMaskedLM

    config = AutoConfig.from_pretrained(source, cache_dir=model_args.cache_dir, trust_remote_code=True)
    if model_args.config_overrides:
        config.update_from_string(model_args.config_overrides)
    if model_args.model_name_or_path:
        return saved_as_loaded(AutoModelForMaskedLM.from_pretrained(source, config=config, trust_remote_code=True))
    config.vocab_size, config.pad_token_id = len(tokenizer), tokenizer.pad_token_id
    if hasattr(config, "mask_token_id"):  # ESM
        config.mask_token_id = tokenizer.mask_token_id
    return saved_as_loaded(AutoModelForMaskedLM.from_config(config, trust_remote_code=True))


def held_out_description(data_args: DataTrainingArguments) -> str:
    """The held-out data in words, for the model card."""
    if data_args.gue_dir or data_args.gue_dataset:
        return f"{data_args.validation_split_percentage}% of the GUE training rows (a seeded draw)"
    parts = [f"files {', '.join(data_args.validation_file)}"] if data_args.validation_file else []
    parts += [f"species files {', '.join(data_args.validation_species)}"] if data_args.validation_species else []
    if data_args.validation_split_percentage:
        parts.append(f"{data_args.validation_split_percentage}% of the other records (name hash)")
    return "; ".join(parts)
