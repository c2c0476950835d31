"""Masked-language-model pretraining of DNABERT-2 from FASTA (or text / CSV) with the HF Trainer.

Flag names follow transformers' examples/pytorch/language-modeling/run_mlm.py. Single process:

    python train/run_mlm.py --config_name train/configs/dnabert2-small.json --tokenizer_name . \
        --train_file "../shared/data/genomes/*.fa.gz" --output_dir runs/small --max_steps 1000

Several processes, data-parallel (DDP over gloo on CPUs, nccl on GPUs), no extra flag:

    accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no \
        train/run_mlm.py ...

Several machines: the same command on each, with --num_machines N --machine_rank R --main_process_ip HOST
--main_process_port PORT and --num_processes = the total over all machines.

With --eval_only, the model is only evaluated (eval_results.json in --output_dir).

Evaluation is masked-only: held-out windows get a fixed mask (the same at every evaluation and in every run), every
selected token replaced by [MASK]; eval_loss / eval_accuracy are over those tokens, beside the unigram and
base-composition baselines on the same tokens (train/pretraining/metrics.py). A run killed at any point and started
again with the same command resumes from its last checkpoint and continues the same loss curve.
"""

import logging
import math
import os
from dataclasses import dataclass, field

import torch
import transformers
from transformers import DataCollatorForTokenClassification, TrainingArguments, set_seed
from transformers.trainer_utils import get_last_checkpoint

from configuration_dnabert2 import DNABert2Config
from modeling_dnabert2 import DNABert2ForMaskedLM
from dnabert2.train.hub.cards import pretrained_model_card, write_results
from dnabert2.train.runtime.parallel import data_parallel_on_cpu
from dnabert2.train.hub.push import push_folder
from dnabert2.train.data.tokenizer import load_tokenizer
from dnabert2.train.data.gue import training_sequences
from dnabert2.train.data.windows import held_out_rows, load_sequences, tokenize_windows
from dnabert2.train.pretraining.masking import EVAL_MASK_SEED, MaskedWindows, MaskEpochCallback, StreamedMaskedWindows
from dnabert2.train.pretraining.metrics import (
    MaskedLMTrainer,
    baseline_metrics,
    label_log_probability_and_prediction,
    masked_lm_metrics,
    token_base_counts,
    unigram_counts,
)
from dnabert2.train.runtime.arguments import command_parser
from dnabert2.train.runtime.errors import run_command
from dnabert2.train.runtime.files import write_text_atomic

logger = logging.getLogger(__name__)
UNIGRAM_STREAM_SAMPLE = 50_000


@dataclass
class ModelArguments:
    """Which model to train: a checkpoint to continue, or a config for a new one."""

    _argument_group_name = "model"
    model_name_or_path: str | None = field(default=None, metadata={"help": "Checkpoint to continue from."})
    config_name: str | None = field(default=None, metadata={"help": "Config file or folder for a new model."})
    config_overrides: str | None = field(
        default=None,
        metadata={"help": "Override config values, e.g. 'num_hidden_layers=4,hidden_size=256' (new model) or "
                  "'hidden_dropout_prob=0.0' (checkpoint)."}
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
        metadata={"help": "Instead of --train_file: the training splits of every GUE task in this folder (official "
                  "layout), for further pretraining (the paper's DNABERT-2 with a diamond); dev and test never."},
    )
    gue_dataset: str | None = field(
        default=None, metadata={"help": "As --gue_dir, from GUE as a Hub dataset (repo id or folder): train splits only."}
    )
    validation_file: list[str] | None = field(default=None, metadata={"help": "FASTA files or globs held out whole."})
    validation_species: list[str] | None = field(
        default=None,
        metadata={"help": "Globs on training file names (e.g. 'protist_Plasmodium_knowlesi*'): those files are held "
                  "out whole, so evaluation is on genomes never trained on."},
    )
    validation_split_percentage: float = field(
        default=5.0,
        metadata={"help": "Percent of the remaining records held out whole, by name hash (0: none). Aligned genomes "
                  "(e.g. human/chimp chr22 blocks) have near-identical twins in other files: hold those out by file."},
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per window, [CLS] and [SEP] included (>= 8)."})
    mlm_probability: float = field(default=0.15, metadata={"help": "Fraction of tokens selected for prediction."})
    preprocessing_num_workers: int | None = field(default=None, metadata={"help": "Processes for tokenization."})
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only this many training windows."})
    streaming: bool = field(
        default=False,
        metadata={"help": "Read and tokenize the training FASTA as it is consumed (memory and disk flat in corpus "
                  "size; needs --max_steps). Held-out data is still cached."},
    )
    shuffle_buffer_size: int = field(default=10_000, metadata={"help": "Windows in the streaming shuffle buffer."})
    max_eval_samples: int | None = field(
        default=None, metadata={"help": "Evaluate on a fixed random sample of this many held-out windows."}
    )

    def __post_init__(self):
        if self.max_seq_length < 8:
            raise ValueError(f"--max_seq_length {self.max_seq_length}: windows need at least 8 tokens.")
        if not 0 < self.mlm_probability < 1:
            raise ValueError(f"--mlm_probability {self.mlm_probability} must lie between 0 and 1.")


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
    either (e.g. the dropout of a checkpoint shipped with fine-tuning settings)."""
    source = model_args.model_name_or_path or model_args.config_name
    config = DNABert2Config.from_pretrained(source, cache_dir=model_args.cache_dir) if source else DNABert2Config()
    if model_args.config_overrides:
        config.update_from_string(model_args.config_overrides)
    if model_args.model_name_or_path:
        return DNABert2ForMaskedLM.from_pretrained(source, config=config, cache_dir=model_args.cache_dir)
    config.vocab_size = len(tokenizer)
    config.pad_token_id = tokenizer.pad_token_id
    return DNABert2ForMaskedLM(config)


def held_out_description(data_args: DataTrainingArguments) -> str:
    """The held-out data in words, for the model card."""
    if data_args.gue_dir or data_args.gue_dataset:
        return f"{data_args.validation_split_percentage}% of the GUE training rows (a seeded draw)"
    parts = [f"files {', '.join(data_args.validation_file)}"] if data_args.validation_file else []
    parts += [f"species files {', '.join(data_args.validation_species)}"] if data_args.validation_species else []
    if data_args.validation_split_percentage:
        parts.append(f"{data_args.validation_split_percentage}% of the other records (name hash)")
    return "; ".join(parts)


def main(argv=None):
    """Parse the command line, pretrain, evaluate (masked-only, with baselines), save model, card and results."""
    parser = command_parser(
        (ModelArguments, DataTrainingArguments, MLMTrainingArguments),
        usage="dnabert2-pretrain (--train_file FASTA [FASTA ...] | --gue_dir GUE) --output_dir DIR (--config_name CONFIG "
        "| --model_name_or_path MODEL) [options]",
        description=__doc__.split("\n\n")[0],
    )
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    transformers.utils.logging.set_verbosity_warning()
    gue = data_args.gue_dir or data_args.gue_dataset
    if (data_args.train_file is None) == (gue is None):
        parser.error("pass --train_file, or --gue_dir / --gue_dataset (further pretraining on GUE's training splits)")
    if gue and (data_args.validation_file or data_args.validation_species or data_args.streaming):
        parser.error("with --gue_dir / --gue_dataset the held-out data is --validation_split_percentage of the GUE "
                     "training rows (no --validation_file, --validation_species or --streaming)")
    if data_args.streaming and training_args.max_steps <= 0:
        parser.error("--streaming needs --max_steps: a stream has no length to count epochs by")
    set_seed(training_args.seed)

    tokenizer = load_tokenizer(model_args.tokenizer_name or model_args.model_name_or_path)
    with training_args.main_process_first(desc="reading and tokenizing"):
        if gue:
            gue_rows, gue_tasks = training_sequences(data_args.gue_dir, data_args.gue_dataset)
            sequences = held_out_rows(gue_rows, data_args.validation_split_percentage)
            logger.info("GUE training splits of %d tasks (dev and test never read): %s", len(gue_tasks),
                        ", ".join(gue_tasks))
        else:
            sequences = load_sequences(
                data_args.train_file, data_args.validation_file, data_args.validation_species,
                data_args.validation_split_percentage, model_args.cache_dir, data_args.streaming,
            )
        data = tokenize_windows(sequences, tokenizer, data_args.max_seq_length, data_args.preprocessing_num_workers)
    train_windows, eval_windows = data["train"], data["validation"]
    if data_args.streaming:
        train_windows = train_windows.shuffle(seed=training_args.seed, buffer_size=data_args.shuffle_buffer_size)
        if data_args.max_train_samples:
            train_windows = train_windows.take(data_args.max_train_samples)
    elif data_args.max_train_samples:
        train_windows = train_windows.shuffle(seed=training_args.seed).select(
            range(min(data_args.max_train_samples, len(train_windows)))
        )
    if data_args.max_eval_samples:
        # a seeded sample, so that every held-out file is represented
        eval_windows = eval_windows.shuffle(seed=EVAL_MASK_SEED).select(
            range(min(data_args.max_eval_samples, len(eval_windows)))
        )
    masked_windows = StreamedMaskedWindows if data_args.streaming else MaskedWindows
    train_dataset = masked_windows(train_windows, tokenizer, data_args.mlm_probability, seed=training_args.seed)
    eval_dataset = MaskedWindows(eval_windows, tokenizer, data_args.mlm_probability, EVAL_MASK_SEED, replace_all=True)
    train_count = "streamed" if data_args.streaming else str(len(train_dataset))
    logger.info("%s training and %d held-out windows", train_count, len(eval_dataset))
    # streamed: token frequencies of the first UNIGRAM_STREAM_SAMPLE windows of the shuffled stream
    counted = train_windows.take(UNIGRAM_STREAM_SAMPLE) if data_args.streaming else train_windows
    unigram = unigram_counts(counted, len(tokenizer), tokenizer.all_special_ids)
    baselines = baseline_metrics(eval_dataset, unigram, token_base_counts(tokenizer), tokenizer.mask_token_id)
    logger.info("Baselines on the held-out masked tokens: %s", baselines)

    model = build_model(model_args, tokenizer)
    logger.info("Model: %.2fM parameters", model.num_parameters() / 1e6)
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False  # we push once, with our own card
    trainer = MaskedLMTrainer(
        model=model,
        args=training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=masked_lm_metrics(baselines),
        preprocess_logits_for_metrics=label_log_probability_and_prediction,
        callbacks=[] if data_args.streaming else [MaskEpochCallback(train_dataset)],  # a stream counts its own
    )

    args = training_args
    logger.info(
        "%d process(es), %s: total batch %d windows (%d per device x %d processes x %d accumulation steps)",
        args.world_size, args.parallel_mode.value, args.per_device_train_batch_size * args.world_size
        * args.gradient_accumulation_steps, args.per_device_train_batch_size, args.world_size,
        args.gradient_accumulation_steps,
    )
    if training_args.eval_only:
        metrics = trainer.evaluate()
        trainer.log_metrics("eval", metrics)
        if trainer.is_world_process_zero():
            os.makedirs(training_args.output_dir, exist_ok=True)
            write_results(os.path.join(training_args.output_dir, "eval_results.json"), metrics)
        return metrics
    checkpoint = training_args.resume_from_checkpoint
    if checkpoint is None and os.path.isdir(training_args.output_dir):
        checkpoint = get_last_checkpoint(training_args.output_dir)
        if checkpoint:
            logger.info("Resuming from %s", checkpoint)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = {**train_result.metrics, **trainer.evaluate()}
    metrics["eval_perplexity"] = math.exp(min(metrics["eval_loss"], 50))
    trainer.log_metrics("all", metrics)

    trainer.save_model()  # on every rank: a collective under ZeRO-3 / FSDP; only the main process writes
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(training_args.output_dir)
        write_results(os.path.join(training_args.output_dir, "all_results.json"), metrics)
        recipe = {
            "data": (f"GUE ({gue}): the training splits of {len(gue_tasks)} tasks ({', '.join(gue_tasks)}); dev "
                     "and test splits never read" if gue else ", ".join(data_args.train_file)),
            "windows (train / held-out)": f"{train_count} / {len(eval_dataset)} of <= {data_args.max_seq_length} tokens",
            "steps": trainer.state.global_step,
            "batch size per device": training_args.per_device_train_batch_size,
            "processes": training_args.world_size,
            "masking": f"training: {data_args.mlm_probability:.0%} of tokens, 80/10/10 ([MASK] / random / kept); "
            f"evaluation: {data_args.mlm_probability:.0%} of tokens, all [MASK], fixed",
            "held-out data": held_out_description(data_args),
            "optimizer": f"AdamW lr {training_args.learning_rate}, betas ({training_args.adam_beta1}, "
            f"{training_args.adam_beta2}), eps {training_args.adam_epsilon}, weight decay {training_args.weight_decay}",
            "device": str(training_args.device),
            "train runtime (s)": round(metrics.get("train_runtime", 0.0)),
        }
        results = {
            "masked tokens evaluated (all replaced by [MASK])": metrics["eval_masked_tokens"],
            "masked-only cross-entropy (nats): model": metrics["eval_loss"],
            "masked-only cross-entropy: composition baseline": metrics["eval_composition_loss"],
            "masked-only cross-entropy: unigram baseline": metrics["eval_unigram_loss"],
            "model minus composition (nats; below 0 = learned more than composition)":
                metrics["eval_loss"] - metrics["eval_composition_loss"],
            "masked-only accuracy: model": metrics["eval_accuracy"],
            "masked-only accuracy: composition baseline": metrics["eval_composition_accuracy"],
            "masked-only accuracy: unigram baseline": metrics["eval_unigram_accuracy"],
        }
        name = training_args.hub_model_id or os.path.basename(os.path.abspath(training_args.output_dir))
        card = pretrained_model_card(name, model.config, recipe, results, datasets=[gue] if gue else None)
        write_text_atomic(os.path.join(training_args.output_dir, "README.md"), card)
        if push_to_hub:
            url = push_folder(training_args.output_dir, name, token=training_args.hub_token, message="Pretrained model")
            logger.info("Pushed to %s", url)
    return metrics


if __name__ == "__main__":
    run_command(main)
