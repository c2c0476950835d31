"""Fine-tune and evaluate a DNABERT-2 model on GUE tasks with the paper's per-task settings; write a table and plot.

Main job of the README. With nothing but the repository it runs the embedded default task (species of origin of
100-bp fragments, from benchmarks/data) with the shipped model:

    python benchmarks/gue.py

With GUE (folder in the official layout, or a dataset built by train/build_gue_dataset.py, local or on the Hub):

    python benchmarks/gue.py --gue_dir ../shared/data/GUE                      # every complete task
    python benchmarks/gue.py --gue_dir ../shared/data/GUE --tasks tf_0,mouse_0 --seeds 1,2,3

Results go to --output_dir (results.json, results.csv, results.md, results.png). results.json records the run's
settings (model and a digest of its weights, learning rate, batch size, max_steps, epochs_scale, LoRA, from scratch,
strand augmentation, architecture); a rerun with the same
settings skips the finished (task, seed) pairs, one with other settings is refused.

Pretraining ablation: ``--from_scratch True`` fine-tunes a randomly initialised model of the same config (same
tokenizer, budgets and seeds). ``--ablation True`` runs the pretrained model, the same fine-tuned on a random strand
per example (--rc_augment), random weights, and the one-hot CNN baseline, into <output_dir>/pretrained,
/pretrained_rc_augment, /from_scratch and /cnn and writes comparison.{md,json,png}; with ``--rc_average True`` the
strand table also scores each test sequence as the mean of both strands. ``--compare_with <folder>`` compares this
run with an earlier one of the opposite --from_scratch.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import shlex
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from dnabert2 import packaged
from dnabert2.train.default_task import write_species_task
from dnabert2.train.finetuning import (
    DataArguments, FinetuneTrainingArguments, ModelArguments, configure_logging, load_task, run_finetune,
)
from dnabert2.train.gue_dataset import find_tasks, resolve_task

logger = logging.getLogger("gue")

# Paper settings (lr 3e-5, warmup 50, batch 32): config name prefix -> (model_max_length, epochs, max_steps).
TASK_SETTINGS = [
    ("EMP_", (128, 3, None)),
    ("prom_core_tata", (20, 10, None)),
    ("prom_core_", (20, 4, None)),
    ("prom_300_tata", (70, 10, None)),
    ("prom_300_", (70, 4, None)),
    ("splice_", (80, 5, None)),
    ("virus_covid", (256, 8, None)),
    ("mouse_", (30, 5, 1000)),
    ("tf_", (30, 3, None)),
    ("species", (32, 3, None)),
]
FAMILIES = [  # (label, config prefix, paper DNABERT-2 average; Zhou et al. 2024, Table 3)
    ("EMP", "EMP_", 55.98),
    ("TF-M", "mouse_", 67.99),
    ("CVC", "virus_", 71.02),
    ("TF-H", "tf_", 70.10),
    ("PD", "prom_300_", 84.21),
    ("CPD", "prom_core_", 70.52),
    ("SSP", "splice_", 84.99),
]
# --ablation's runs, each in <output_dir>/<side>: the pretrained model, the same fine-tuned on a random strand per
# example, random weights of its config, and the one-hot CNN baseline.
ABLATION_SIDES = ("pretrained", "pretrained_rc_augment", "from_scratch", "cnn")
# Arguments that change the scores; results.json records them and a folder serves only one set of them.
SETTINGS = ("model", "model_weights", "learning_rate", "batch_size", "max_steps", "epochs_scale", "use_lora", "from_scratch",
            "rc_augment", "architecture")
METRIC_NOTE = "Metric: MCC x100 for every task but virus_covid, macro F1 x100 for virus_covid (as in the paper)."
COLLAPSE_RULE = (
    "collapsed: the test predictions fell into one class (MCC exactly 0 with accuracy equal to one class's share of "
    "the test labels; MCC exactly 0 for results stored without those shares); left out of means and averages."
)
RC_AVERAGE = ("the same fine-tuned models, each test sequence scored as the mean of its own and its reverse "
              "complement's logits (--rc_average)")
STRANDS_NOTE = f"Strands averaged at test: {RC_AVERAGE}."
NOISE_RULE = (
    "within seed noise: |mean difference| < the larger of the two sample standard deviations over seeds "
    "(needs at least 2 scored seeds on each side; seeds paired: only seeds present on both sides are compared)."
)


@dataclass
class GueArguments:
    model_name_or_path: str = field(default=str(packaged("model")), metadata={"help": "Model to test (default: shipped)."})
    gue_dir: str | None = field(default=None, metadata={"help": "GUE root in the official CSV layout."})
    dataset_name: str | None = field(default=None, metadata={"help": "GUE as a Hub dataset (repo id or folder)."})
    tasks: str = field(default="complete", metadata={"help": "'complete', 'all' or comma-separated config names."})
    seeds: str = field(default="42", metadata={"help": "Comma-separated seeds; one fine-tuning run per task and seed."})
    output_dir: str = field(default="outputs/gue", metadata={"help": "Results folder (one set of settings per folder)."})
    use_lora: bool = field(default=False, metadata={"help": "Fine-tune LoRA adapters instead of all weights."})
    learning_rate: float = field(default=3e-5, metadata={"help": "Peak learning rate (paper: 3e-5)."})
    batch_size: int = field(default=32, metadata={"help": "Training batch size per device (paper: 32)."})
    max_steps: int | None = field(default=None, metadata={"help": "Cap on steps per task (for CPU budgets)."})
    epochs_scale: float = field(default=1.0, metadata={"help": "Multiply the paper's epochs (e.g. 0.5)."})
    architecture: str = field(
        default="dnabert2", metadata={"help": "'dnabert2', or 'cnn': the one-hot CNN baseline, trained from scratch."}
    )
    rc_augment: bool = field(
        default=False, metadata={"help": "Fine-tune on a random strand per example (sequence or reverse complement)."}
    )
    rc_average: bool = field(
        default=False, metadata={"help": "Also score each test sequence as the mean of both strands (rc_average_*)."}
    )
    from_scratch: bool = field(
        default=False, metadata={"help": "Fine-tune random weights of the model's config (same tokenizer): the ablation."}
    )
    ablation: bool = field(
        default=False,
        metadata={"help": "Run pretrained, pretrained on both strands (--rc_augment), from scratch and the CNN "
                  "baseline (<output_dir>/<side>) and compare them."},
    )
    compare_with: str | None = field(
        default=None,
        metadata={"help": "Results folder of the opposite --from_scratch (same settings) to compare this run with."},
    )


def settings_for(config_name):
    """(model_max_length, epochs, max_steps) of the paper for a task."""
    for prefix, values in TASK_SETTINGS:
        if config_name.startswith(prefix):
            return values
    raise ValueError(f"No paper settings for task {config_name!r}.")


def metric_of(task) -> tuple[str, str]:
    """(metrics key, label) of the score reported for a task: F1 for virus_covid, MCC for every other task."""
    return ("eval_f1", "F1") if task.startswith("virus_covid") else ("eval_matthews_correlation", "MCC")


def run_settings(args: GueArguments) -> dict:
    """The settings that results of this run depend on (a local model as its absolute path)."""
    model = Path(args.model_name_or_path).expanduser()
    values = dataclasses.asdict(args)
    values["model"] = str(model.resolve()) if model.is_dir() else args.model_name_or_path
    uses_weights = model.is_dir() and not args.from_scratch and args.architecture != "cnn"
    values["model_weights"] = weights_digest(model) if uses_weights else None  # random init: any weights will do
    return {name: values[name] for name in SETTINGS}


def weights_digest(folder: Path) -> str | None:
    """SHA-256 (first 16 hex digits) of a model folder's weight files: new weights at the same path are a new model."""
    files = sorted(p for pattern in ("*.safetensors", "*.bin") for p in folder.glob(pattern))
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)) if files else None


@functools.lru_cache(maxsize=None)
def _digest(files: tuple) -> str:
    """Hash of the files, computed once per (path, mtime, size): a run asks for it several times."""
    digest = hashlib.sha256()
    for path, _, _ in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def check_model(name_or_path: str):
    """Fail before any training when the model is neither a model folder nor a loadable Hub model."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ValueError(f"--model_name_or_path {name_or_path}: this folder holds no config.json (not a model).")
        return
    if path.exists() or name_or_path.startswith(("/", ".", "~")) or name_or_path.count("/") > 1:
        raise ValueError(f"--model_name_or_path {name_or_path}: no such model folder.")
    from transformers.utils import cached_file

    try:
        cached_file(name_or_path, "config.json")
    except Exception as error:
        raise ValueError(f"--model_name_or_path {name_or_path}: not a model folder, and not loadable from the Hub "
                         f"({type(error).__name__}: {error}).") from error


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
    """'name: stored there, wanted here' for every setting that differs."""
    return [f"{name}: {stored.get(name)!r} there, {wanted[name]!r} here"
            for name in SETTINGS if name not in ignore and stored.get(name) != wanted[name]]


def open_results(args: GueArguments) -> dict:
    """The finished results of --output_dir; a clear error if that folder was made with other settings."""
    settings, results = read_results(args.output_dir)
    if settings is None:
        raise ValueError(f"{Path(args.output_dir) / 'results.json'}: its settings are unknown (neither recorded nor "
                         "readable from its command); pass another --output_dir or move the file away.")
    if results and settings_difference(settings, run_settings(args)):
        raise ValueError(f"{Path(args.output_dir) / 'results.json'} holds results made with other settings ("
                         + "; ".join(settings_difference(settings, run_settings(args)))
                         + "); pass another --output_dir, or the settings of those results.")
    return results


def selected_tasks(args: GueArguments) -> list[str]:
    """The config names to run; the embedded default task when no GUE source is given."""
    if not args.gue_dir and not args.dataset_name:
        return ["species"]
    if args.tasks in ("complete", "all"):
        if not args.gue_dir:
            raise ValueError("--tasks complete/all needs --gue_dir; with --dataset_name list the tasks by name.")
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
    labels = splits["test" if "test" in splits else "validation"]["labels"]
    counts = Counter(labels)
    return [counts.get(label, 0) / len(labels) for label in range(info.num_labels)]


def is_collapsed(metrics: dict) -> bool:
    """True for a run whose test predictions all fell into one class (see COLLAPSE_RULE)."""
    if "collapsed" in metrics:
        return bool(metrics["collapsed"])
    if metrics.get("eval_matthews_correlation") != 0.0:
        return False
    shares, accuracy = metrics.get("test_class_shares"), metrics.get("eval_accuracy")
    return shares is None or accuracy is None or any(abs(accuracy - share) < 1e-9 for share in shares)


def run_task(args: GueArguments, task: str, seed: int, workdir: Path) -> dict:
    """Fine-tune on one task with one seed; returns the test metrics, with test_class_shares and collapsed."""
    max_length, epochs, cap = settings_for(task)
    data = DataArguments()
    if task == "species":
        data.data_path = str(write_species_task(workdir / "species_data"))
    elif args.gue_dir:
        data.data_path = str(resolve_task(args.gue_dir, task).folder)
    else:
        data.dataset_name, data.dataset_config_name = args.dataset_name, task
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
    model = ModelArguments(args.model_name_or_path, use_lora=args.use_lora, from_scratch=args.from_scratch,
                           architecture=args.architecture)
    metrics = dict(run_finetune(model, data, training))
    shutil.rmtree(training.output_dir, ignore_errors=True)
    metrics["test_class_shares"] = label_shares(data)
    metrics["collapsed"] = is_collapsed(metrics)
    if metrics["collapsed"]:
        logger.warning("%s seed %d collapsed: every test prediction is one class.", task, seed)
    return metrics


def family_of(task):
    return next((label for label, prefix, _ in FAMILIES if task.startswith(prefix)), None)


def _mean(values):
    return statistics.fmean(values) if values else None


def task_summary(task: str, by_seed: dict, strands_averaged: bool = False) -> dict | None:
    """Mean and sample sd (x100) of a task's score over its non-collapsed seeds; collapsed seeds listed apart.

    ``strands_averaged``: the score of the same models with each test sequence scored as the mean of both strands
    (``--rc_average``; seeds whose plain predictions collapsed stay out); None when a seed did not record it."""
    key, label = metric_of(task)
    if strands_averaged:
        key = key.replace("eval_", "eval_rc_average_", 1)
        if not by_seed or any(key not in m for m in by_seed.values()):
            return None
    scores = {seed: 100 * m[key] for seed, m in by_seed.items() if not is_collapsed(m)}
    values = list(scores.values())
    return {
        "task": task, "family": family_of(task) or "-", "metric": label,
        "mean": _mean(values), "std": statistics.stdev(values) if len(values) > 1 else None,
        "seeds": len(by_seed), "seeds_run": sorted(by_seed, key=int), "scores": scores,
        "collapsed_seeds": sorted((seed for seed, m in by_seed.items() if is_collapsed(m)), key=int),
        "status": "ok" if values else "collapsed",
    }


def summarize(results: dict) -> tuple[list, list]:
    """Per-task summaries (task_summary) and per-family rows (family, ours, paper, tasks scored, tasks collapsed)."""
    rows = [task_summary(task, by_seed) for task, by_seed in sorted(results.items())]
    families = []
    for label, _, paper in FAMILIES:
        members = [row for row in rows if row["family"] == label]
        scored = [row["mean"] for row in members if row["mean"] is not None]
        if members:
            families.append({"family": label, "mean": _mean(scored), "paper": paper, "tasks": len(scored),
                             "collapsed_tasks": len(members) - len(scored)})
    return rows, families


def score_cell(summary: dict) -> str:
    """'51.06', '51.06 ± 2.10' or 'collapsed'."""
    if summary["mean"] is None:
        return "collapsed"
    return f"{summary['mean']:.2f}" + (f" ± {summary['std']:.2f}" if summary["std"] is not None else "")


def collapsed_cell(summary: dict) -> str:
    seeds = summary["collapsed_seeds"]
    return f"{len(seeds)}/{summary['seeds']} (seed {', '.join(seeds)})" if seeds else "-"


def _fmt(value):
    return "-" if value is None else f"{value:.2f}"


def report_paths(output_dir: Path, stem: str) -> list[Path]:
    return [output_dir / f"{stem}.{ext}" for ext in ("json", "md", "csv", "png") if (output_dir / f"{stem}.{ext}").exists()]


def write_reports(results: dict, output_dir: Path, command: str, settings: dict | None = None) -> str:
    """Write results.json/.csv/.md and results.png; returns the markdown table."""
    rows, families = summarize(results)
    averaged = {task: task_summary(task, by_seed, strands_averaged=True) for task, by_seed in results.items()}
    with_averages = any(averaged.values())
    payload = {"command": command, "settings": settings, "results": results, "summary": rows, "families": families,
               "collapse_rule": COLLAPSE_RULE}
    (output_dir / "results.json").write_text(json.dumps(payload, indent=2))
    with open(output_dir / "results.csv", "w") as handle:
        handle.write("task,family,metric,score,std,seeds,collapsed_seeds,score_strands_averaged\n")
        handle.writelines(f"{r['task']},{r['family']},{r['metric']},{'collapsed' if r['mean'] is None else _fmt(r['mean'])},"
                          f"{_fmt(r['std'])},{r['seeds']},{len(r['collapsed_seeds'])},"
                          f"{_fmt((averaged[r['task']] or {}).get('mean'))}\n" for r in rows)
    extra = " strands averaged at test |" if with_averages else ""
    lines = [
        f"Command: `{command}`",
        "",
        "| task | family | metric | score x100 (mean ± sd over seeds) | seeds | collapsed seeds |" + extra,
        "|---|---|---|---|---|---|" + "---|" * with_averages,
        *[f"| {r['task']} | {r['family']} | {r['metric']} | {score_cell(r)} | {r['seeds']} | {collapsed_cell(r)} |"
          + (f" {score_cell(averaged[r['task']]) if averaged[r['task']] else '-'} |" if with_averages else "")
          for r in rows],
        "",
        METRIC_NOTE,
    ]
    if with_averages:
        lines += ["", STRANDS_NOTE]
    if any(r["collapsed_seeds"] for r in rows):
        lines += ["", COLLAPSE_RULE[0].upper() + COLLAPSE_RULE[1:]]
    scored = [r["mean"] for r in rows if r["mean"] is not None]
    if scored:
        lines += ["", f"Average over {len(scored)} scored tasks: {_mean(scored):.2f}"]
    if families:
        lines += ["", "| family | ours | DNABERT-2 (paper) | tasks scored | tasks collapsed |", "|---|---|---|---|---|"]
        lines += [f"| {f['family']} | {_fmt(f['mean'])} | {f['paper']:.2f} | {f['tasks']} | {f['collapsed_tasks']} |"
                  for f in families]
    table = "\n".join(lines) + "\n"
    (output_dir / "results.md").write_text(table)
    plot(rows, families, output_dir / "results.png")
    return table


def _figure(n_tasks: int, n_families: int, bars_per_task: int = 1):
    """A figure sized to what it shows: one panel per task group, a family panel only when there are families."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task_width = 1.2 + 0.35 * bars_per_task * max(n_tasks, 1)
    family_width = 1.2 + 0.7 * n_families if n_families else 0
    width = max(4.0, task_width + family_width + 0.8)
    if not n_families:
        fig, axis = plt.subplots(figsize=(width, 4.5))
        return plt, fig, [axis]
    fig, axes = plt.subplots(1, 2, figsize=(width, 4.5), gridspec_kw={"width_ratios": [task_width, family_width]})
    return plt, fig, list(axes)


def _bars(axis, xs, summaries, **style):
    """Bars of the mean scores, sd error bars where there is one, 'collapsed' where there is no score."""
    axis.bar(xs, [r["mean"] or 0 for r in summaries], **style)
    with_sd = [(x, r) for x, r in zip(xs, summaries) if r["std"] is not None]
    if with_sd:
        axis.errorbar([x for x, _ in with_sd], [r["mean"] for _, r in with_sd], yerr=[r["std"] for _, r in with_sd],
                      fmt="none", ecolor="black", capsize=3)
    _mark_collapsed(axis, [x for x, r in zip(xs, summaries) if r["mean"] is None])


def _task_ticks(axis, xs, names):
    slanted = len(names) > 3
    axis.set_xticks(xs, names, rotation=60 if slanted else 0, ha="right" if slanted else "center")


def _mark_collapsed(axis, xs):
    for x in xs:
        axis.text(x, 0, "collapsed", rotation=90, ha="center", va="bottom", fontsize=7, color="tab:red")


def plot(rows, families, path):
    """Bar chart of per-task scores (sd as error bars), and of family averages next to the paper's."""
    plt, fig, axes = _figure(len(rows), len(families))
    x = list(range(len(rows)))
    _bars(axes[0], x, rows, color="tab:blue")
    _task_ticks(axes[0], x, [r["task"] for r in rows])
    axes[0].set_ylabel("score x100 (MCC; F1 for virus_covid)")
    axes[0].set_title("Per task (test split)")
    if families:
        fx = range(len(families))
        axes[1].bar([i - 0.2 for i in fx], [f["mean"] or 0 for f in families], width=0.4, label="this run")
        axes[1].bar([i + 0.2 for i in fx], [f["paper"] for f in families], width=0.4, label="DNABERT-2 117M (paper)")
        axes[1].set_xticks(list(fx), [f["family"] for f in families])
        axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1))
        axes[1].set_title("Family averages")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def compare(pretrained: dict, scratch: dict, cnn: dict | None = None, augmented: dict | None = None) -> dict:
    """Per task and family: pretrained and from-scratch scores, their difference and whether it is within seed noise,
    the CNN baseline's score where its results are given, and the strand variants of the pretrained model (test-time
    averaging; ``augmented``: fine-tuned on a random strand per example) where recorded; all over the shared seeds."""
    rows = []
    for task in sorted(set(pretrained) & set(scratch)):
        seeds = sorted(set(pretrained[task]) & set(scratch[task]), key=int)
        if not seeds:
            continue
        a = task_summary(task, {s: pretrained[task][s] for s in seeds})
        b = task_summary(task, {s: scratch[task][s] for s in seeds})
        difference = a["mean"] - b["mean"] if a["mean"] is not None and b["mean"] is not None else None
        noise = max(a["std"], b["std"]) if a["std"] is not None and b["std"] is not None else None
        within = None if difference is None or noise is None else abs(difference) < noise
        baseline = {s: cnn[task][s] for s in seeds if s in (cnn or {}).get(task, {})}
        both_strands = {s: augmented[task][s] for s in seeds if s in (augmented or {}).get(task, {})}
        strands = {"averaged_at_test": task_summary(task, {s: pretrained[task][s] for s in seeds}, True),
                   "augmented": task_summary(task, both_strands) if both_strands else None,
                   "augmented_averaged_at_test": task_summary(task, both_strands, True) if both_strands else None}
        rows.append({"task": task, "family": a["family"], "metric": a["metric"], "seeds": seeds, "pretrained": a,
                     "from_scratch": b, "difference": difference, "noise": noise, "within_seed_noise": within,
                     "cnn": task_summary(task, baseline) if baseline else None, "strands": strands})
    families = []
    for label, _, _ in FAMILIES:
        members = [row for row in rows if row["family"] == label]
        both = [row for row in members if row["difference"] is not None]
        if both:
            p, s = _mean([r["pretrained"]["mean"] for r in both]), _mean([r["from_scratch"]["mean"] for r in both])
            cnn_means = [r["cnn"]["mean"] for r in both if r["cnn"] and r["cnn"]["mean"] is not None]
            families.append({"family": label, "pretrained": p, "from_scratch": s, "difference": p - s, "tasks": len(both),
                             "collapsed_tasks": len(members) - len(both),
                             "cnn": _mean(cnn_means) if len(cnn_means) == len(both) else None})
    both = [row for row in rows if row["difference"] is not None]
    overall = {"tasks": len(both), "pretrained": _mean([r["pretrained"]["mean"] for r in both]),
               "from_scratch": _mean([r["from_scratch"]["mean"] for r in both]),
               "difference": _mean([r["difference"] for r in both])}
    cnn_means = [r["cnn"]["mean"] for r in both if r["cnn"] and r["cnn"]["mean"] is not None]
    overall["cnn"] = _mean(cnn_means) if both and len(cnn_means) == len(both) else None
    unmatched = sorted(set(pretrained) ^ set(scratch))
    return {"metric_note": METRIC_NOTE, "noise_rule": NOISE_RULE, "collapse_rule": COLLAPSE_RULE, "tasks": rows,
            "families": families, "all_tasks": overall, "tasks_on_one_side_only": unmatched}


def verdict(row: dict) -> str:
    sides = [name for name in ("pretrained", "from_scratch") if row[name]["mean"] is None]
    if sides:
        return "collapsed (" + ", ".join(name.replace("_", " ") for name in sides) + ")"
    if row["within_seed_noise"] is None:
        return "no noise estimate (< 2 seeds)"
    return "within seed noise" if row["within_seed_noise"] else "beyond seed noise"


def write_comparison(pretrained_dir, scratch_dir, output_dir, cnn_dir=None, augmented_dir=None) -> str:
    """Write comparison.json/.md/.png (pretrained vs from scratch, the CNN baseline when ``cnn_dir``, the strand
    table when test-time averages or ``augmented_dir`` are there) to output_dir; returns the markdown tables."""
    output_dir = Path(output_dir)
    (_, pretrained), (_, scratch) = read_results(pretrained_dir), read_results(scratch_dir)
    report = compare(pretrained, scratch, read_results(cnn_dir)[1] if cnn_dir else None,
                     read_results(augmented_dir)[1] if augmented_dir else None)
    report["pretrained_results"], report["from_scratch_results"] = str(pretrained_dir), str(scratch_dir)
    report["cnn_results"] = str(cnn_dir) if cnn_dir else None
    report["augmented_results"] = str(augmented_dir) if augmented_dir else None
    (output_dir / "comparison.json").write_text(json.dumps(report, indent=2))
    lines = [
        f"Pretrained: `{pretrained_dir}`; from scratch (random init of the same config): `{scratch_dir}`.",
        "",
        "| task | family | metric | pretrained | from scratch | difference | verdict | seeds | CNN baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["tasks"]:
        difference = "-" if r["difference"] is None else f"{r['difference']:+.2f}"
        collapsed = [f"{name.replace('_', ' ')} seed {', '.join(r[name]['collapsed_seeds'])} collapsed"
                     for name in ("pretrained", "from_scratch")
                     if r[name]["collapsed_seeds"] and r[name]["mean"] is not None]  # partly collapsed
        lines.append(f"| {r['task']} | {r['family']} | {r['metric']} | {score_cell(r['pretrained'])} | "
                     f"{score_cell(r['from_scratch'])} | {difference} | {'; '.join([verdict(r), *collapsed])} | "
                     f"{', '.join(r['seeds'])} | {score_cell(r['cnn']) if r['cnn'] else '-'} |")
    if report["families"]:
        lines += ["", "| family | pretrained | from scratch | difference | tasks | tasks left out (collapsed) | "
                  "CNN baseline |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {f['family']} | {f['pretrained']:.2f} | {f['from_scratch']:.2f} | {f['difference']:+.2f} | "
                  f"{f['tasks']} | {f['collapsed_tasks']} | {_fmt(f['cnn'])} |" for f in report["families"]]
        overall = report["all_tasks"]
        lines += [f"| all tasks | {overall['pretrained']:.2f} | {overall['from_scratch']:.2f} | "
                  f"{overall['difference']:+.2f} | {overall['tasks']} | - | {_fmt(overall['cnn'])} |"]
    lines += strand_table(report["tasks"])
    lines += ["", "Scores x100, mean ± sample sd over the seeds both runs share. " + METRIC_NOTE,
              "", "Difference: pretrained minus from scratch. " + NOISE_RULE[0].upper() + NOISE_RULE[1:],
              "", COLLAPSE_RULE[0].upper() + COLLAPSE_RULE[1:]]
    if report["tasks_on_one_side_only"]:
        lines += ["", f"Left out (run on one side only): {', '.join(report['tasks_on_one_side_only'])}."]
    table = "\n".join(lines) + "\n"
    (output_dir / "comparison.md").write_text(table)
    plot_comparison(report, output_dir / "comparison.png")
    return table


def strand_table(rows: list) -> list[str]:
    """Markdown lines of the pretrained model's strand variants per task, with their mean over tasks; none when no
    variant was recorded."""
    columns = [("averaged_at_test", "strands averaged at test"), ("augmented", "fine-tuned on both strands"),
               ("augmented_averaged_at_test", "both strands, averaged at test")]
    columns = [(key, title) for key, title in columns if any(r["strands"][key] for r in rows)]
    if not columns:
        return []
    lines = ["", f"Strands (pretrained model): {RC_AVERAGE}; fine-tuned on both strands: --rc_augment (a random "
             "strand per training example).", "",
             "| task | metric | pretrained | " + " | ".join(title for _, title in columns) + " |",
             "|---|---|---|" + "---|" * len(columns)]
    summaries = [[r["pretrained"], *(r["strands"][key] for key, _ in columns)] for r in rows]
    for r, row_summaries in zip(rows, summaries):
        lines.append(f"| {r['task']} | {r['metric']} | "
                     + " | ".join(score_cell(summary) if summary else "-" for summary in row_summaries) + " |")
    means = [[(summary or {}).get("mean") for summary in column] for column in zip(*summaries)]
    lines += ["| mean over tasks | | " + " | ".join(_fmt(_mean(v)) if None not in v else "-" for v in means) + " |"]
    titles = ["pretrained", *(title for _, title in columns)]
    seeds = {title: sorted({seed for summary in column if summary for seed in summary["seeds_run"]}, key=int)
             for title, column in zip(titles, zip(*summaries))}
    if len({tuple(v) for v in seeds.values()}) > 1:
        lines += ["", "Seeds: " + "; ".join(f"{title} {', '.join(v)}" for title, v in seeds.items()) + "."]
    return lines


def plot_comparison(report: dict, path):
    """Per-task pretrained and from-scratch bars (sd as error bars), and family averages."""
    rows, families = report["tasks"], report["families"]
    plt, fig, axes = _figure(len(rows), len(families), bars_per_task=2)
    x = list(range(len(rows)))
    sides = [("pretrained", "tab:blue"), ("from_scratch", "tab:orange")]
    sides += [("cnn", "tab:green")] if rows and all(r["cnn"] for r in rows) else []
    width = 0.8 / len(sides)
    for k, (name, color) in enumerate(sides):
        empty = {"mean": None, "std": None, "collapsed_seeds": []}
        _bars(axes[0], [i + (k - (len(sides) - 1) / 2) * width for i in x], [r[name] or empty for r in rows],
              width=width, color=color, label="CNN baseline" if name == "cnn" else name.replace("_", " "))
    _task_ticks(axes[0], x, [r["task"] for r in rows])
    axes[0].set_ylabel("score x100 (MCC; F1 for virus_covid)")
    axes[0].set_title("Pretrained vs from scratch, per task")
    axes[0].legend(fontsize=7)
    if families:
        fx = range(len(families))
        for k, (name, color) in enumerate(sides):
            axes[1].bar([i + (k - (len(sides) - 1) / 2) * width for i in fx],
                        [f[name] if f[name] is not None else 0 for f in families], width=width, color=color)
        axes[1].set_xticks(list(fx), [f["family"] for f in families])
        axes[1].set_title("Family averages")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def check_comparable(args: GueArguments, other_dir):
    """--compare_with must name results of the same settings and the opposite --from_scratch."""
    settings, results = read_results(other_dir)
    if not results or settings is None:
        raise ValueError(f"--compare_with {other_dir}: no results.json with known settings there.")
    wanted = run_settings(args)
    if settings.get("from_scratch") == wanted["from_scratch"]:
        raise ValueError(f"--compare_with {other_dir}: both runs have from_scratch={wanted['from_scratch']}; "
                         "compare a pretrained run with a from-scratch one.")
    different = settings_difference(settings, wanted, ignore=("from_scratch", "model_weights"))
    if different:
        raise ValueError(f"--compare_with {other_dir}: other settings there ({'; '.join(different)}); the ablation "
                         "needs the same model config, budgets and seeds.")


def run_benchmark(args: GueArguments, tasks: list[str], seeds: list[int], command: str) -> str:
    """Run every (task, seed) not yet in --output_dir; write and return the report table."""
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results, settings = open_results(args), run_settings(args)
    with tempfile.TemporaryDirectory(prefix="gue_") as workdir:
        for number, task in enumerate(tasks, start=1):
            for seed in seeds:
                if str(seed) in results.get(task, {}):
                    logger.info("[%d/%d] %s seed %d: already done", number, len(tasks), task, seed)
                    continue
                logger.info("[%d/%d] %s seed %d%s", number, len(tasks), task, seed, " (from scratch)" * args.from_scratch)
                metrics = run_task(args, task, seed, Path(workdir))
                results.setdefault(task, {})[str(seed)] = metrics
                write_reports(results, output_dir, command, settings)  # after every task: an interruption loses little
    return write_reports(results, output_dir, command, settings)


def main(argv=None):
    (args,) = HfArgumentParser(GueArguments).parse_args_into_dataclasses(argv)
    configure_logging()
    command = " ".join(["python benchmarks/gue.py", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    if args.ablation and (args.from_scratch or args.compare_with or args.rc_augment):
        raise ValueError("--ablation runs every side itself: leave out --from_scratch, --compare_with and --rc_augment.")
    check_model(args.model_name_or_path)
    tasks, seeds = selected_tasks(args), [int(s) for s in args.seeds.split(",")]
    output_dir = Path(args.output_dir)
    if args.ablation:
        runs = [dataclasses.replace(args, output_dir=str(output_dir / side), from_scratch=side == "from_scratch",
                                    architecture="cnn" if side == "cnn" else args.architecture, ablation=False,
                                    rc_augment=side == "pretrained_rc_augment")
                for side in ABLATION_SIDES]
    else:
        runs = [args]
    for run in runs:  # every refusal before any training
        open_results(run)
    if args.compare_with:
        check_comparable(args, args.compare_with)
    folders = []
    for run in runs:
        print(run_benchmark(run, tasks, seeds, command))
        folders.append(Path(run.output_dir))
    paths = [path for folder in folders for path in report_paths(folder, "results")]
    if args.ablation or args.compare_with:
        cnn_dir = augmented_dir = None
        if args.ablation:
            pretrained_dir, augmented_dir, scratch_dir, cnn_dir = folders
        elif args.from_scratch:
            pretrained_dir, scratch_dir = Path(args.compare_with), output_dir
        else:
            pretrained_dir, scratch_dir = output_dir, Path(args.compare_with)
        print(write_comparison(pretrained_dir, scratch_dir, output_dir, cnn_dir, augmented_dir))
        paths += report_paths(output_dir, "comparison")
    print("Outputs written:\n" + "\n".join(f"  {path}" for path in paths))


if __name__ == "__main__":
    main()
