"""Fine-tuning DNABERT-2 for sequence classification / regression: the task, the model (LoRA or full), the
Trainer run and its metrics."""

import json
import logging
from pathlib import Path

import evaluate
import numpy as np
from transformers import DataCollatorWithPadding, EvalPrediction, Trainer, set_seed

from dnabert2.data.tasks import (
    RandomStrandCollator,
    StrandEpochCallback,
    TaskInfo,
    load_csv_task,
    load_hub_task,
    strand,
    token_lengths,
    tokenize_task,
)
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
from dnabert2.finetuning.collapse import collapse_warning
from dnabert2.finetuning.lora import lora_targets, with_lora
from dnabert2.models import classifier_config, new_classifier, pretrained_classifier, resolve_model, saved_as_loaded
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import atomic_output, write_text_atomic

logger = logging.getLogger(__name__)
METRICS = Path(__file__).resolve().parent / "metrics"  # evaluate modules, loaded by path (they travel as package data)
# The scored split's per-example arrays, in file order: labels, logits and, with --rc_average, rc_average_logits.
PREDICTIONS_FILE = "predictions.npz"


def load_task(data_args: DataArguments):
    """The task's DatasetDict and TaskInfo from ``--data_path`` or ``--dataset_name``."""
    if data_args.data_path:
        return load_csv_task(data_args.data_path, data_args.problem_type)
    if data_args.dataset_name:
        return load_hub_task(data_args.dataset_name, data_args.dataset_config_name)
    raise InputError("Pass --data_path (a folder of CSV files) or --dataset_name (a Hub dataset or folder).")


def metrics_function(info: TaskInfo):
    """compute_metrics for the Trainer: GUE classification metrics, or correlations for regression."""
    name = "regression" if info.problem_type == "regression" else "classification"
    metric = evaluate.load(str(METRICS / name))

    def compute(eval_pred):
        logits, labels = eval_pred
        if info.problem_type == "regression":
            return metric.compute(predictions=logits.reshape(-1), references=labels.reshape(-1))
        if info.problem_type == "multi_label_classification":  # every (sequence, label) decision counts
            return metric.compute(predictions=(logits > 0).astype(int).ravel(), references=labels.astype(int).ravel())
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels)

    return compute


def build_model(model_args: ModelArguments, info: TaskInfo):
    """The pretrained encoder with a new head sized for the task, wrapped in LoRA when asked: this project's model
    through its own classes, any other through the Auto classes (``dnabert2.models``)."""
    overrides = {"num_labels": info.num_labels, "problem_type": info.problem_type}
    if info.label_names and info.problem_type != "regression":
        overrides["id2label"] = dict(enumerate(map(str, info.label_names)))
        overrides["label2id"] = {str(name): i for i, name in enumerate(info.label_names)}
    if model_args.classifier_pooling:
        overrides["classifier_pooling"] = model_args.classifier_pooling
    # a local folder by its absolute path, so that a saved LoRA adapter finds its base from any directory
    source = resolve_model(model_args.model_name_or_path)
    source = str(Path(source).resolve()) if Path(source).is_dir() else source
    config = classifier_config(source, **overrides)
    if model_args.from_scratch:  # the pretraining ablation: same config and tokenizer, the model's own random init
        model = saved_as_loaded(new_classifier(config))
    else:
        model = saved_as_loaded(pretrained_classifier(source, config))
    if not model_args.use_lora:
        return model
    targets = lora_targets(model, model_args.lora_target_modules)
    return with_lora(model, model_args.lora_r, model_args.lora_alpha, model_args.lora_dropout, targets)


def results_folder(training_args: FinetuneTrainingArguments) -> Path:
    """Where a run's scored-split results go: eval_results.json and PREDICTIONS_FILE."""
    return Path(training_args.output_dir) / "results" / (training_args.run_name or "run")


def examples_cut(data, info: TaskInfo, tokenizer, max_length: int) -> int:
    """How many examples (all splits) are over ``max_length`` tokens, so cut; a warning says so when any are."""
    lengths = token_lengths(data, info, tokenizer)
    cut = int((lengths > max_length).sum())
    if cut:
        logger.warning(
            "%d of %d examples (all splits) are over --model_max_length %d tokens (the longest: %d) and are cut: "
            "the model sees only their beginning. Pass --model_max_length %d to keep them whole.",
            cut,
            len(lengths),
            max_length,
            lengths.max(),
            lengths.max(),
        )
    return cut


def run_finetune(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: FinetuneTrainingArguments,
    make_model=None,
    encode=None,
):
    """Fine-tune, evaluate on the test split and write ``results/<run_name>/eval_results.json`` (and the per-example
    labels and logits, PREDICTIONS_FILE); returns the metrics.

    The model is DNABERT-2 (``build_model``) unless the caller hands in another: ``make_model(info) -> model`` (a
    Trainer-compatible module for the task's TaskInfo) with ``encode(columns) -> dict``, its input encoding (see
    ``tokenize_task``; default: the model folder's BPE tokenizer).
    """
    set_seed(training_args.seed)
    data, info = load_task(data_args)
    tokenizer = load_tokenizer(model_args.model_name_or_path, data_args.kmer)
    both_strands = training_args.rc_augment or training_args.rc_average
    cut = None if encode else examples_cut(data, info, tokenizer, training_args.model_max_length)
    data = tokenize_task(data, info, tokenizer, training_args.model_max_length, both_strands, encoder=encode)
    if training_args.rc_augment:  # the collator picks a strand per example; keep the rc_* columns until then
        training_args.remove_unused_columns = False
        model_columns = {"input_ids", "token_type_ids", "attention_mask", "labels"}
        data = data.remove_columns(
            [c for c in data["train"].column_names if c not in model_columns and not c.startswith("rc_")]
        )
    if "validation" not in data:
        training_args.eval_strategy = training_args.save_strategy = "no"
        training_args.load_best_model_at_end = False
    model = make_model(info) if make_model else build_model(model_args, info)
    pad = DataCollatorWithPadding(tokenizer)  # for a handed-in model too: padding is masked, whatever its id
    collator = RandomStrandCollator(pad, training_args.seed) if training_args.rc_augment else pad
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=data["train"],
        eval_dataset=strand(data["validation"], reverse=False)
        if "validation" in data and both_strands
        else data.get("validation"),
        processing_class=tokenizer,
        data_collator=collator,
        compute_metrics=metrics_function(info),
        callbacks=[StrandEpochCallback(collator)] if training_args.rc_augment else None,
    )
    trainer.train()
    results = {}
    if training_args.eval_and_save_results:
        test = data.get("test", data.get("validation"))
        if "test" not in data:
            logger.warning(
                "No test split: the metrics below are on the validation split, which also picked the "
                "checkpoint, so they are optimistic."
            )
        plain = trainer.predict(strand(test, reverse=False) if both_strands else test, metric_key_prefix="eval")
        results = {**plain.metrics, "epoch": trainer.state.epoch}
        outputs = {"labels": plain.label_ids, "logits": plain.predictions}
        if training_args.rc_average:  # the same model on both strands, logits averaged
            reverse = trainer.predict(strand(test, reverse=True))
            outputs["rc_average_logits"] = np.mean([plain.predictions, reverse.predictions], axis=0)
            averaged = metrics_function(info)(
                EvalPrediction(predictions=outputs["rc_average_logits"], label_ids=plain.label_ids)
            )
            results.update({f"eval_rc_average_{key}": value for key, value in averaged.items()})
        results["scored_split"] = "test" if "test" in data else "validation"
        if cut is not None:
            results["examples_cut"] = cut
        if info.problem_type == "single_label_classification":
            warning = collapse_warning(
                np.argmax(plain.predictions, axis=-1),
                [str(name) for name in info.label_names] or [str(k) for k in range(info.num_labels)],
                results["scored_split"],
                training_args.learning_rate,
                trainer.state.global_step,
                training_args.get_warmup_steps(trainer.state.max_steps),
            )
            if warning:
                logger.warning(warning)
        folder = results_folder(training_args)
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / "eval_results.json", json.dumps(results, indent=2))
        with atomic_output(folder / PREDICTIONS_FILE) as path, open(path, "wb") as file:
            np.savez(file, **outputs)  # a file object: np.savez would add .npz to the temporary name
    if training_args.save_model:
        trainer.save_model(training_args.output_dir)  # with LoRA: the adapter (+ classifier and pooler)
        if model_args.use_lora:  # the head's config, so that predict.py can rebuild the model around the adapter
            model.get_base_model().config.save_pretrained(training_args.output_dir)
        tokenizer.save_pretrained(training_args.output_dir)
    return results


def outputs_summary(results: dict, training_args: FinetuneTrainingArguments) -> list[str]:
    """What a fine-tuning run leaves behind, for the end of its log: the scored split's metrics (named after that
    split, not eval_*), and where the results, the model (or why there is none) and the checkpoints are."""
    output_dir = Path(training_args.output_dir)
    split = results.get("scored_split", "test")
    lines = [f"{split}_{key.removeprefix('eval_')}: {value}" for key, value in results.items() if key != "scored_split"]
    if results:
        lines.append(
            f"Results ({split} split): {results_folder(training_args) / 'eval_results.json'}, its "
            f"per-example labels and logits in {PREDICTIONS_FILE}"
        )
    lines.append(
        f"Model: {output_dir}"
        if training_args.save_model
        else "Model: not saved (pass --save_model True to keep the fine-tuned model for dnabert2-predict)"
    )
    checkpoints = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    if checkpoints:
        lines.append("Checkpoints: " + ", ".join(str(p) for p in checkpoints))
    return lines
