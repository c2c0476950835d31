"""Fine-tuning command-line arguments: the model, the task, and TrainingArguments with the paper's defaults.

The dataclasses keep the names of the original DNABERT-2 ``finetune/train.py`` so its command lines work
(``legacy_argv`` maps the flags that transformers 5 renamed).
"""

import warnings
from dataclasses import dataclass, field

import torch
from transformers import TrainingArguments

from dnabert2 import packaged
from dnabert2.finetuning.lora import BERT_LORA_TARGETS, DEFAULT_LORA_TARGETS
from dnabert2.runtime.arguments import model_field
from dnabert2.runtime.parallel import data_parallel_on_cpu


@dataclass
class ModelArguments:
    """The pretrained model and how it is adapted (LoRA or full fine-tuning)."""

    _argument_group_name = "model"
    model_name_or_path: str = model_field("Pretrained model (default: the shipped one).", str(packaged("model")))
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (and the new head) only."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    lora_target_modules: str | None = field(
        default=None,
        metadata={
            "help": "Comma-separated linear layer names (default by architecture: DNABERT-2 "
            f"{DEFAULT_LORA_TARGETS}; BERT and ESM {BERT_LORA_TARGETS})."
        },
    )
    classifier_pooling: str | None = field(default=None, metadata={"help": "'cls' or 'mean' (default: the config's)."})
    from_scratch: bool = field(
        default=False, metadata={"help": "Random weights of the model's config, not its pretrained ones (ablation)."}
    )


@dataclass
class DataArguments:
    """The task: a folder of CSV files or a Hub dataset."""

    _argument_group_name = "data"
    data_path: str | None = field(default=None, metadata={"help": "Folder with train.csv, dev.csv, test.csv."})
    kmer: int | None = field(
        default=None,
        metadata={
            "help": "k: write sequences as overlapping k-mers (DNABERT models); -1: no k-mers (DNABERT-2, NT). "
            "Default: from the model's vocabulary."
        },
    )
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset id or local dataset folder."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "e.g. a GUE task such as 'tf_0'."})
    problem_type: str | None = field(
        default=None,
        metadata={
            "help": "'regression' to regress whole-number labels (default: whole numbers are classes, other "
            "numbers a regression)."
        },
    )


@dataclass
class FinetuneTrainingArguments(TrainingArguments):
    """TrainingArguments with the original script's extra flags and the paper's fine-tuning defaults."""

    _argument_group_name = "training (transformers TrainingArguments; the paper's fine-tuning defaults)"

    output_dir: str = field(default="output")
    model_max_length: int = field(default=512, metadata={"help": "Maximum tokens per input."})
    save_model: bool = field(default=False, metadata={"help": "Save the fine-tuned model (or adapter) to output_dir."})
    overwrite_output_dir: bool = field(
        default=True, metadata={"help": "Accepted from the original scripts; outputs are always overwritten."}
    )
    eval_and_save_results: bool = field(
        default=True, metadata={"help": "Evaluate on test.csv and write results/<run_name>/eval_results.json."}
    )
    learning_rate: float = field(default=3e-5)
    warmup_steps: float = field(default=50)
    per_device_train_batch_size: int = field(default=32)
    per_device_eval_batch_size: int = field(default=64)
    num_train_epochs: float = field(default=3)
    eval_strategy: str = field(default="epoch")
    save_strategy: str | None = field(default=None, metadata={"help": "Default: the same as --eval_strategy."})
    save_steps: float | None = field(default=None, metadata={"help": "Default: the same as --eval_steps."})
    rc_augment: bool = field(
        default=False,
        metadata={"help": "Train on a random strand per example (the sequence or its reverse complement)."},
    )
    rc_average: bool = field(
        default=False,
        metadata={
            "help": "Also report test metrics of logits averaged over each sequence and its reverse complement "
            "(eval_rc_average_*). Over --model_max_length, each strand keeps its own first tokens."
        },
    )
    save_total_limit: int | None = field(default=1)
    load_best_model_at_end: bool = field(default=True)
    metric_for_best_model: str | None = field(
        default="loss",
        metadata={
            "help": "Validation metric that picks the checkpoint kept at the end: loss (lowest; as DNABERT-2's "
            "own scripts) or a metric name, e.g. matthews_correlation (highest)."
        },
    )
    logging_steps: float = field(default=50)
    dataloader_pin_memory: bool = field(default=torch.cuda.is_available())

    def __post_init__(self):
        # checkpoints must follow evaluation for --load_best_model_at_end: one flag is enough
        if self.save_strategy is None:
            self.save_strategy = self.eval_strategy
        if self.save_steps is None:
            self.save_steps = self.eval_steps or 500
        data_parallel_on_cpu(self)
        super().__post_init__()


# Flags of the original scripts that transformers 5 renamed.
RENAMED_FLAGS = {"--evaluation_strategy": "--eval_strategy", "--find_unused_parameters": "--ddp_find_unused_parameters"}


def legacy_argv(argv):
    """Accept the original command lines: renamed flags, and --fp16 where it cannot run."""
    out, i = [], 0
    while i < len(argv):
        arg = argv[i]
        for old, new in RENAMED_FLAGS.items():
            if arg == old or arg.startswith(old + "="):
                arg = arg.replace(old, new)
        if arg in ("--fp16", "--bf16") and not torch.cuda.is_available():
            warnings.warn(f"{arg} needs a GPU; training in fp32 on the CPU instead.")
            if i + 1 < len(argv) and argv[i + 1].lower() in ("true", "false", "1", "0"):
                i += 1
            i += 1
            continue
        out.append(arg)
        i += 1
    return out
