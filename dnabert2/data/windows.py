"""Pretraining data: FASTA / text / CSV files -> held-out split -> token windows (cached).

Held-out data, two ways that can be combined:
- whole files (``validation_species``: globs on file names, or ``validation_files``): genomes never seen in training;
- whole records of the remaining files, by a hash of file and record name (``validation_split_percentage``).
  Records of aligned genomes (human/chimp/gorilla/orangutan chr22 blocks, the six Drosophila chr4, E. coli strains)
  have near-identical twins in other files, so a held-out record is not unseen data there: hold out by file.
"""

import fnmatch
import hashlib
import json
import os
from pathlib import Path

from datasets import Dataset, DatasetDict, Features, IterableDataset, Value, concatenate_datasets, load_dataset

from dnabert2.data.fasta import expand_paths, read_segments
from dnabert2.runtime.errors import InputError

# Sequence is tokenized in pieces of this many bp before being cut into windows of max_seq_length tokens.
PIECE_BP = 20_000
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")
MIN_SEGMENT_BP = 10
TOKENIZE_BATCH = 64


def _fasta_pieces(paths, split, held_out_percent):
    which = "held_out" if split == "validation" else "train"
    for segment in read_segments(paths, which, held_out_percent, min_length=MIN_SEGMENT_BP):
        for start in range(0, len(segment), PIECE_BP):
            yield {"sequence": segment[start : start + PIECE_BP]}


def split_files(paths, validation_species) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): files whose name matches a ``validation_species`` glob are held out whole."""
    held = [p for p in paths if any(fnmatch.fnmatch(p.name, pattern) for pattern in validation_species)]
    for pattern in validation_species:
        if not any(fnmatch.fnmatch(p.name, pattern) for p in paths):
            raise InputError(
                f"--validation_species {pattern!r} matches none of the {len(paths)} training files "
                f"(e.g. {paths[0].name!r}); patterns are globs on file names."
            )
    return [p for p in paths if p not in held], held


class EmptySplitError(InputError):
    """A training or held-out split with no sequence; the message names the flags that decide the split."""


def _empty_split_error(split: str, paths, percent: float) -> EmptySplitError:
    files = ", ".join(p.name for p in paths[:3]) + (", ..." if len(paths) > 3 else "")
    if split == "train":
        return EmptySplitError(
            f"No training sequence in {files}: no record with an A/C/G/T run of {MIN_SEGMENT_BP}+ bp outside "
            "the held-out data (--validation_species, --validation_split_percentage)."
        )
    return EmptySplitError(
        f"No held-out sequence: with --validation_split_percentage {percent} no record of {files} is held out "
        "(records are held out whole, by name hash). Raise --validation_split_percentage, or pass "
        "--validation_file or --validation_species."
    )


def _fasta_split(paths, split: str, percent: float, cache_dir, streaming: bool = False):
    """One split of FASTA pieces: a cached ``Dataset``, or with ``streaming`` an ``IterableDataset`` (one per file)."""
    gen_kwargs = {"paths": paths, "split": split, "held_out_percent": percent}
    features = Features({"sequence": Value("string")})
    if streaming:
        stream = IterableDataset.from_generator(_fasta_pieces, features=features, gen_kwargs=gen_kwargs)
        if next(iter(stream), None) is None:
            raise _empty_split_error(split, paths, percent)
        return stream
    # the cache key covers the files' paths and modification times, the split and the percentage
    signature = [[str(p.resolve()), os.path.getmtime(p)] for p in paths] + [split, percent, PIECE_BP]
    try:
        return Dataset.from_generator(
            _fasta_pieces,
            gen_kwargs=gen_kwargs,
            features=features,
            cache_dir=cache_dir,
            config_name=hashlib.sha1(json.dumps(signature).encode()).hexdigest()[:16],
        )
    except ValueError as error:  # datasets: 'Instruction "train" corresponds to no data!'
        if "corresponds to no data" not in str(error):
            raise
        raise _empty_split_error(split, paths, percent) from None


def load_fasta_sequences(
    train_files,
    validation_files=None,
    validation_species=(),
    validation_split_percentage=5.0,
    cache_dir=None,
    streaming=False,
) -> DatasetDict:
    """Raw FASTA sequences as a DatasetDict(train, validation) with one "sequence" column (pieces of <= PIECE_BP).

    With ``streaming`` the training split is an ``IterableDataset`` read from the files as it is consumed (memory
    and disk stay flat whatever the corpus size); the held-out split is always a cached ``Dataset``.

    Validation = every record of ``validation_files`` + the files of ``train_files`` matching ``validation_species``
    + records of the remaining training files held out by name hash (``validation_split_percentage``).
    Raises ``EmptySplitError``, naming the flags to change, when either split would be empty.
    """
    train_paths, held_paths = split_files(expand_paths(train_files), validation_species or ())
    held_paths += expand_paths(validation_files) if validation_files else []
    held_out = {p.resolve() for p in held_paths}
    train_paths = [p for p in train_paths if p.resolve() not in held_out]  # a validation file is never trained on
    percent = validation_split_percentage or 0.0
    if not train_paths:
        raise EmptySplitError("Every training file matches --validation_species: nothing is left to train on.")
    train = _fasta_split(train_paths, "train", percent, cache_dir, streaming)
    validation = [_fasta_split(held_paths, "validation", 100.0, cache_dir)] if held_paths else []
    if percent > 0 or not held_paths:
        try:
            validation.append(_fasta_split(train_paths, "validation", percent, cache_dir))
        except EmptySplitError:
            if not held_paths:
                raise
    return DatasetDict(
        train=train, validation=concatenate_datasets(validation) if len(validation) > 1 else validation[0]
    )


def load_sequences(
    train_files,
    validation_files=None,
    validation_species=(),
    validation_split_percentage=5.0,
    cache_dir=None,
    streaming=False,
) -> DatasetDict:
    """Raw sequences as a DatasetDict(train, validation) with one "sequence" column.

    FASTA(.gz) files and globs go through ``load_fasta_sequences``. Text files (one sequence a line) and CSV files
    (a "sequence" column) are read with ``datasets`` and split by rows.
    """
    paths = expand_paths(train_files)
    if all(str(p).endswith(FASTA_SUFFIXES) for p in paths):
        return load_fasta_sequences(
            train_files, validation_files, validation_species, validation_split_percentage, cache_dir, streaming
        )
    if validation_species:
        raise InputError("--validation_species holds out FASTA files; with text/CSV input use --validation_file.")
    if streaming:
        raise InputError("--streaming reads FASTA files; text/CSV input is loaded into the cache.")
    kind = "csv" if str(paths[0]).endswith(".csv") else "text"
    files = {"train": [str(p) for p in paths]}
    if validation_files:
        files["validation"] = [str(p) for p in expand_paths(validation_files)]
    data = load_dataset(kind, data_files=files, cache_dir=cache_dir)
    if kind == "text":
        data = data.rename_column("text", "sequence")
    if "validation" not in data:
        return held_out_rows(data["train"], validation_split_percentage)
    return data


def held_out_rows(sequences: Dataset, validation_split_percentage: float) -> DatasetDict:
    """DatasetDict(train, validation) with ``validation_split_percentage`` of the rows held out (a seeded draw)."""
    if not validation_split_percentage:
        raise EmptySplitError("No held-out data: pass --validation_file, or a --validation_split_percentage above 0.")
    data = sequences.train_test_split(test_size=validation_split_percentage / 100, seed=0)
    return DatasetDict(train=data["train"], validation=data["test"])


def tokenize_windows(data: DatasetDict, tokenizer, max_seq_length: int, num_proc=None) -> DatasetDict:
    """Tokenize sequences and cut the ids into windows of at most ``max_seq_length`` tokens ([CLS] ... [SEP])."""
    body = max_seq_length - 2

    def windows(batch):
        ids = tokenizer(batch["sequence"], add_special_tokens=False, verbose=False)["input_ids"]
        out = []
        for sequence_ids in ids:
            for start in range(0, len(sequence_ids), body):
                piece = sequence_ids[start : start + body]
                if len(piece) >= 8:
                    out.append([tokenizer.cls_token_id] + piece + [tokenizer.sep_token_id])
        return {"input_ids": out}

    # batches of TOKENIZE_BATCH pieces (<= 1.3 Mbp): the token lists of one batch are what peak memory holds
    def cut(split, dataset):
        if isinstance(dataset, IterableDataset):  # tokenized as it is read
            return dataset.map(windows, batched=True, batch_size=TOKENIZE_BATCH, remove_columns=["sequence"])
        return dataset.map(
            windows,
            batched=True,
            batch_size=TOKENIZE_BATCH,
            num_proc=num_proc,
            remove_columns=dataset.column_names,
            desc=f"Tokenizing the {split} split into windows of {max_seq_length} tokens",
        )

    return DatasetDict({split: cut(split, dataset) for split, dataset in data.items()})
