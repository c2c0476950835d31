"""Running GUE: which tasks, one fine-tuning run per (task, seed) with the paper's settings, and the loop that
records each result as it comes (an interrupted run loses at most the run in progress)."""

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dnabert2.benchmarks.gue_runner.cnn import cnn_for_task, encode_columns
from dnabert2.benchmarks.gue_runner.composition import run_composition
from dnabert2.benchmarks.gue_runner.default_task import write_species_task
from dnabert2.benchmarks.gue_runner.reports import write_reports
from dnabert2.benchmarks.gue_runner.settings import PAPER_VOCABULARY_SIZE, GueArguments, settings_for
from dnabert2.benchmarks.gue_runner.store import open_results, predictions_path, run_settings, save_predictions
from dnabert2.data.gue import find_tasks, resolve_task
from dnabert2.data.tasks import token_lengths
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
from dnabert2.finetuning.collapse import class_shares, is_collapsed
from dnabert2.finetuning.trainer import PREDICTIONS_FILE, load_task, results_folder, run_finetune
from dnabert2.models import is_dnabert2
from dnabert2.runtime.errors import InputError

logger = logging.getLogger("gue")


def selected_tasks(args: GueArguments) -> list[str]:
    """The config names to run; the embedded default task when no GUE source is given."""
    if not args.gue_dir and not args.dataset_name:
        return ["species"]
    if args.tasks in ("complete", "all"):
        if not args.gue_dir:
            raise InputError("--tasks complete/all needs --gue_dir; with --dataset_name list the tasks by name.")
        return [t.config_name for t in find_tasks(args.gue_dir) if args.tasks == "all" or t.complete]
    names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    if args.gue_dir:
        for name in names:
            resolve_task(args.gue_dir, name)  # unknown names fail here, before any training
    return names


def label_shares(data: DataArguments) -> list[float] | None:
    """Share of each class among the test labels (the split run_finetune scores); None unless single-label."""
    splits, info = load_task(data)
    if info.problem_type != "single_label_classification":
        return None
    return class_shares(splits["test" if "test" in splits else "validation"]["labels"], info.num_labels)


def max_length_for(args: GueArguments, task: str, data: DataArguments) -> int | None:
    """The task's maximum length in tokens. The paper set its lengths for DNABERT-2's BPE of 4,096 tokens (about a
    quarter of the bp), so DNABERT-2 with a vocabulary of that size (the published checkpoint, the shipped model)
    keeps them, as does the CNN, which reads bases; the few examples they cut are counted in each run's
    ``examples_cut``. Any other model or vocabulary (DNABERT, NT, a DNABERT-2 pretrained with a BPE of another size)
    gets the task's longest example in its tokens, so that no input is cut. None for the composition baseline, which
    reads every sequence whole."""
    paper = settings_for(task)[0]
    if args.architecture == "composition":
        return None
    if args.architecture == "cnn":
        return paper
    tokenizer = load_tokenizer(args.model_name_or_path, args.kmer)
    if is_dnabert2(args.model_name_or_path) and len(tokenizer.get_vocab()) == PAPER_VOCABULARY_SIZE:
        return paper
    splits, info = load_task(data)
    return int(token_lengths(splits, info, tokenizer).max())


def fine_tune(args: GueArguments, task: str, seed: int, data: DataArguments, max_length: int, workdir: Path):
    """One fine-tuning run (the model of --model_name_or_path, or the CNN baseline) with the paper's settings for the
    task: (test metrics, per-example labels and logits)."""
    _, epochs, cap = settings_for(task)
    max_steps = min(s for s in (cap, args.max_steps) if s) if (cap or args.max_steps) else -1
    training = FinetuneTrainingArguments(
        output_dir=str(workdir / f"{task}_seed{seed}"),
        run_name=f"{task}_seed{seed}",
        model_max_length=max_length,
        num_train_epochs=epochs * args.epochs_scale,
        max_steps=max_steps,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        seed=seed,
        eval_strategy="steps" if max_steps > 0 else "epoch",
        save_strategy="steps" if max_steps > 0 else "epoch",
        eval_steps=max(1, max_steps // 4) if max_steps > 0 else None,
        save_steps=max(1, max_steps // 4) if max_steps > 0 else None,
        disable_tqdm=True,
        rc_augment=args.rc_augment,
        rc_average=args.rc_average,
    )
    model = ModelArguments(
        args.model_name_or_path,
        use_lora=args.use_lora,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_target_modules=args.lora_target_modules,
        from_scratch=args.from_scratch,
    )
    if args.architecture == "cnn":  # the baseline: the same data, budget and seeds, one-hot bases, trained from scratch
        metrics = dict(run_finetune(model, data, training, make_model=cnn_for_task, encode=encode_columns))
    else:
        metrics = dict(run_finetune(model, data, training))
    with np.load(results_folder(training) / PREDICTIONS_FILE) as arrays:
        arrays = dict(arrays)
    shutil.rmtree(training.output_dir, ignore_errors=True)
    return metrics, arrays


def run_task(args: GueArguments, task: str, seed: int, workdir: Path) -> dict:
    """Fine-tune on one task with one seed (or fit the composition baseline); returns the test metrics, with
    test_class_shares and collapsed, and keeps the run's per-example test predictions in --output_dir
    (save_predictions)."""
    data = DataArguments(kmer=args.kmer)
    if task == "species":
        data.data_path = str(write_species_task(workdir / "species_data"))
    elif args.gue_dir:
        data.data_path = str(resolve_task(args.gue_dir, task).folder)
    else:
        data.dataset_name, data.dataset_config_name = args.dataset_name, task
    max_length = max_length_for(args, task, data)
    if args.architecture == "composition":
        metrics, arrays = run_composition(data, args.rc_average)
    else:
        metrics, arrays = fine_tune(args, task, seed, data, max_length, workdir)
    save_predictions(arrays, args.output_dir, task, seed)
    metrics["test_class_shares"] = label_shares(data)
    metrics["max_length"] = max_length
    metrics["collapsed"] = is_collapsed(metrics)  # run_finetune has warned about it (collapse_warning)
    return metrics


def is_done(results: dict, output_dir: Path, task: str, seed: int) -> bool:
    """Whether (task, seed) has its results and, for a single-label task, its stored test predictions (a run from
    before runs stored them is run again; its metrics come out the same)."""
    metrics = results.get(task, {}).get(str(seed))
    if metrics is None:
        return False
    return metrics.get("test_class_shares") is None or predictions_path(output_dir, task, seed).exists()


def run_benchmark(args: GueArguments, tasks: list[str], seeds: list[int], command: str) -> str:
    """Run every (task, seed) not yet in --output_dir; write and return the report table."""
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results, settings = open_results(args), run_settings(args)
    with tempfile.TemporaryDirectory(prefix="gue_") as workdir:
        for number, task in enumerate(tasks, start=1):
            for seed in seeds:
                if is_done(results, output_dir, task, seed):
                    logger.info("[%d/%d] %s seed %d: already done", number, len(tasks), task, seed)
                    continue
                logger.info(
                    "[%d/%d] %s seed %d%s", number, len(tasks), task, seed, " (from scratch)" * args.from_scratch
                )
                metrics = run_task(args, task, seed, Path(workdir))
                results.setdefault(task, {})[str(seed)] = metrics
                write_reports(results, output_dir, command, settings)  # after every task: an interruption loses little
    return write_reports(results, output_dir, command, settings)
