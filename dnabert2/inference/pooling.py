"""Poolings of a batch's encoding into embeddings: ``mean`` (exactly ``DNABert2Model.embed``: the mean of the last
hidden state over all tokens, [CLS] and [SEP] included), ``cls`` (the [CLS] token's vector), ``token`` (one vector per
sequence token, with its bp span; [CLS] and [SEP] have none and are left out) and ``nucleotide`` (one vector per
base: the vector of the token covering it, from the tokenizer's offsets)."""

from typing import Iterator

import numpy as np


class MeanPooling:
    """The sequence embedding of ``DNABert2Model.embed``: the mean of the last hidden state over real tokens."""

    needs_offsets = False

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """One (hidden,) vector per sequence of a batch's encoding (``offsets``: unused)."""
        return list(encoding.mean().float().cpu().numpy())

    def combine_strands(self, forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
        """The embedding of both strands: the mean of the two."""
        return np.mean([forward, reverse], axis=0)


class ClsPooling(MeanPooling):
    """The [CLS] token's last hidden state (the published pooler was never trained, so it is not applied)."""

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """One (hidden,) vector per sequence: its first token's."""
        return list(encoding.packed.first(encoding.hidden).float().cpu().numpy())


def _sequence_tokens(encoding, offsets) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per sequence of a batch: (vectors, spans) of its tokens that cover bases, in order."""
    hidden = encoding.hidden.float().cpu().numpy()
    bounds = encoding.packed.cu_seqlens.tolist()
    for row, spans in enumerate(offsets):
        spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
        covering = spans[:, 1] > spans[:, 0]
        yield hidden[bounds[row] : bounds[row + 1]][covering], spans[covering]


class TokenPooling:
    """One vector per token with its bp span [start, end) in the sequence. No strand averaging
    (``combine_strands`` is None): the two strands are tokenized differently, so their tokens do not pair up."""

    needs_offsets = True

    def pool(self, encoding, offsets) -> list[tuple[np.ndarray, np.ndarray]]:
        """(vectors (tokens, hidden), spans (tokens, 2)) per sequence."""
        return list(_sequence_tokens(encoding, offsets))

    combine_strands = None


class NucleotidePooling:
    """One vector per base: that of the token covering it; with both strands, each base's two vectors averaged."""

    needs_offsets = True

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """(bases, hidden) per sequence."""
        pooled = []
        for vectors, spans in _sequence_tokens(encoding, offsets):
            if len(spans) and (spans[0, 0] != 0 or (spans[1:, 0] != spans[:-1, 1]).any()):
                raise ValueError("The tokenizer's offsets do not tile the sequence: cannot map bases to tokens.")
            pooled.append(np.repeat(vectors, spans[:, 1] - spans[:, 0], axis=0))
        return pooled

    def combine_strands(self, forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
        """Base j of the forward strand is base (length - 1 - j) of its reverse complement."""
        return (forward + reverse[::-1]) / 2


POOLINGS = {"mean": MeanPooling, "cls": ClsPooling, "token": TokenPooling, "nucleotide": NucleotidePooling}
