"""Pretraining data: FASTA / text / CSV files -> held-out split by whole records -> token windows (cached)."""

import hashlib
import json
import os

from datasets import Dataset, DatasetDict, Features, Value, load_dataset

from train.fasta import acgt_segments, expand_paths, is_held_out, read_fasta

# Sequence is tokenized in pieces of this many bp before being cut into windows of max_seq_length tokens.
PIECE_BP = 20_000
FASTA_SUFFIXES = (".fa", ".fasta", ".fna", ".fa.gz", ".fasta.gz", ".fna.gz")


def _fasta_pieces(paths, split, held_out_percent):
    for path in paths:
        for record in read_fasta(path):
            if is_held_out(path.name, record.name, held_out_percent) != (split == "validation"):
                continue
            for segment in acgt_segments(record.sequence, min_length=10):
                for start in range(0, len(segment), PIECE_BP):
                    yield {"sequence": segment[start : start + PIECE_BP]}


def load_sequences(train_files, validation_files=None, validation_split_percentage=5.0, cache_dir=None) -> DatasetDict:
    """Raw sequences as a DatasetDict(train, validation) with one "sequence" column.

    FASTA(.gz) files and globs are read record by record; without validation files, records whose name hash falls
    in ``validation_split_percentage`` are held out whole. Text files (one sequence a line) and CSV files (a
    "sequence" column) are read with ``datasets``.
    """
    paths = expand_paths(train_files)
    if all(str(p).endswith(FASTA_SUFFIXES) for p in paths):
        def build(split, files, percent):
            # the cache key covers the files' paths and modification times, the split and the percentage
            signature = [[str(p.resolve()), os.path.getmtime(p)] for p in files] + [split, percent, PIECE_BP]
            return Dataset.from_generator(
                _fasta_pieces,
                gen_kwargs={"paths": files, "split": split, "held_out_percent": percent},
                features=Features({"sequence": Value("string")}),
                cache_dir=cache_dir,
                config_name=hashlib.sha1(json.dumps(signature).encode()).hexdigest()[:16],
            )

        if validation_files:
            # every record of the validation files is "held out" at 100 %
            data = DatasetDict(train=build("train", paths, 0.0), validation=build("validation", expand_paths(validation_files), 100.0))
        else:
            data = DatasetDict(
                train=build("train", paths, validation_split_percentage),
                validation=build("validation", paths, validation_split_percentage),
            )
        for split, dataset in data.items():
            if len(dataset) == 0:
                raise ValueError(
                    f"No {split} sequence: whole records are held out by name hash ({validation_split_percentage}% of "
                    "records). With few records, raise --validation_split_percentage or pass --validation_file."
                )
        return data
    kind = "csv" if str(paths[0]).endswith(".csv") else "text"
    files = {"train": [str(p) for p in paths]}
    if validation_files:
        files["validation"] = [str(p) for p in expand_paths(validation_files)]
    data = load_dataset(kind, data_files=files, cache_dir=cache_dir)
    if kind == "text":
        data = data.rename_column("text", "sequence")
    if "validation" not in data:
        data = data["train"].train_test_split(test_size=validation_split_percentage / 100, seed=0)
        data = DatasetDict(train=data["train"], validation=data["test"])
    return data


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

    return data.map(
        windows,
        batched=True,
        num_proc=num_proc,
        remove_columns=data["train"].column_names,
        desc=f"Tokenizing into windows of {max_seq_length} tokens",
    )
