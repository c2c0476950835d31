"""The results store: one results.json per folder, keyed by the settings its results depend on (a rerun with the
same settings skips what is done; one with other settings is refused)."""

import dataclasses
import json
import shlex
from pathlib import Path

import numpy as np
from transformers import HfArgumentParser

from dnabert2 import packaged
from dnabert2.benchmarks.gue_runner.settings import SETTINGS, GueArguments
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import atomic_output
from dnabert2.runtime.weights import weights_digest

PREDICTIONS_DIR = "predictions"  # beside results.json: <task>_seed<seed>.npz, one per single-label run


def model_name(folder: Path) -> str:
    """How results name a local model folder: its path relative to the repository root when it lies inside (the
    shipped model is "."), else the folder's name; never a path of the machine that ran it (the weights digest tells
    folders of the same name apart)."""
    folder, root = folder.resolve(), packaged("model")
    return str(folder.relative_to(root)) if folder.is_relative_to(root) else folder.name


def run_settings(args: GueArguments) -> dict:
    """The settings that results of this run depend on (a local model named by model_name)."""
    model = Path(args.model_name_or_path).expanduser()
    values = dataclasses.asdict(args)
    values["model"] = model_name(model) if model.is_dir() else args.model_name_or_path
    uses_weights = model.is_dir() and not args.from_scratch and args.architecture == "dnabert2"
    values["model_weights"] = weights_digest(model) if uses_weights else None  # random init: any weights will do
    lora = {"r": args.lora_r, "alpha": args.lora_alpha, "target_modules": args.lora_target_modules}
    values["lora"] = lora if args.use_lora else None
    return {name: values[name] for name in SETTINGS}


def check_model(name_or_path: str):
    """Fail before any training when the model is neither a model folder nor a loadable Hub model."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError(f"--model_name_or_path {name_or_path}: this folder holds no config.json (not a model).")
        return
    if path.exists() or name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1:
        raise InputError(f"--model_name_or_path {name_or_path}: no such model folder.")
    from transformers.utils import cached_file

    try:
        cached_file(name_or_path, "config.json")
    except Exception as error:
        raise InputError(
            f"--model_name_or_path {name_or_path}: not a model folder, and not loadable from the Hub "
            f"({type(error).__name__}: {error})."
        ) from error


def settings_from_command(command: str) -> dict | None:
    """Settings of a results.json written before settings were recorded, parsed from its command; None if unparsable."""
    try:
        (args,) = HfArgumentParser(GueArguments).parse_args_into_dataclasses(shlex.split(command)[2:])
    except (SystemExit, ValueError):
        return None
    return run_settings(args)


def read_results(folder) -> tuple[dict | None, dict]:
    """(settings, results) of a results folder; ({}, {}) when it holds no results.json."""
    file = Path(folder) / "results.json"
    if not file.exists():
        return {}, {}
    payload = json.loads(file.read_text())
    settings = payload.get("settings") or settings_from_command(payload.get("command", ""))
    return settings, payload.get("results", {})


def settings_difference(stored: dict, wanted: dict, ignore=()) -> list[str]:
    """'name: stored there, wanted here' for every setting that differs. Results written before models were named
    record a local model as an absolute path: the weights digest alone identifies those."""
    if Path(str(stored.get("model"))).is_absolute():
        ignore = (*ignore, "model")
    return [
        f"{name}: {stored.get(name)!r} there, {wanted[name]!r} here"
        for name in SETTINGS
        if name not in ignore and stored.get(name) != wanted[name]
    ]


def open_results(args: GueArguments) -> dict:
    """The finished results of --output_dir; a clear error if that folder was made with other settings."""
    settings, results = read_results(args.output_dir)
    if settings is None:
        raise InputError(
            f"{Path(args.output_dir) / 'results.json'}: its settings are unknown (neither recorded nor "
            "readable from its command); pass another --output_dir or move the file away."
        )
    if results and settings_difference(settings, run_settings(args)):
        raise InputError(
            f"{Path(args.output_dir) / 'results.json'} holds results made with other settings ("
            + "; ".join(settings_difference(settings, run_settings(args)))
            + "); pass another --output_dir, or the settings of those results."
        )
    return results


def check_comparable(args: GueArguments, other_dir):
    """--compare_with must name results of the same settings and the opposite --from_scratch."""
    settings, results = read_results(other_dir)
    if not results or settings is None:
        raise InputError(f"--compare_with {other_dir}: no results.json with known settings there.")
    wanted = run_settings(args)
    if settings.get("from_scratch") == wanted["from_scratch"]:
        raise InputError(
            f"--compare_with {other_dir}: both runs have from_scratch={wanted['from_scratch']}; "
            "compare a pretrained run with a from-scratch one."
        )
    different = settings_difference(settings, wanted, ignore=("from_scratch", "model_weights"))
    if different:
        raise InputError(
            f"--compare_with {other_dir}: other settings there ({'; '.join(different)}); the ablation "
            "needs the same model config, budgets and seeds."
        )


def predictions_path(folder, task: str, seed) -> Path:
    """Where a results folder keeps one run's per-example test predictions."""
    return Path(folder) / PREDICTIONS_DIR / f"{task}_seed{seed}.npz"


def save_predictions(run_arrays: dict, folder, task: str, seed):
    """Keep a single-label classification run's test labels and predicted classes (plain strand, as scored; and with
    both strands averaged, rc_average_predictions, where the run has them, for strand analyses) from fine-tuning's
    per-example arrays, compactly; other problem types (regression, multi-label) keep nothing."""
    logits, labels = run_arrays["logits"], run_arrays["labels"]
    if logits.ndim != 2 or logits.shape[1] < 2 or labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        return
    kept = {"labels": labels.astype(np.int16), "predictions": logits.argmax(-1).astype(np.int16)}
    if "rc_average_logits" in run_arrays:
        kept["rc_average_predictions"] = run_arrays["rc_average_logits"].argmax(-1).astype(np.int16)
    path = predictions_path(folder, task, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary, open(temporary, "wb") as file:
        np.savez_compressed(file, **kept)


def read_predictions(folder, task: str, seed) -> dict | None:
    """A run's stored test labels and predicted classes (save_predictions); None when the run stored none."""
    path = predictions_path(folder, task, seed)
    if not path.exists():
        return None
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}
