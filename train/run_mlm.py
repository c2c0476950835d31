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

from transformers import DataCollatorForTokenClassification, set_seed
from transformers.trainer_utils import get_last_checkpoint

from dnabert2.data.gue import training_sequences
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.data.windows import held_out_rows, load_sequences, tokenize_windows
from dnabert2.hub.cards import pretrained_model_card, write_results
from dnabert2.hub.push import push_folder
from dnabert2.pretraining.arguments import (
    DataTrainingArguments,
    MLMTrainingArguments,
    ModelArguments,
    build_model,
    held_out_description,
)
from dnabert2.pretraining.masking import (
    EVAL_MASK_SEED,
    MaskedWindows,
    MaskEpochCallback,
    StreamedMaskedWindows,
    mask_span_for,
)
from dnabert2.pretraining.metrics import (
    MaskedLMTrainer,
    baseline_metrics,
    label_log_probability_and_prediction,
    masked_lm_metrics,
    token_base_counts,
    token_lengths,
    unigram_counts,
)
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command
from dnabert2.runtime.files import write_text_atomic

logger = logging.getLogger(__name__)
UNIGRAM_STREAM_SAMPLE = 50_000


def main(argv=None):
    """Parse the command line, pretrain, evaluate (masked-only, with baselines), save model, card and results."""
    parser = command_parser(
        (ModelArguments, DataTrainingArguments, MLMTrainingArguments),
        usage="dnabert2-pretrain (--train_file FASTA [FASTA ...] | --gue_dir GUE) --output_dir DIR "
        "(--config_name CONFIG "
        "| --model_name_or_path MODEL) [options]",
        description=__doc__.split("\n\n")[0],
    )
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(argv)
    gue = data_args.gue_dir or data_args.gue_dataset
    if (data_args.train_file is None) == (gue is None):
        raise InputError(
            "pass --train_file, or --gue_dir / --gue_dataset (further pretraining on GUE's training splits)"
        )
    if gue and (data_args.validation_file or data_args.validation_species or data_args.streaming):
        raise InputError(
            "with --gue_dir / --gue_dataset the held-out data is --validation_split_percentage of the GUE "
            "training rows (no --validation_file, --validation_species or --streaming)"
        )
    if data_args.streaming and training_args.max_steps <= 0:
        raise InputError("--streaming needs --max_steps: a stream has no length to count epochs by")
    set_seed(training_args.seed)

    tokenizer = load_tokenizer(model_args.tokenizer_name or model_args.model_name_or_path)
    with training_args.main_process_first(desc="reading and tokenizing"):
        if gue:
            gue_rows, gue_tasks = training_sequences(data_args.gue_dir, data_args.gue_dataset)
            sequences = held_out_rows(gue_rows, data_args.validation_split_percentage)
            logger.info(
                "GUE training splits of %d tasks (dev and test never read): %s", len(gue_tasks), ", ".join(gue_tasks)
            )
        else:
            sequences = load_sequences(
                data_args.train_file,
                data_args.validation_file,
                data_args.validation_species,
                data_args.validation_split_percentage,
                model_args.cache_dir,
                data_args.streaming,
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
    span = mask_span_for(tokenizer, data_args.mask_span)
    train_dataset = masked_windows(
        train_windows, tokenizer, data_args.mlm_probability, seed=training_args.seed, mask_span=span
    )
    eval_dataset = MaskedWindows(
        eval_windows, tokenizer, data_args.mlm_probability, EVAL_MASK_SEED, replace_all=True, mask_span=span
    )
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
        compute_metrics=masked_lm_metrics(baselines, token_lengths(tokenizer), getattr(tokenizer, "kmer", None)),
        preprocess_logits_for_metrics=label_log_probability_and_prediction,
        callbacks=[] if data_args.streaming else [MaskEpochCallback(train_dataset)],  # a stream counts its own
    )

    args = training_args
    logger.info(
        "%d process(es), %s: total batch %d windows (%d per device x %d processes x %d accumulation steps)",
        args.world_size,
        args.parallel_mode.value,
        args.per_device_train_batch_size * args.world_size * args.gradient_accumulation_steps,
        args.per_device_train_batch_size,
        args.world_size,
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
            "data": (
                f"GUE ({gue}): the training splits of {len(gue_tasks)} tasks ({', '.join(gue_tasks)}); dev "
                "and test splits never read"
                if gue
                else ", ".join(data_args.train_file)
            ),
            "windows (train / held-out)": (
                f"{train_count} / {len(eval_dataset)} of <= {data_args.max_seq_length} tokens"
            ),
            "steps": trainer.state.global_step,
            "batch size per device": training_args.per_device_train_batch_size,
            "processes": training_args.world_size,
            "masking": f"training: {data_args.mlm_probability:.0%} of tokens, 80/10/10 ([MASK] / random / kept); "
            f"evaluation: {data_args.mlm_probability:.0%} of tokens, all [MASK], fixed"
            + (f"; spans of {span} contiguous tokens" if span > 1 else ""),
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
            "model minus composition (nats; below 0 = learned more than composition)": metrics["eval_loss"]
            - metrics["eval_composition_loss"],
            "masked-only bits per base (cross-entropy in bits over the bases the masked tokens cover)": metrics[
                "eval_bits_per_base"
            ],
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
