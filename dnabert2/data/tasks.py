"""Fine-tuning data: GUE-style CSV folders or Hub datasets -> validated DatasetDict(train, validation, test).

CSV layout (the original DNABERT-2 script's): a header, then ``sequence,label`` or ``sequence1,sequence2,label``
for pairs. Several label columns (``label_0,label_1,...``) make a multi-label task; non-integer labels make a
regression. Every bad row is reported with its file and line.
"""

import csv
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, load_dataset
from transformers import TrainerCallback

from dnabert2.data.alphabet import BaseTally, clean_bases, invalid_characters, reverse_complement
from dnabert2.runtime.errors import InputError

logger = logging.getLogger(__name__)
SPLIT_FILES = {"train": "train.csv", "validation": "dev.csv", "test": "test.csv"}
# The sequence columns a task may have: one sequence, or a pair.
SEQUENCE_LAYOUTS = (("sequence",), ("sequence1", "sequence2"))


def sequence_columns_of(names) -> tuple:
    """The sequence columns among ``names``, in layout order (empty or partial when the layout is not valid)."""
    return tuple(c for layout in SEQUENCE_LAYOUTS for c in layout if c in names)


class TaskDataError(InputError):
    """A fine-tuning file or dataset that cannot be used; the message names the file and row."""


@dataclass
class TaskInfo:
    """What the model head needs to know about a task."""

    problem_type: str  # single_label_classification | multi_label_classification | regression
    num_labels: int
    sequence_columns: tuple
    label_names: list | None = None


def _parse_label(text, path, line, column):
    try:
        value = float(text) if not re.fullmatch(r"-?\d+", text.strip()) else int(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise TaskDataError(
            f"{path}:{line}: label {column!r} is not a number: {text!r} (every row needs a label: "
            "a whole number for classes, any number for regression)."
        )
    return value


def read_csv_split(path, require_labels=True) -> dict:
    """Read and validate one CSV file into columns (sequences upper-cased; labels numbers)."""
    path = Path(path)
    try:
        return _read_csv_columns(path, require_labels)
    except UnicodeDecodeError as error:
        raise TaskDataError(f"{path}: not a text CSV file (binary or not UTF-8 at byte {error.start}).") from None
    except csv.Error as error:  # e.g. NUL bytes
        raise TaskDataError(f"{path}: not a readable CSV file ({error}).") from None


def _read_csv_columns(path: Path, require_labels: bool) -> dict:
    with open(path, newline="", encoding="utf-8-sig") as handle:  # a byte-order mark is not part of the header
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise TaskDataError(f"{path}: empty file.")
        header = [name.strip() for name in header]
        sequence_columns = sequence_columns_of(header)
        if sequence_columns not in SEQUENCE_LAYOUTS:
            hint = " (is it comma-separated?)" if len(header) == 1 and any(c in header[0] for c in "\t;| ") else ""
            raise TaskDataError(
                f"{path}:1: needs a 'sequence' column (or 'sequence1' and 'sequence2'); header is {header}{hint}."
            )
        label_columns = [c for c in header if c not in sequence_columns]
        if require_labels and not label_columns:
            raise TaskDataError(f"{path}: no label column; header is {header}.")
        columns = {name: [] for name in header}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise TaskDataError(f"{path}:{line}: {len(row)} fields, expected {len(header)}.")
            for name, value in zip(header, row):
                if name in sequence_columns:
                    value = clean_bases(value)
                    if not value:
                        raise TaskDataError(f"{path}:{line}: empty {name}.")
                    bad = invalid_characters(value)
                    if bad:
                        raise TaskDataError(f"{path}:{line}: {name} has characters that are not nucleotides: {bad!r}.")
                    columns[name].append(value)
                else:
                    columns[name].append(_parse_label(value, path, line, name))
    if not columns[header[0]]:
        raise TaskDataError(f"{path}: no data rows.")
    return columns


def _is_whole(value) -> bool:
    return float(value).is_integer()


def _class_name(value) -> str:
    """A class's name as the CSV writes it, without a float's '.0' (0.0 and 0 are class "0")."""
    return str(int(value)) if _is_whole(value) else str(value)


def _task_info(splits: dict, problem_type: str | None = None) -> TaskInfo:
    """Single-label classification when every label is a whole number (1, 2 or 1.0, 2.0), its classes the sorted
    values of the training split; regression for other numbers or when ``problem_type`` says so."""
    first = splits["train"]
    sequence_columns = sequence_columns_of(first)
    label_columns = [c for c in first if c not in sequence_columns]
    if len(label_columns) > 1:
        return TaskInfo("multi_label_classification", len(label_columns), sequence_columns, label_columns)
    values = [v for split in splits.values() for v in split[label_columns[0]]]
    if problem_type not in (None, "regression", "single_label_classification"):
        raise TaskDataError(f"--problem_type {problem_type!r}: use 'regression' or 'single_label_classification'.")
    if problem_type == "regression":
        logger.info("Labels: regression (--problem_type regression).")
        return TaskInfo("regression", 1, sequence_columns)
    fractional = next((v for v in values if not _is_whole(v)), None)
    if fractional is not None:
        if problem_type == "single_label_classification":
            raise TaskDataError(
                f"--problem_type single_label_classification, but label {fractional!r} is not a "
                "whole number (classes are written 0, 1, 2, ... or any whole numbers)."
            )
        logger.info(
            "Labels: regression (non-integer labels such as %r; pass --problem_type regression to say so).", fractional
        )
        return TaskInfo("regression", 1, sequence_columns)
    names = [_class_name(v) for v in sorted({float(v) for v in first[label_columns[0]]})]
    logger.info(
        "Labels: classification into %d classes, the CSV's values %s as class ids 0..%d.",
        len(names),
        ", ".join(names),
        len(names) - 1,
    )
    return TaskInfo("single_label_classification", len(names), sequence_columns, names)


def load_csv_task(data_path, problem_type: str | None = None) -> tuple[DatasetDict, TaskInfo]:
    """A GUE-style folder (train.csv, dev.csv, test.csv) as DatasetDict(train, validation, test) with a "labels" column.

    Classes are the distinct labels of train.csv, mapped in sorted order to ids 0..K-1 (``TaskInfo.label_names``
    keeps the CSV's values); a dev or test label that train.csv lacks is an error."""
    folder = Path(data_path)
    if not folder.is_dir():
        raise TaskDataError(f"{folder}: no such folder (expected train.csv, dev.csv, test.csv).")
    splits = {}
    for split, name in SPLIT_FILES.items():
        if (folder / name).exists():
            splits[split] = read_csv_split(folder / name)
    if "train" not in splits:
        raise TaskDataError(f"{folder}: no train.csv; found {sorted(p.name for p in folder.glob('*.csv'))}.")
    headers = {tuple(columns) for columns in splits.values()}
    if len(headers) > 1:
        raise TaskDataError(f"{folder}: the CSV files have different headers: {sorted(headers)}.")
    info = _task_info(splits, problem_type)
    tally = BaseTally()
    for columns in splits.values():
        for name in info.sequence_columns:
            for sequence in columns[name]:
                tally.add(sequence)
    logger.info("%s", tally.report())
    data = DatasetDict()
    for split, columns in splits.items():
        label_columns = [c for c in columns if c not in info.sequence_columns]
        if info.problem_type == "multi_label_classification":
            labels = [[float(v) for v in row] for row in zip(*(columns[c] for c in label_columns))]
        elif info.problem_type == "regression":
            labels = [float(v) for v in columns[label_columns[0]]]
        else:
            ids = {name: i for i, name in enumerate(info.label_names)}
            labels = []
            for line, value in enumerate(columns[label_columns[0]], start=2):
                if _class_name(value) not in ids:
                    raise TaskDataError(
                        f"{folder / SPLIT_FILES[split]}:{line}: label {_class_name(value)!r} does not "
                        f"occur in train.csv, whose classes are {', '.join(info.label_names)} (a class "
                        "the model never trains on cannot be predicted)."
                    )
                labels.append(ids[_class_name(value)])
        data[split] = Dataset.from_dict({**{c: columns[c] for c in info.sequence_columns}, "labels": labels})
    return data, info


def load_hub_task(dataset_name, config_name=None) -> tuple[DatasetDict, TaskInfo]:
    """A Hub dataset (repo id or local folder) with "sequence" (or pairs) and "label" columns."""
    data = load_dataset(dataset_name, config_name)
    if "train" not in data:
        raise TaskDataError(f"{dataset_name} ({config_name}): no train split; splits are {list(data)}.")
    if "label" in data["train"].column_names:
        data = data.rename_column("label", "labels")
    feature = data["train"].features.get("labels")
    sequence_columns = sequence_columns_of(data["train"].column_names)
    if not sequence_columns or feature is None:
        raise TaskDataError(f"{dataset_name} ({config_name}): needs 'sequence' and 'label' columns.")
    if isinstance(feature, ClassLabel):
        info = TaskInfo("single_label_classification", feature.num_classes, sequence_columns, feature.names)
    elif feature.dtype.startswith("float"):
        info = TaskInfo("regression", 1, sequence_columns)
    else:
        info = TaskInfo("single_label_classification", max(data["train"]["labels"]) + 1, sequence_columns)
    return data, info


def tokenize_task(
    data: DatasetDict, info: TaskInfo, tokenizer, max_length: int, both_strands: bool = False, encoder=None
) -> DatasetDict:
    """Tokenize (pairs keep their segment ids), truncating to ``max_length`` tokens.

    ``encoder(columns) -> dict`` replaces the BPE tokenizer when given (e.g. one-hot base codes for the CNN
    baseline); ``columns`` is a list with one list of sequences per sequence column.
    With ``both_strands`` the reverse complement of every sequence is encoded too, into ``rc_input_ids``,
    ``rc_token_type_ids`` and ``rc_attention_mask`` (for ``--rc_augment`` and ``--rc_average``).
    """
    encoder = encoder or (lambda columns: tokenizer(*columns, truncation=True, max_length=max_length))

    def encode(batch, rows):
        texts = [batch[c] for c in info.sequence_columns]
        encoded = dict(encoder(texts))
        if both_strands:
            other = encoder([[reverse_complement(s) for s in column] for column in texts])
            encoded.update({f"rc_{key}": value for key, value in other.items()})
            encoded["rc_key"] = rows  # which example: the strand drawn for it depends on nothing else
        return encoded

    return data.map(
        encode, batched=True, with_indices=True, remove_columns=list(info.sequence_columns), desc="Tokenizing"
    )


def token_lengths(data: DatasetDict, info: TaskInfo, tokenizer) -> np.ndarray:
    """Tokens (special tokens included) that each example of every split takes with ``tokenizer``."""
    lengths = []
    for split in data.values():
        encoded = tokenizer(*[list(split[c]) for c in info.sequence_columns])
        lengths.extend(map(len, encoded["input_ids"]))
    return np.asarray(lengths)


def strand(dataset, reverse: bool):
    """The tokenized forward strand, or (``reverse``) the reverse complements, under the model's input names."""
    dataset = dataset.remove_columns([c for c in dataset.column_names if c == "rc_key"])
    reversed_columns = [c for c in dataset.column_names if c.startswith("rc_")]
    if not reverse:
        return dataset.remove_columns(reversed_columns)
    dataset = dataset.remove_columns([c[3:] for c in reversed_columns])
    return dataset.rename_columns({c: c[3:] for c in reversed_columns})


class RandomStrandCollator:
    """Pads a batch in which each example is its forward strand or, with probability 1/2, its reverse complement
    (``--rc_augment``); examples carry both (``tokenize_task(..., both_strands=True)``).

    The strand is a function of (seed, epoch, the example's ``rc_key``: its row in the split) only, never of a
    random state: DataLoader workers and a resumed run draw what one uninterrupted run draws.
    ``StrandEpochCallback`` sets the epoch.
    """

    def __init__(self, pad_collator, seed: int):
        self.pad_collator = pad_collator
        self.seed = seed
        self.epoch = 0

    def reverse(self, feature) -> bool:
        """Whether this example is read on its reverse strand in the current epoch."""
        return bool(np.random.default_rng([self.seed, self.epoch, int(feature["rc_key"])]).random() < 0.5)

    def __call__(self, features):
        chosen = []
        for feature in features:
            reverse = "rc_input_ids" in feature and self.reverse(feature)  # evaluation data: forward only
            kept = {key: value for key, value in feature.items() if not key.startswith("rc_")}
            if reverse:
                kept.update(
                    {key[3:]: value for key, value in feature.items() if key.startswith("rc_") and key != "rc_key"}
                )
            chosen.append(kept)
        return self.pad_collator(chosen)


class StrandEpochCallback(TrainerCallback):
    """Tells a RandomStrandCollator which epoch starts (also on resume), so strands are drawn anew each epoch."""

    def __init__(self, collator: RandomStrandCollator):
        self.collator = collator

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.collator.epoch = int(state.epoch + 1e-6)
