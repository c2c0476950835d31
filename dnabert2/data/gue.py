"""GUE (Genome Understanding Evaluation) as a Hub dataset: one config per task, splits train/validation/test.

Config names: ``<family>_<task>`` (``EMP_H3``, ``mouse_0``, ``tf_4``, ``splice_reconstructed``, ``virus_covid``),
except the promoter tasks, whose folder names already carry the family (``prom_300_all``, ``prom_core_tata``).
"""

from dataclasses import dataclass
from pathlib import Path

import yaml
from datasets import ClassLabel, Dataset, Features, Value, concatenate_datasets, get_dataset_config_names, load_dataset

from dnabert2.data.tasks import SPLIT_FILES, read_csv_split
from dnabert2.hub.cards import CITATION_SECTION
from dnabert2.runtime.errors import InputError

FAMILY_INFO = {
    "EMP": (
        "Epigenetic marks prediction (yeast): does the nucleosome-bound sequence carry the histone mark?",
        ["no_mark", "mark"],
    ),
    "mouse": ("Transcription factor binding site prediction on mouse ChIP-seq peaks.", ["non_binding", "binding"]),
    "prom": ("Human promoter detection (core: 70 bp around the TSS; 300: -249..+50 bp).", ["non_promoter", "promoter"]),
    "splice": ("Splice site prediction (human): donor, acceptor or neither, coded 0-2 as in the GUE CSVs.", None),
    "tf": ("Transcription factor binding site prediction on human ChIP-seq peaks.", ["non_binding", "binding"]),
    "virus": ("SARS-CoV-2 variant classification of 1,000-bp fragments (9 variants).", None),
}


@dataclass
class GueTask:
    """One task folder of a GUE tree."""

    family: str
    name: str
    folder: Path

    @property
    def config_name(self) -> str:
        return self.name if self.name.startswith(self.family + "_") else f"{self.family}_{self.name}"

    @property
    def missing(self) -> list[str]:
        return [name for name in SPLIT_FILES.values() if not (self.folder / name).exists()]

    @property
    def complete(self) -> bool:
        return not self.missing


LAYOUT = "<family>/<task>/{train,dev,test}.csv, e.g. tf/0/train.csv"


def _task_folders(root: Path, pattern: str) -> list[Path]:
    return [f for f in root.glob(pattern) if f.is_dir() and any((f / name).exists() for name in SPLIT_FILES.values())]


def find_tasks(gue_root) -> list[GueTask]:
    """Every task folder (holding at least one split CSV) of a GUE tree, sorted by config name.

    Raises a clear error, with a hint where it can tell, when the folder holds no task in the GUE layout.
    """
    root = Path(gue_root)
    if not root.is_dir():
        raise InputError(f"{root}: no GUE folder here (expected {LAYOUT}).")
    tasks = [GueTask(folder.parent.name, folder.name, folder) for folder in _task_folders(root, "*/*")]
    if not tasks:
        if _task_folders(root.parent, root.name):
            hint = " It looks like one task folder: pass the GUE root, two levels up."
        elif _task_folders(root, "*"):
            hint = " It looks like one family folder: pass its parent."
        elif _task_folders(root, "*/*/*"):
            hint = f" The tasks lie one level deeper: pass {_task_folders(root, '*/*/*')[0].parent.parent}."
        else:
            hint = ""
        raise InputError(f"{root}: no GUE task folders here (expected {LAYOUT}).{hint}")
    return sorted(tasks, key=lambda task: task.config_name)


def resolve_task(gue_root, config_name: str) -> GueTask:
    """The task of a config name; a clear error listing the known names otherwise."""
    tasks = {task.config_name: task for task in find_tasks(gue_root)}
    if config_name not in tasks:
        raise InputError(f"Unknown GUE task {config_name!r}; known tasks: {', '.join(tasks)}.")
    return tasks[config_name]


def training_sequences(gue_dir: str | None = None, dataset_name: str | None = None) -> tuple[Dataset, list[str]]:
    """The ``sequence`` column of every GUE task's training split, and the tasks it came from: the data of further
    MLM pretraining (the paper's DNABERT-2 with a diamond). Dev and test splits are never read: from a folder only
    files named train.csv, from a Hub dataset (or its local folder) only splits named "train"."""
    parts, tasks = [], []
    if gue_dir:
        for task in find_tasks(gue_dir):
            file = task.folder / SPLIT_FILES["train"]
            if not file.exists():
                continue
            assert file.name == "train.csv", file  # the only split further pretraining may see
            parts.append(Dataset.from_dict({"sequence": read_csv_split(file)["sequence"]}))
            tasks.append(task.config_name)
    elif dataset_name:
        for config in get_dataset_config_names(dataset_name):
            splits = load_dataset(dataset_name, config)
            if "train" in splits:
                parts.append(splits["train"].select_columns(["sequence"]))
                tasks.append(config)
    if not parts:
        raise InputError(f"{gue_dir or dataset_name}: no GUE task with a training split.")
    return concatenate_datasets(parts), tasks


def _features(task: GueTask, num_labels: int) -> Features:
    names = FAMILY_INFO.get(task.family, ("", None))[1]
    if names is None or len(names) != num_labels:
        names = [f"class_{i}" for i in range(num_labels)]
    return Features({"sequence": Value("string"), "label": ClassLabel(names=names)})


def build_gue_dataset(gue_root, output_dir, progress=print) -> dict:
    """Write a Hub dataset folder (parquet per task and split + README card); returns {config: {split: rows}}."""
    tasks = find_tasks(gue_root)  # a folder in another layout fails here, before anything is written
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    configs, sizes, notes = [], {}, []
    for task in tasks:
        splits = {
            split: read_csv_split(task.folder / name)
            for split, name in SPLIT_FILES.items()
            if (task.folder / name).exists()
        }
        num_labels = max(max(columns["label"]) for columns in splits.values()) + 1
        features = _features(task, num_labels)
        data_files = []
        for split, columns in splits.items():
            path = f"{task.config_name}/{split}.parquet"
            (output_dir / task.config_name).mkdir(exist_ok=True)
            Dataset.from_dict(
                {"sequence": columns["sequence"], "label": columns["label"]}, features=features
            ).to_parquet(output_dir / path)
            data_files.append({"split": split, "path": path})
        configs.append({"config_name": task.config_name, "data_files": data_files})
        sizes[task.config_name] = {split: len(columns["sequence"]) for split, columns in splits.items()}
        if task.missing:
            notes.append(f"{task.config_name}: missing {', '.join(task.missing)}")
            progress(f"WARNING {task.config_name}: missing {', '.join(task.missing)} (built with the splits present)")
        else:
            progress(f"{task.config_name}: {sizes[task.config_name]}")
    (output_dir / "README.md").write_text(dataset_card(configs, sizes, notes))
    return sizes


def dataset_card(configs, sizes, notes) -> str:
    """README.md of the dataset repo: YAML configs, task descriptions, sizes, label meaning, citation, licence."""
    metadata = {
        "license": "other",
        "pretty_name": "GUE: Genome Understanding Evaluation",
        "task_categories": ["text-classification"],
        "tags": ["biology", "genomics", "dna", "benchmark"],
        "configs": configs,
    }
    lines = [
        "---",
        yaml.safe_dump(metadata, sort_keys=False).rstrip(),
        "---",
        "",
        "# GUE: Genome Understanding Evaluation",
        "",
    ]
    lines += [
        "The benchmark of DNABERT-2 (Zhou et al., ICLR 2024): 28 sequence classification tasks over yeast, mouse, "
        "human and",
        'virus genomes. Load one task with `load_dataset(<this repo or folder>, "tf_0")`; '
        "splits are train / validation",
        "(the original dev.csv) / test. Columns: `sequence` (upper-case DNA), `label` (ClassLabel).",
        "",
        "## Task families and labels",
        "",
        "| family | description | labels |",
        "|---|---|---|",
    ]
    for family, (description, names) in FAMILY_INFO.items():
        labels = ", ".join(f"{i} = {n}" for i, n in enumerate(names)) if names else "as coded in the CSVs"
        lines.append(f"| {family} | {description} | {labels} |")
    lines += ["", "## Tasks and sizes", "", "| config | train | validation | test |", "|---|---|---|---|"]
    for name, counts in sizes.items():
        lines.append(
            f"| {name} | {counts.get('train', '-')} | {counts.get('validation', '-')} | {counts.get('test', '-')} |"
        )
    if notes:
        lines += ["", "Incomplete tasks (built from the files present):", ""] + [f"- {note}" for note in notes]
    lines += [
        "",
        "## Licence",
        "",
        "GUE was assembled by the DNABERT-2 authors from public sources (ENCODE, EPD, Ensembl, GISAID, "
        "yeast EMP data);",
        "the terms of those sources apply. Cite the paper below when using it.",
        *CITATION_SECTION,
    ]
    return "\n".join(lines)
