"""Seeded MLM masks for pretraining windows: a function of (seed, epoch, window position) only, so that resumed and
data-parallel runs draw the masks of one uninterrupted run."""

import numpy as np
import torch
from transformers import TrainerCallback

# Evaluation masks are drawn with this seed whatever the training seed, so runs are compared on the same positions.
EVAL_MASK_SEED = 20240101


def select_positions(rng: np.random.Generator, count: int, probability: float, span: int = 1) -> np.ndarray:
    """Sorted indices among ``count`` candidate tokens chosen for masking.

    ``span`` 1 (BERT): each candidate alone with ``probability``. ``span`` k (DNABERT's masking of overlapping
    k-mers, where a lone masked token is given away by its neighbours): spans of k contiguous candidates, each
    candidate starting one with ``probability / k`` (about ``probability`` of the tokens masked, a little less where
    spans overlap or reach the end).
    """
    if span == 1:
        return np.flatnonzero(rng.random(count) < probability)
    starts = np.flatnonzero(rng.random(count) < probability / span)
    covered = np.zeros(count + span, dtype=bool)
    for offset in range(span):
        covered[starts + offset] = True
    return np.flatnonzero(covered[:count])


def mask_span_for(tokenizer, requested: int | None = None) -> int:
    """The masked span length: ``requested``, else k for an overlapping k-mer tokenizer (``DNATokenizer.kmer``),
    else 1."""
    return requested or getattr(tokenizer, "kmer", None) or 1


class _SeededMasking:
    """MLM masks that are a function of (seed, epoch, window position) only.

    Masks do not depend on a global random state, so a resumed run draws the masks of the uninterrupted run, and
    every process of a data-parallel run draws the same mask for a given window. Training masks select
    ``mlm_probability`` of the non-special tokens (at least one) and replace them 80/10/10 ([MASK] / random token /
    unchanged); evaluation masks (``replace_all``) replace every selected token by [MASK], so nothing can be copied.
    Items: ``input_ids`` and ``labels`` (-100 where not selected). ``mask_span`` > 1 selects spans of that many
    contiguous tokens (``select_positions``).
    """

    def __init__(
        self,
        windows,
        tokenizer,
        mlm_probability: float = 0.15,
        seed: int = 0,
        replace_all: bool = False,
        mask_span: int = 1,
    ):
        self.windows = windows
        self.mask_id = tokenizer.mask_token_id
        self.special_ids = np.array(sorted(tokenizer.all_special_ids))
        self.first_regular_id = int(self.special_ids.max()) + 1  # special tokens come first in our vocabularies
        self.vocab_size = len(tokenizer)
        self.mlm_probability = mlm_probability
        self.seed = seed
        self.replace_all = replace_all
        self.mask_span = mask_span
        self.epoch = 0

    def set_epoch(self, epoch: int):
        """Masks (and, streamed, the shuffle) of a new epoch; called at each epoch's start."""
        self.epoch = epoch

    def _masked(self, input_ids, position: int, epoch: int | None = None) -> dict:
        ids = np.asarray(input_ids, dtype=np.int64)
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, position])
        candidates = np.flatnonzero(~np.isin(ids, self.special_ids))
        selected = candidates[select_positions(rng, len(candidates), self.mlm_probability, self.mask_span)]
        if len(selected) == 0 and len(candidates):
            selected = candidates[rng.integers(len(candidates))][None]
        labels = np.full_like(ids, -100)
        labels[selected] = ids[selected]
        masked = ids.copy()
        if self.replace_all:
            masked[selected] = self.mask_id
        else:
            action = rng.random(len(selected))
            masked[selected[action < 0.8]] = self.mask_id
            swapped = selected[(action >= 0.8) & (action < 0.9)]
            masked[swapped] = rng.integers(self.first_regular_id, self.vocab_size, len(swapped))
        return {"input_ids": masked, "labels": labels}


class MaskedWindows(_SeededMasking, torch.utils.data.Dataset):
    """A map-style set of token windows (a cached ``datasets.Dataset``) with seeded masks keyed by window index."""

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, index):
        return self._masked(self.windows[int(index)]["input_ids"], int(index))


class StreamedMaskedWindows(_SeededMasking, torch.utils.data.IterableDataset):
    """An endless stream of token windows: the ``datasets.IterableDataset`` read epoch after epoch, each epoch
    shuffled by its number, masks keyed by (seed, epoch, position in the epoch).

    The stream counts its own epochs (the Trainer, which sees no length, never meets an epoch boundary and stops
    at --max_steps), so a resumed run, which replays the stream up to where it stopped, sees the same windows with
    the same masks, also past the end of the first epoch.
    """

    def __iter__(self):
        epoch = 0
        while True:
            self.windows.set_epoch(epoch)
            empty = True
            for position, window in enumerate(self.windows):
                empty = False
                yield self._masked(window["input_ids"], position, epoch)
            if empty:
                return
            epoch += 1


class MaskEpochCallback(TrainerCallback):
    """Tells a masked training set which epoch starts (also on resume), so its masks follow the epoch."""

    def __init__(self, windows: _SeededMasking):
        self.windows = windows

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.windows.set_epoch(int(state.epoch + 1e-6))
