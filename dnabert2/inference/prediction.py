"""Batch prediction and embedding with a fine-tuned DNABERT-2 (full model or LoRA adapter), grouped by length."""

import itertools
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from dnabert2.data.alphabet import BaseTally, reverse_complement
from dnabert2.data.records import read_records
from dnabert2.data.tasks import read_csv_split, sequence_columns_of
from dnabert2.models import classifier_config, for_inference, pretrained_classifier
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import atomic_output


class UntrainedHeadError(InputError):
    """A model folder without a trained classification head (e.g. a pretrained encoder)."""


def _refuse_untrained_head(model_dir, missing_keys, allow_untrained_head: bool):
    """UntrainedHeadError when the classifier's weights are among ``missing_keys``, unless allowed."""
    if any(key.startswith("classifier.") for key in missing_keys) and not allow_untrained_head:
        raise UntrainedHeadError(
            f"{model_dir} holds no trained classification head (no classifier weights): its predictions would "
            "be random. Fine-tune it first (dnabert2-finetune ... --save_model True), or pass "
            "--allow_untrained_head True."
        )


def load_classifier(
    model_dir, quantize: str | None = None, base_model: str | None = None, allow_untrained_head: bool = False
):
    """A fine-tuned classifier from a saved folder; a LoRA adapter is merged into its base model.

    The base model of an adapter is ``base_model`` if given, else the one recorded in adapter_config.json; its
    load is silent, and what neither it nor the adapter holds is named in one warning.
    A folder whose checkpoint (or adapter) holds no classifier weights (a pretrained encoder) is refused with
    ``UntrainedHeadError``, since its predictions would be random, unless ``allow_untrained_head``.
    ``quantize="int8"`` applies dynamic int8 quantization to the linear layers (CPU inference).
    """
    model_dir = Path(model_dir)
    checkpoints = sorted(
        (p for p in model_dir.glob("checkpoint-*") if p.name.rsplit("-", 1)[-1].isdigit()),
        key=lambda p: int(p.name.rsplit("-", 1)[-1]),
    )
    if model_dir.is_dir() and not (model_dir / "config.json").exists() and checkpoints:
        raise UntrainedHeadError(
            f"{model_dir} holds no saved model, only Trainer checkpoints ({', '.join(p.name for p in checkpoints)}): "
            f"pass --model {checkpoints[-1]}, or fine-tune with --save_model True to save the model itself."
        )
    adapter = model_dir / "adapter_config.json"
    if adapter.exists():
        from peft import PeftModel
        from peft.utils import load_peft_weights
        from transformers.utils import logging as transformers_logging

        base_path = base_model or json.loads(adapter.read_text())["base_model_name_or_path"]
        if not Path(base_path).is_dir() and (Path(base_path).is_absolute() or base_path.startswith(".")):
            raise FileNotFoundError(
                f"{adapter}: the adapter's base model {base_path!r} is not a folder here. Pass the base model's "
                "folder or Hub id with --base_model."
            )
        config = classifier_config(model_dir)
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()  # its load report would list the classifier the adapter holds
        try:
            model, info = pretrained_classifier(base_path, config, output_loading_info=True)
        finally:
            transformers_logging.set_verbosity(verbosity)
        saved = load_peft_weights(str(model_dir))
        missing = [key for key in info["missing_keys"] if not any(name.endswith(f".{key}") for name in saved)]
        _refuse_untrained_head(model_dir, missing, allow_untrained_head)
        if missing:
            warnings.warn(
                f"{model_dir}: neither the adapter nor its base model {base_path} holds "
                f"{', '.join(sorted(missing))}; these weights are newly initialised."
            )
        model = PeftModel.from_pretrained(model, model_dir).merge_and_unload()
    else:
        model, info = pretrained_classifier(model_dir, classifier_config(model_dir), output_loading_info=True)
        _refuse_untrained_head(model_dir, info["missing_keys"], allow_untrained_head)
    model = for_inference(model).eval()  # a model other than DNABERT-2 gets its interface
    if quantize == "int8":
        model = quantize_int8(model)
    elif quantize is not None:
        raise ValueError(f"Unknown quantization {quantize!r}; use 'int8'.")
    return model


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every linear layer (weights int8, activations quantized per call; CPU)."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


@dataclass
class Piece:
    """One input to score: a whole record or CSV row, or a window ``[start, end)`` (bp) of a long record;
    ``index`` is the record's position in the input (names may repeat, indices do not); ``description`` the rest of
    its header after the name."""

    name: str
    sequences: tuple
    start: int = 0
    end: int | None = None
    index: int = 0
    description: str = ""


def iter_inputs(path, fasta=None) -> Iterator[Piece]:
    """Pieces of a CSV (``sequence`` or ``sequence1,sequence2`` columns; read and checked whole), or of the
    records of a FASTA/FASTQ(.gz) file or BED regions of ``fasta`` (``read_records``, one record at a time)."""
    path = Path(path)
    if path.suffix == ".csv":
        columns = read_csv_split(path, require_labels=False)
        keys = sequence_columns_of(columns)
        for row, sequences in enumerate(zip(*(columns[k] for k in keys))):
            yield Piece(str(row), tuple(sequences), 0, len(sequences[0]), row)
        return
    for index, record in enumerate(read_records(path, fasta)):
        yield Piece(record.name, (record.sequence,), 0, len(record.sequence), index, record.description)


def read_inputs(path) -> tuple[list[str], list[tuple]]:
    """Names and sequence tuples of a whole CSV or FASTA file (``iter_inputs`` collected)."""
    pieces = list(iter_inputs(path))
    return [p.name for p in pieces], [p.sequences for p in pieces]


def sliding_windows(pieces: Iterable[Piece], window_bp: int | None, stride_bp: int | None = None) -> Iterator[Piece]:
    """Cut single sequences longer than ``window_bp`` into windows every ``stride_bp`` (default: the window).

    The last window ends at the record's end (it may overlap the one before), so every base is covered.
    Pairs of sequences are never cut. ``window_bp=None`` passes the pieces through whole.
    """
    stride_bp = stride_bp or window_bp
    if window_bp is not None and not 0 < stride_bp <= window_bp:
        raise ValueError(
            f"Windows need 0 < stride <= window (got window {window_bp}, stride {stride_bp}): a larger "
            "stride would leave bases unscored."
        )
    for piece in pieces:
        sequence = piece.sequences[0]
        if window_bp is None or len(piece.sequences) > 1 or len(sequence) <= window_bp:
            yield piece
            continue
        starts = list(range(0, len(sequence) - window_bp, stride_bp)) + [len(sequence) - window_bp]
        for start in dict.fromkeys(starts):
            yield Piece(
                piece.name,
                (sequence[start : start + window_bp],),
                start,
                start + window_bp,
                piece.index,
                piece.description,
            )


class LengthLimit:
    """What to do with inputs over ``max_length`` tokens: "cut" them (counted, and reported by ``report``) or
    "refuse" them (ValueError naming the input). ``max_length=None``: no limit, whole sequences."""

    def __init__(self, max_length: int | None, policy: str = "cut"):
        if policy not in ("cut", "refuse"):
            raise ValueError(f"Long-input policy must be 'cut' or 'refuse', got {policy!r}.")
        self.max_length, self.policy = max_length, policy
        self.cut, self.tokens_dropped = 0, 0

    def apply(self, piece: Piece, ids: list, types: list, count: bool = True) -> tuple[list, list]:
        """The ids and segment ids of ``piece``, cut to ``max_length`` (keeping the final [SEP]) if allowed;
        ``count=False`` for a second view of a piece already counted (its reverse complement)."""
        if self.max_length is None or len(ids) <= self.max_length:
            return ids, types
        if self.policy == "refuse":
            raise ValueError(
                f"{piece.name!r} is {len(ids):,} tokens long, over --max_length {self.max_length:,}. Raise "
                "--max_length, leave it unset (whole sequences), cut with --long_inputs cut, or use --window."
            )
        self.cut += count
        self.tokens_dropped = max(self.tokens_dropped, len(ids) - self.max_length)
        return ids[: self.max_length - 1] + ids[-1:], types[: self.max_length - 1] + types[-1:]

    def report(self) -> str | None:
        """A warning for the cut inputs, or None."""
        if self.cut:
            return (
                f"{self.cut:,} input(s) were longer than --max_length {self.max_length:,} tokens and were cut "
                f"(by up to {self.tokens_dropped:,} tokens): their predictions see only their beginning."
            )
        return None


def token_budget_batches(lengths, max_tokens: int) -> list[list[int]]:
    """Indices grouped longest first so that each padded batch holds at most ``max_tokens`` tokens
    (count x longest); an input longer than the budget goes alone."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, current = [], []
    for index in order:
        if current and (len(current) + 1) * lengths[current[0]] > max_tokens:
            batches.append(current)
            current = []
        current.append(int(index))
    return batches + ([current] if current else [])


class MeanPooling:
    """The sequence embedding of ``DNABert2Model.embed``: the mean of the last hidden state over real tokens."""

    needs_offsets = False

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """One (hidden,) vector per sequence of a batch's encoding (``offsets``: unused)."""
        return list(encoding.mean().float().cpu().numpy())

    def combine_strands(self, forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
        """The embedding of both strands: the mean of the two."""
        return np.mean([forward, reverse], axis=0)


@torch.no_grad()
def predict_stream(
    model,
    tokenizer,
    pieces: Iterable[Piece],
    max_tokens_per_batch: int = 16384,
    limit: LengthLimit | None = None,
    with_embeddings: bool = False,
    chunk: int = 4096,
    progress: bool = True,
    rc_average: bool = False,
    pooling=None,
    tally: BaseTally | None = None,
) -> Iterator[tuple[Piece, np.ndarray, np.ndarray | None]]:
    """(piece, logits, mean-pooled embedding or None) for each piece, in input order, computed as they come.

    Pieces are read ``chunk`` at a time, tokenized whole (or as ``limit`` says), sorted by length and batched by
    a token budget, so memory is bounded by the chunk and the budget, not by the input. With a model without a
    classification head (an encoder), logits are empty. With ``rc_average``, each piece's logits and embedding
    are the mean of those of its sequence(s) and their reverse complement(s): the prediction of both strands.
    ``pooling`` turns a batch's encoding into embeddings (default ``MeanPooling``; see train/inference/embedding.py).
    ``tally`` counts the bases scored, ambiguous ones apart.
    """
    limit = limit or LengthLimit(None)
    pooling = pooling or MeanPooling()
    classifier = hasattr(model, "logits_from")  # else an encoder (DNABert2Model): embeddings only
    device = next(model.parameters()).device
    bar = tqdm(unit="bp", unit_scale=True, desc="Predicting", disable=not progress)
    pieces = iter(pieces)
    while batch_pieces := list(itertools.islice(pieces, chunk)):
        texts = [p.sequences for p in batch_pieces]
        for sequence in (s for t in texts for s in t) if tally is not None else ():
            tally.add(sequence)
        texts += [tuple(map(reverse_complement, t)) for t in texts] if rc_average else []
        encoded = tokenizer(*zip(*texts), return_offsets_mapping=pooling.needs_offsets)
        if rc_average and limit.max_length is not None:
            for i, ids in enumerate(encoded["input_ids"]):
                if len(ids) > limit.max_length and limit.policy == "cut":
                    raise ValueError(
                        f"{batch_pieces[i % len(batch_pieces)].name!r} is over --max_length {limit.max_length} tokens: "
                        "averaging the strands of a cut input would mix two different regions (each strand keeps "
                        "its own beginning). Leave --max_length unset, use --window, or --long_inputs refuse."
                    )
        ids_types = [
            limit.apply(batch_pieces[i % len(batch_pieces)], ids, types, count=i < len(batch_pieces))
            for i, (ids, types) in enumerate(zip(encoded["input_ids"], encoded["token_type_ids"]))
        ]
        results = [None] * len(texts)
        for batch in token_budget_batches([len(ids) for ids, _ in ids_types], max_tokens_per_batch):
            features = tokenizer.pad(
                [{"input_ids": ids_types[i][0], "token_type_ids": ids_types[i][1]} for i in batch], return_tensors="pt"
            ).to(device)
            encoding = (model.bert if classifier else model).encode_packed(**features)
            logits = (
                model.logits_from(encoding).float().cpu().numpy() if classifier else np.zeros((len(batch), 0), "f4")
            )
            offsets = [encoded["offset_mapping"][i] for i in batch] if pooling.needs_offsets else None
            pooled = pooling.pool(encoding, offsets) if with_embeddings else None
            for row, i in enumerate(batch):
                results[i] = (logits[row], None if pooled is None else pooled[row])
        if rc_average:  # forward strand first, then the reverse complements in the same order
            results = [
                (np.mean([a[0], b[0]], axis=0), None if a[1] is None else pooling.combine_strands(a[1], b[1]))
                for a, b in zip(results[: len(batch_pieces)], results[len(batch_pieces) :])
            ]
        for piece, (logits, embedding) in zip(batch_pieces, results):
            bar.update(sum(len(s) for s in piece.sequences))
            yield piece, logits, embedding
    bar.close()


def predict(
    model,
    tokenizer,
    sequences,
    max_tokens_per_batch=16384,
    max_length=None,
    with_embeddings=False,
    progress=True,
    rc_average=False,
):
    """Logits (N, num_labels) in input order and, optionally, mean-pooled embeddings (N, hidden), for a list of
    sequence tuples; whole sequences unless ``max_length`` (then cut, with a warning); both strands averaged with
    ``rc_average``."""
    limit = LengthLimit(max_length)
    sequences = [(s,) if isinstance(s, str) else tuple(s) for s in sequences]  # a plain string is one sequence
    rows = list(
        predict_stream(
            model,
            tokenizer,
            (Piece(str(i), s, index=i) for i, s in enumerate(sequences)),
            max_tokens_per_batch,
            limit,
            with_embeddings,
            progress=progress,
            rc_average=rc_average,
        )
    )
    if limit.report():
        warnings.warn(limit.report())
    logits = np.stack([r[1] for r in rows]) if rows else np.zeros((0, model.config.num_labels), np.float32)
    embeddings = np.stack([r[2] for r in rows]) if with_embeddings and rows else None
    return logits, embeddings


def with_record_means(stream):
    """Pass ``predict_stream`` items through and, after the last window of each record cut in several, add one
    item for the whole record: the mean of its windows' logits (and embeddings), spanning [0, last end). Windows
    belong together by record index, so adjacent records that share a name stay apart."""
    windows = []

    def record_mean():
        first = windows[0][0]
        piece = Piece(first.name, ("",), 0, max(p.end for p, _, _ in windows), first.index)
        embeddings = [e for _, _, e in windows]
        mean_embedding = None if embeddings[0] is None else np.mean(embeddings, axis=0)
        return piece, np.mean([logits for _, logits, _ in windows], axis=0), mean_embedding

    for item in stream:
        if windows and item[0].index != windows[0][0].index:
            if len(windows) > 1:
                yield record_mean()
            windows = []
        windows.append(item)
        yield item
    if len(windows) > 1:
        yield record_mean()


def embed_long_sequence(
    encoder,
    tokenizer,
    sequence: str,
    window_bp: int | None = None,
    stride_bp: int | None = None,
    max_tokens_per_batch: int = 16384,
    rc_average: bool = False,
):
    """Mean-pooled embeddings of one sequence of any length: whole (``window_bp=None``), or per window of
    ``window_bp`` every ``stride_bp``; with ``rc_average`` the mean of both strands' embeddings.
    Returns (starts, ends, embeddings of shape (windows, hidden))."""
    pieces = sliding_windows([Piece("sequence", (sequence,), 0, len(sequence))], window_bp, stride_bp)
    rows = list(
        predict_stream(
            encoder,
            tokenizer,
            pieces,
            max_tokens_per_batch,
            with_embeddings=True,
            progress=False,
            rc_average=rc_average,
        )
    )
    return [p.start for p, _, _ in rows], [p.end for p, _, _ in rows], np.stack([e for _, _, e in rows])


class NpyRowWriter:
    """Rows of float32 appended to a .npy file as they come; the header's row count is written on ``close``.

    The rows go to a temporary file that becomes ``path`` on ``close``; used as a context manager, an error inside
    the block removes it, so a half-written .npy never looks finished."""

    HEADER_BYTES = 128  # magic, version, length, then the header dict padded with spaces

    def __init__(self, path):
        self._output = atomic_output(path)
        self.handle = open(self._output.__enter__(), "wb")
        self.handle.write(b"\0" * self.HEADER_BYTES)
        self.rows, self.width = 0, None

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is None:
            self.close()
        else:
            self.handle.close()
            self._output.__exit__(kind, error, traceback)

    def write(self, row: np.ndarray):
        """Append one row (all rows have the width of the first)."""
        row = np.ascontiguousarray(row, dtype="<f4")
        if self.width is None:
            self.width = row.shape[0]
        self.handle.write(row.tobytes())
        self.rows += 1

    def close(self):
        """Write the header for the rows written and close the file."""
        header = repr({"descr": "<f4", "fortran_order": False, "shape": (self.rows, self.width or 0)})
        header = header.encode("latin1").ljust(self.HEADER_BYTES - 10 - 1) + b"\n"
        self.handle.seek(0)
        self.handle.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
        self.handle.close()
        self._output.__exit__(None, None, None)


def label_names(config) -> list[str]:
    """Class names from the config (the fine-tuning CSV's labels), in class order."""
    return [str(config.id2label[i]) for i in range(config.num_labels)]


def outputs_of(logits: np.ndarray, config) -> np.ndarray:
    """What a head's logits mean, along the last axis: the value (regression), per-label sigmoids (multi-label) or
    class probabilities (softmax)."""
    if config.problem_type == "regression":
        return logits
    if config.problem_type == "multi_label_classification":
        return 1 / (1 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def predicted_label(values: np.ndarray, config) -> str:
    """A classifier's prediction from its outputs (``outputs_of``): the labels over 0.5 joined by ';'
    (multi-label) or the most probable class."""
    names = label_names(config)
    if config.problem_type == "multi_label_classification":
        return ";".join(n for n, p in zip(names, values) if p > 0.5)
    return names[int(values.argmax())]


def prediction_row(piece: Piece, logits: np.ndarray, config) -> list:
    """One output row: name, start, end, the prediction and per-class probabilities (or the regressed value)."""
    return [piece.name, piece.start, piece.end] + output_cells(outputs_of(logits, config), config)


def output_cells(values: np.ndarray, config) -> list:
    """The CSV cells of a head's outputs (``outputs_of``): the regressed value, or the prediction and each class's
    probability; one formatting for streamed and merged outputs."""
    if config.problem_type == "regression":
        return [f"{float(values[0]):.6g}"]
    return [predicted_label(values, config)] + [f"{p:.6f}" for p in values]


def stored_outputs(row: dict, config) -> np.ndarray:
    """A head's outputs back from a row of ``prediction_columns`` (a Parquet part)."""
    if config.problem_type == "regression":
        return np.array([row["prediction"]])
    return np.array([row[f"prob_{name}"] for name in label_names(config)])


def prediction_columns(logits: list[np.ndarray], config) -> dict:
    """Columns of predictions as values (for Parquet): ``prediction`` (the regressed value or the label) and, for
    classifiers, ``prob_<label>`` per class."""
    values = [outputs_of(row, config) for row in logits]
    if config.problem_type == "regression":
        return {"prediction": [float(v[0]) for v in values]}
    columns = {"prediction": [predicted_label(v, config) for v in values]}
    return columns | {f"prob_{name}": [float(v[k]) for v in values] for k, name in enumerate(label_names(config))}


def prediction_header(config) -> list[str]:
    """The CSV header matching ``prediction_row``."""
    if config.problem_type == "regression":
        return ["name", "start", "end", "prediction"]
    return ["name", "start", "end", "prediction"] + [f"prob_{name}" for name in label_names(config)]
