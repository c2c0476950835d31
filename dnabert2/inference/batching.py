"""The compute core of embed and predict: pieces tokenized in chunks (in a background thread, so reading and
tokenizing overlap the model's forward passes), grouped by a token budget, run through the encoder (and head)."""

import itertools
import queue
import threading
from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from dnabert2.data.alphabet import BaseTally, reverse_complement
from dnabert2.inference.inputs import Piece
from dnabert2.inference.pooling import MeanPooling
from dnabert2.runtime.errors import InputError


class LengthLimit:
    """What to do with inputs over ``max_length`` tokens: "cut" them (counted, and reported by ``report``) or
    "refuse" them (InputError naming the input). ``max_length=None``: no limit, whole sequences."""

    def __init__(self, max_length: int | None, policy: str = "cut"):
        if policy not in ("cut", "refuse"):
            raise InputError(f"Long-input policy must be 'cut' or 'refuse', got {policy!r}.")
        self.max_length, self.policy = max_length, policy
        self.cut, self.tokens_dropped = 0, 0

    def apply(self, piece: Piece, ids: list, types: list, count: bool = True) -> tuple[list, list]:
        """The ids and segment ids of ``piece``, cut to ``max_length`` (keeping the final [SEP]) if allowed;
        ``count=False`` for a second view of a piece already counted (its reverse complement)."""
        if self.max_length is None or len(ids) <= self.max_length:
            return ids, types
        if self.policy == "refuse":
            raise InputError(
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


def prefetched(items: Iterable, depth: int = 1) -> Iterator:
    """``items`` produced in a background thread, at most ``depth`` ahead of the consumer; an exception raised
    while producing is raised in the consumer, at the item where it happened."""
    done, slots = object(), queue.Queue(maxsize=depth)

    def produce():
        try:
            for item in items:
                slots.put((item, None))
        except BaseException as error:  # handed to the consumer, which raises it
            slots.put((None, error))
        slots.put((done, None))

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item, error = slots.get()
        if error is not None:
            raise error
        if item is done:
            return
        yield item


def _tokenized_chunks(pieces, tokenizer, chunk: int, limit: "LengthLimit", rc_average: bool, offsets: bool, tally):
    """(pieces, token ids and segment ids per text, offsets or None) for each chunk of ``chunk`` pieces; with
    ``rc_average`` the reverse complements follow the pieces' own texts, in the same order."""
    pieces = iter(pieces)
    while batch_pieces := list(itertools.islice(pieces, chunk)):
        texts = [p.sequences for p in batch_pieces]
        for sequence in (s for t in texts for s in t) if tally is not None else ():
            tally.add(sequence)
        texts += [tuple(map(reverse_complement, t)) for t in texts] if rc_average else []
        encoded = tokenizer(*zip(*texts), return_offsets_mapping=offsets)
        if rc_average and limit.max_length is not None and limit.policy == "cut":
            for i, ids in enumerate(encoded["input_ids"]):
                if len(ids) > limit.max_length:
                    raise InputError(
                        f"{batch_pieces[i % len(batch_pieces)].name!r} is over --max_length {limit.max_length} "
                        "tokens: averaging the strands of a cut input would mix two different regions (each strand "
                        "keeps its own beginning). Leave --max_length unset, use --window, or --long_inputs refuse."
                    )
        ids_types = [
            limit.apply(batch_pieces[i % len(batch_pieces)], ids, types, count=i < len(batch_pieces))
            for i, (ids, types) in enumerate(zip(encoded["input_ids"], encoded["token_type_ids"]))
        ]
        yield batch_pieces, ids_types, encoded["offset_mapping"] if offsets else None


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
    """(piece, logits, pooled embedding or None) for each piece, in input order, computed as they come.

    Pieces are read ``chunk`` at a time and tokenized whole (or as ``limit`` says) in a background thread while the
    model runs on the chunk before; each chunk is sorted by length and batched by a token budget, so memory is
    bounded by the chunk and the budget, not by the input. With a model without a classification head (an encoder),
    logits are empty. With ``rc_average``, each piece's logits and embedding are the mean of those of its
    sequence(s) and their reverse complement(s): the prediction of both strands. ``pooling`` turns a batch's
    encoding into embeddings (default ``MeanPooling``; see dnabert2/inference/pooling.py). ``tally`` counts the
    bases scored, ambiguous ones apart.
    """
    limit = limit or LengthLimit(None)
    pooling = pooling or MeanPooling()
    classifier = hasattr(model, "logits_from")  # else an encoder (DNABert2Model): embeddings only
    device = next(model.parameters()).device
    bar = tqdm(unit="bp", unit_scale=True, desc="Computing", disable=not progress)
    chunks = _tokenized_chunks(pieces, tokenizer, chunk, limit, rc_average, pooling.needs_offsets, tally)
    for batch_pieces, ids_types, offsets in prefetched(chunks):
        results = [None] * len(ids_types)
        for batch in token_budget_batches([len(ids) for ids, _ in ids_types], max_tokens_per_batch):
            features = tokenizer.pad(
                [{"input_ids": ids_types[i][0], "token_type_ids": ids_types[i][1]} for i in batch],
                return_tensors="pt",
            ).to(device)
            encoding = (model.bert if classifier else model).encode_packed(**features)
            logits = (
                model.logits_from(encoding).float().cpu().numpy() if classifier else np.zeros((len(batch), 0), "f4")
            )
            pooled = (
                pooling.pool(encoding, [offsets[i] for i in batch] if offsets else None) if with_embeddings else None
            )
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
