"""Fine-tune and evaluate a DNABERT-2 model on GUE tasks with the paper's per-task settings; write a table and plot.

Main job of the README. With nothing but the repository it runs the embedded default task (species of origin of
100-bp fragments, from benchmarks/data) with the shipped model:

    python benchmarks/gue.py

With GUE (folder in the official layout, or a dataset built by train/build_gue_dataset.py, local or on the Hub):

    python benchmarks/gue.py --gue_dir ../shared/data/GUE                      # every complete task
    python benchmarks/gue.py --gue_dir ../shared/data/GUE --tasks tf_0,mouse_0 --seeds 1,2,3

Results go to --output_dir (results.json, results.csv, results.md, results.png). Finished (task, seed) pairs found
in results.json are not rerun.
"""

import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from transformers import HfArgumentParser

from dnabert2 import packaged
from dnabert2.train.default_task import write_species_task
from dnabert2.train.finetuning import DataArguments, FinetuneTrainingArguments, ModelArguments, configure_logging, run_finetune
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


@dataclass
class GueArguments:
    model_name_or_path: str = field(default=str(packaged("model")), metadata={"help": "Model to test (default: shipped)."})
    gue_dir: str | None = field(default=None, metadata={"help": "GUE root in the official CSV layout."})
    dataset_name: str | None = field(default=None, metadata={"help": "GUE as a Hub dataset (repo id or folder)."})
    tasks: str = field(default="complete", metadata={"help": "'complete', 'all' or comma-separated config names."})
    seeds: str = field(default="42")
    output_dir: str = field(default="outputs/gue")
    use_lora: bool = field(default=False)
    learning_rate: float = field(default=3e-5)
    batch_size: int = field(default=32)
    max_steps: int | None = field(default=None, metadata={"help": "Cap on steps per task (for CPU budgets)."})
    epochs_scale: float = field(default=1.0, metadata={"help": "Multiply the paper's epochs (e.g. 0.5)."})


def settings_for(config_name):
    """(model_max_length, epochs, max_steps) of the paper for a task."""
    for prefix, values in TASK_SETTINGS:
        if config_name.startswith(prefix):
            return values
    raise ValueError(f"No paper settings for task {config_name!r}.")


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


def run_task(args: GueArguments, task: str, seed: int, workdir: Path) -> dict:
    """Fine-tune on one task with one seed; returns the test metrics."""
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
    )
    model = ModelArguments(model_name_or_path=args.model_name_or_path, use_lora=args.use_lora)
    metrics = run_finetune(model, data, training)
    shutil.rmtree(training.output_dir, ignore_errors=True)
    return metrics


def family_of(task):
    return next((label for label, prefix, _ in FAMILIES if task.startswith(prefix)), None)


def summarize(results: dict) -> tuple[list, list]:
    """Per-task rows (task, family, score in %, seeds) and per-family rows (family, ours, paper, tasks)."""
    rows = []
    for task, by_seed in sorted(results.items()):
        key = "eval_f1" if task.startswith("virus_") else "eval_matthews_correlation"
        scores = [100 * metrics[key] for metrics in by_seed.values()]
        rows.append((task, family_of(task) or "-", sum(scores) / len(scores), len(scores)))
    families = []
    for label, _, paper in FAMILIES:
        scores = [score for task, family, score, _ in rows if family == label]
        if scores:
            families.append((label, sum(scores) / len(scores), paper, len(scores)))
    return rows, families


def write_reports(results: dict, output_dir: Path, command: str) -> str:
    """Write results.json/.csv/.md and results.png; returns the markdown table."""
    rows, families = summarize(results)
    (output_dir / "results.json").write_text(json.dumps({"command": command, "results": results}, indent=2))
    with open(output_dir / "results.csv", "w") as handle:
        handle.write("task,family,score,seeds\n")
        handle.writelines(f"{task},{family},{score:.2f},{seeds}\n" for task, family, score, seeds in rows)
    lines = [
        f"Command: `{command}`",
        "",
        "| task | family | MCC x100 (F1 for covid) | seeds |",
        "|---|---|---|---|",
        *[f"| {task} | {family} | {score:.2f} | {seeds} |" for task, family, score, seeds in rows],
    ]
    if rows:
        lines += ["", f"Average over {len(rows)} tasks: {sum(r[2] for r in rows) / len(rows):.2f}"]
    if families:
        lines += ["", "| family | ours | DNABERT-2 (paper) | tasks here |", "|---|---|---|---|"]
        lines += [f"| {label} | {ours:.2f} | {paper:.2f} | {n} |" for label, ours, paper, n in families]
    table = "\n".join(lines) + "\n"
    (output_dir / "results.md").write_text(table)
    plot(rows, families, output_dir / "results.png")
    return table


def plot(rows, families, path):
    """Bar chart of per-task scores, and of family averages next to the paper's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 1.4]})
    axes[0].bar([r[0] for r in rows], [r[2] for r in rows], color="tab:blue")
    axes[0].set_ylabel("MCC x100 (F1 for covid)")
    axes[0].set_title("Per task (test split)")
    axes[0].tick_params(axis="x", rotation=60)
    if families:
        x = range(len(families))
        axes[1].bar([i - 0.2 for i in x], [f[1] for f in families], width=0.4, label="this run")
        axes[1].bar([i + 0.2 for i in x], [f[2] for f in families], width=0.4, label="DNABERT-2 117M (paper)")
        axes[1].set_xticks(list(x), [f[0] for f in families])
        axes[1].legend(fontsize=8)
        axes[1].set_title("Family averages")
    else:
        axes[1].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    (args,) = HfArgumentParser(GueArguments).parse_args_into_dataclasses(argv)
    configure_logging()
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    results_file = output_dir / "results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else {}
    command = "python benchmarks/gue.py " + " ".join(sys.argv[1:] if argv is None else argv)
    tasks, seeds = selected_tasks(args), [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="gue_") as workdir:
        for number, task in enumerate(tasks, start=1):
            for seed in seeds:
                if str(seed) in results.get(task, {}):
                    logger.info("[%d/%d] %s seed %d: already done", number, len(tasks), task, seed)
                    continue
                logger.info("[%d/%d] %s seed %d", number, len(tasks), task, seed)
                metrics = run_task(args, task, seed, Path(workdir))
                results.setdefault(task, {})[str(seed)] = metrics
                write_reports(results, output_dir, command)  # after every task: an interruption loses little
    print(write_reports(results, output_dir, command))


if __name__ == "__main__":
    main()
