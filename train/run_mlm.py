"""Masked-language-model pretraining of DNABERT-2 from FASTA (or text / CSV) with the HF Trainer.

Flag names follow transformers' examples/pytorch/language-modeling/run_mlm.py. Single process:

    python train/run_mlm.py --config_name train/configs/dnabert2-small.json --tokenizer_name . \
        --train_file "../shared/data/genomes/*.fa.gz" --output_dir runs/small --max_steps 1000

Several processes (CPU with gloo, or GPUs), no code change:

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \
        train/run_mlm.py ...
"""

import logging
import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
import transformers
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

from configuration_dnabert2 import DNABert2Config
from modeling_dnabert2 import DNABert2ForMaskedLM
from train.cards import pretrained_model_card, write_results
from train.hub import push_folder
from train.pretraining_data import load_sequences, tokenize_windows

logger = logging.getLogger(__name__)


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(default=None, metadata={"help": "Checkpoint to continue from."})
    config_name: str | None = field(default=None, metadata={"help": "Config file or folder for a new model."})
    config_overrides: str | None = field(
        default=None, metadata={"help": "Override config values of a new model, e.g. 'num_hidden_layers=4,hidden_size=256'."}
    )
    tokenizer_name: str | None = field(default=None, metadata={"help": "Tokenizer folder (default: the model's)."})
    cache_dir: str | None = field(default=None)


@dataclass
class DataTrainingArguments:
    train_file: list[str] = field(default=None, metadata={"help": "FASTA(.gz) files or globs, or text/CSV files."})
    validation_file: list[str] | None = field(default=None)
    validation_split_percentage: float = field(
        default=5.0, metadata={"help": "Percent of records (whole records) held out when no validation_file is given."}
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per window, [CLS] and [SEP] included."})
    mlm_probability: float = field(default=0.15)
    preprocessing_num_workers: int | None = field(default=None)
    max_train_samples: int | None = field(default=None)
    max_eval_samples: int | None = field(default=None)


@dataclass
class MLMTrainingArguments(TrainingArguments):
    """TrainingArguments with the DNABERT-2 paper's pretraining defaults."""

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


def build_model(model_args: ModelArguments, tokenizer):
    """A new model from ``config_name`` (+ overrides) or a checkpoint from ``model_name_or_path``."""
    if model_args.model_name_or_path:
        return DNABert2ForMaskedLM.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir)
    config = DNABert2Config.from_pretrained(model_args.config_name) if model_args.config_name else DNABert2Config()
    if model_args.config_overrides:
        config.update_from_string(model_args.config_overrides)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    return DNABert2ForMaskedLM(config)


def unigram_prediction(train_dataset, sample: int = 20_000) -> int:
    """The most frequent non-special token id in (a sample of) the training windows: the unigram baseline's guess."""
    rows = train_dataset.select(range(min(sample, len(train_dataset))))["input_ids"]
    counts = np.bincount(np.concatenate([np.asarray(r[1:-1]) for r in rows]))
    return int(np.argmax(counts))


def masked_accuracy_metrics(unigram_id: int):
    """compute_metrics: masked-token accuracy of the model and of always guessing the most frequent token."""

    def compute(eval_pred):
        predictions, labels = eval_pred
        selected = labels != -100
        return {
            "accuracy": float((predictions[selected] == labels[selected]).mean()),
            "unigram_accuracy": float((labels[selected] == unigram_id).mean()),
        }

    return compute


def main(argv=None):
    parser = HfArgumentParser((ModelArguments, DataTrainingArguments, MLMTrainingArguments))
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    if data_args.train_file is None:
        parser.error("--train_file is required")
    set_seed(training_args.seed)

    tokenizer = AutoTokenizer.from_pretrained(model_args.tokenizer_name or model_args.model_name_or_path)
    with training_args.main_process_first(desc="reading and tokenizing"):
        sequences = load_sequences(
            data_args.train_file, data_args.validation_file, data_args.validation_split_percentage, model_args.cache_dir
        )
        data = tokenize_windows(sequences, tokenizer, data_args.max_seq_length, data_args.preprocessing_num_workers)
    train_dataset, eval_dataset = data["train"].shuffle(seed=training_args.seed), data["validation"]
    if data_args.max_train_samples:
        train_dataset = train_dataset.select(range(min(data_args.max_train_samples, len(train_dataset))))
    if data_args.max_eval_samples:
        eval_dataset = eval_dataset.select(range(min(data_args.max_eval_samples, len(eval_dataset))))
    logger.info("%d training and %d validation windows", len(train_dataset), len(eval_dataset))

    model = build_model(model_args, tokenizer)
    logger.info("Model: %.2fM parameters", model.num_parameters() / 1e6)
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # we push once, with our own card
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm_probability=data_args.mlm_probability),
        compute_metrics=masked_accuracy_metrics(unigram_prediction(train_dataset)),
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(dim=-1),
    )

    checkpoint = training_args.resume_from_checkpoint
    if checkpoint is None and os.path.isdir(training_args.output_dir):
        checkpoint = get_last_checkpoint(training_args.output_dir)
        if checkpoint:
            logger.info("Resuming from %s", checkpoint)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = {**train_result.metrics, **trainer.evaluate()}
    metrics["eval_perplexity"] = math.exp(min(metrics["eval_loss"], 50))
    trainer.log_metrics("all", metrics)

    if trainer.is_world_process_zero():
        trainer.save_model()
        tokenizer.save_pretrained(training_args.output_dir)
        write_results(os.path.join(training_args.output_dir, "all_results.json"), metrics)
        recipe = {
            "data": ", ".join(data_args.train_file),
            "windows (train / held-out)": f"{len(train_dataset)} / {len(eval_dataset)} of <= {data_args.max_seq_length} tokens",
            "steps": trainer.state.global_step,
            "batch size per device": training_args.per_device_train_batch_size,
            "processes": training_args.world_size,
            "masking": f"{data_args.mlm_probability:.0%} of tokens (80/10/10)",
            "optimizer": f"AdamW lr {training_args.learning_rate}, betas ({training_args.adam_beta1}, "
            f"{training_args.adam_beta2}), eps {training_args.adam_epsilon}, weight decay {training_args.weight_decay}",
            "device": str(training_args.device),
            "train runtime (s)": round(metrics.get("train_runtime", 0.0)),
        }
        results = {
            "masked-token accuracy": metrics["eval_accuracy"],
            "unigram baseline accuracy (same masks)": metrics["eval_unigram_accuracy"],
            "MLM loss": metrics["eval_loss"],
        }
        name = training_args.hub_model_id or os.path.basename(os.path.abspath(training_args.output_dir))
        card = pretrained_model_card(name, model.config, recipe, results)
        with open(os.path.join(training_args.output_dir, "README.md"), "w") as handle:
            handle.write(card)
        if push_to_hub:
            url = push_folder(training_args.output_dir, name, token=training_args.hub_token, message="Pretrained model")
            logger.info("Pushed to %s", url)
    return metrics


if __name__ == "__main__":
    main()
