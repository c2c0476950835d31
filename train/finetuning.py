"""Fine-tuning DNABERT-2 for sequence classification / regression, with or without LoRA (library for the scripts).

The argument dataclasses keep the names of the original DNABERT-2 ``finetune/train.py`` so its command lines work.
"""

import json
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import evaluate
import numpy as np
import torch
from transformers import DataCollatorWithPadding, EvalPrediction, Trainer, TrainingArguments, set_seed

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from modeling_dnabert2 import DNABert2ForSequenceClassification
from dnabert2.train.cnn_baseline import OneHotCNN, encode_bases
from dnabert2.train.distributed import data_parallel_on_cpu
from dnabert2.train.prediction import load_tokenizer
from dnabert2.train.finetune_data import (
    RandomStrandCollator,
    TaskInfo,
    load_csv_task,
    load_hub_task,
    strand,
    tokenize_task,
)

logger = logging.getLogger(__name__)
# Linear layers of this model; the original script's default ("query,value") matched nothing in DNABERT-2.
DEFAULT_LORA_TARGETS = "Wqkv,attention.output.dense,gated_layers,wo"


@dataclass
class ModelArguments:
    """The pretrained model and how it is adapted (LoRA or full fine-tuning)."""

    _argument_group_name = "model"
    model_name_or_path: str = field(
        default=str(packaged("model")), metadata={"help": "Pretrained model (default: the shipped one)."}
    )
    use_lora: bool = field(default=False, metadata={"help": "Train LoRA adapters (and the new head) only."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA path."})
    lora_target_modules: str = field(default=DEFAULT_LORA_TARGETS, metadata={"help": "Comma-separated module names."})
    classifier_pooling: str | None = field(default=None, metadata={"help": "'cls' or 'mean' (default: the config's)."})
    from_scratch: bool = field(
        default=False, metadata={"help": "Random weights of the model's config, not its pretrained ones (ablation)."}
    )
    architecture: str = field(
        default="dnabert2",
        metadata={"help": "'dnabert2', or 'cnn': the one-hot CNN baseline trained from scratch (train/cnn_baseline.py; "
                  "for benchmarks, not for predict.py)."},
    )


@dataclass
class DataArguments:
    """The task: a folder of CSV files or a Hub dataset."""

    _argument_group_name = "data"
    data_path: str | None = field(default=None, metadata={"help": "Folder with train.csv, dev.csv, test.csv."})
    kmer: int = field(default=-1, metadata={"help": "-1 (BPE). k-mers belong to DNABERT 1 and are refused."})
    dataset_name: str | None = field(default=None, metadata={"help": "Hub dataset id or local dataset folder."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "e.g. a GUE task such as 'tf_0'."})


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
        default=False, metadata={"help": "Train on a random strand per example (the sequence or its reverse complement)."}
    )
    rc_average: bool = field(
        default=False,
        metadata={"help": "Also report test metrics of logits averaged over each sequence and its reverse complement "
                  "(eval_rc_average_*). Over --model_max_length, each strand keeps its own first tokens."},
    )
    save_total_limit: int | None = field(default=1)
    load_best_model_at_end: bool = field(default=True)
    metric_for_best_model: str | None = field(
        default="loss",
        metadata={"help": "Validation metric that picks the checkpoint kept at the end: loss (lowest; as DNABERT-2's "
                  "own scripts) or a metric name, e.g. matthews_correlation (highest)."},
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


def load_task(data_args: DataArguments):
    """The task's DatasetDict and TaskInfo from ``--data_path`` or ``--dataset_name``."""
    if data_args.kmer != -1:
        raise ValueError("--kmer is for DNABERT (k-mer tokens); DNABERT-2 uses BPE: pass --kmer -1 or leave it out.")
    if data_args.data_path:
        return load_csv_task(data_args.data_path)
    if data_args.dataset_name:
        return load_hub_task(data_args.dataset_name, data_args.dataset_config_name)
    raise ValueError("Pass --data_path (a folder of CSV files) or --dataset_name (a Hub dataset or folder).")


def metrics_function(info: TaskInfo):
    """compute_metrics for the Trainer: GUE classification metrics, or correlations for regression."""
    name = "regression" if info.problem_type == "regression" else "classification"
    metric = evaluate.load(str(packaged("metrics") / name))

    def compute(eval_pred):
        logits, labels = eval_pred
        if info.problem_type == "regression":
            return metric.compute(predictions=logits.reshape(-1), references=labels.reshape(-1))
        if info.problem_type == "multi_label_classification":  # every (sequence, label) decision counts
            return metric.compute(predictions=(logits > 0).astype(int).ravel(), references=labels.astype(int).ravel())
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels)

    return compute


def build_model(model_args: ModelArguments, info: TaskInfo):
    """The pretrained encoder with a new head sized for the task, wrapped in LoRA when asked."""
    overrides = {"num_labels": info.num_labels, "problem_type": info.problem_type}
    if info.label_names and info.problem_type != "regression":
        overrides["id2label"] = dict(enumerate(map(str, info.label_names)))
        overrides["label2id"] = {str(name): i for i, name in enumerate(info.label_names)}
    if model_args.classifier_pooling:
        overrides["classifier_pooling"] = model_args.classifier_pooling
    # a local folder by its absolute path, so that a saved LoRA adapter finds its base from any directory
    source = model_args.model_name_or_path
    source = str(Path(source).resolve()) if Path(source).is_dir() else source
    config = DNABert2Config.from_pretrained(source, **overrides)
    if model_args.from_scratch:  # the pretraining ablation: same config and tokenizer, the model's own random init
        model = DNABert2ForSequenceClassification(config)
    else:
        model = DNABert2ForSequenceClassification.from_pretrained(source, config=config)
    if not model_args.use_lora:
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=model_args.lora_r,
        lora_alpha=model_args.lora_alpha,
        lora_dropout=model_args.lora_dropout,
        target_modules=[name.strip() for name in model_args.lora_target_modules.split(",")],
        modules_to_save=["classifier", "pooler"],  # new, untrained layers are trained in full
    )
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    return model


def run_finetune(model_args: ModelArguments, data_args: DataArguments, training_args: FinetuneTrainingArguments):
    """Fine-tune, evaluate on the test split and write ``results/<run_name>/eval_results.json``; returns the metrics."""
    set_seed(training_args.seed)
    data, info = load_task(data_args)
    tokenizer = load_tokenizer(model_args.model_name_or_path)
    both_strands = training_args.rc_augment or training_args.rc_average
    cnn = model_args.architecture == "cnn"
    if model_args.architecture not in ("dnabert2", "cnn"):
        raise ValueError(f"--architecture must be 'dnabert2' or 'cnn', got {model_args.architecture!r}.")
    data = tokenize_task(data, info, tokenizer, training_args.model_max_length, both_strands,
                         encoder=(lambda columns: encode_bases(list(zip(*columns)) if len(columns) > 1 else columns[0]))
                         if cnn else None)
    if training_args.rc_augment:  # the collator picks a strand per example; keep the rc_* columns until then
        training_args.remove_unused_columns = False
        model_columns = {"input_ids", "token_type_ids", "attention_mask", "labels"}
        data = data.remove_columns([c for c in data["train"].column_names
                                    if c not in model_columns and not c.startswith("rc_")])
    if "validation" not in data:
        training_args.eval_strategy = training_args.save_strategy = "no"
        training_args.load_best_model_at_end = False
    model = OneHotCNN(info.num_labels, info.problem_type) if cnn else build_model(model_args, info)
    pad = DataCollatorWithPadding(tokenizer)  # for the CNN too: padding is masked, whatever its id
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=data["train"],
        eval_dataset=strand(data["validation"], reverse=False) if "validation" in data and both_strands else data.get(
            "validation"),
        processing_class=tokenizer,
        data_collator=RandomStrandCollator(pad, training_args.seed) if training_args.rc_augment else pad,
        compute_metrics=metrics_function(info),
    )
    trainer.train()
    results = {}
    if training_args.eval_and_save_results:
        test = data.get("test", data.get("validation"))
        if "test" not in data:
            logger.warning("No test split: the metrics below are on the validation split, which also picked the "
                           "checkpoint, so they are optimistic.")
        results = trainer.evaluate(eval_dataset=strand(test, reverse=False) if both_strands else test)
        if training_args.rc_average:  # the same model on both strands, logits averaged
            outputs = [trainer.predict(strand(test, reverse)) for reverse in (False, True)]
            averaged = metrics_function(info)(EvalPrediction(
                predictions=np.mean([o.predictions for o in outputs], axis=0), label_ids=outputs[0].label_ids))
            results.update({f"eval_rc_average_{key}": value for key, value in averaged.items()})
        folder = Path(training_args.output_dir) / "results" / (training_args.run_name or "run")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "eval_results.json").write_text(json.dumps(results, indent=2))
    if training_args.save_model:
        trainer.save_model(training_args.output_dir)  # with LoRA: the adapter (+ classifier and pooler)
        if model_args.use_lora:  # the head's config, so that predict.py can rebuild the model around the adapter
            model.get_base_model().config.save_pretrained(training_args.output_dir)
        tokenizer.save_pretrained(training_args.output_dir)
    return results


def configure_logging():
    """INFO logs from the scripts, warnings from the libraries."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO, stream=sys.stdout)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
