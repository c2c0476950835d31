"""Strict baselines (prior: the evaluated windows' own tokens) against a case worked out by hand."""

import numpy as np
import pytest

from dnabert2.pretraining.metrics import COMPOSITION_ALPHAS, strict_baseline_metrics

# vocabulary: 5 specials ([CLS] 1, [SEP] 2, [MASK] 4), then A C G T AA CC (ids 5..10)
BASES = np.zeros((11, 4))
BASES[5:9] = np.eye(4)
BASES[9] = [2, 0, 0, 0]
BASES[10] = [0, 2, 0, 0]
# three windows, every scored token [MASK]; AA is masked three times, CC only ever masked
WINDOWS = [
    {"input_ids": np.array([1, 5, 4, 5, 7, 2]), "labels": np.array([-100, -100, 9, -100, -100, -100])},
    {"input_ids": np.array([1, 4, 6, 4, 8, 2]), "labels": np.array([-100, 9, -100, 9, -100, -100])},
    {"input_ids": np.array([1, 5, 6, 4, 9, 2]), "labels": np.array([-100, -100, -100, 10, -100, -100])},
]
VISIBLE = [[0, 0, 2], [1, 3], [0, 1, 4]]  # regular tokens as indices 0..5 (A C G T AA CC)
TARGETS = [[4], [4, 4], [5]]


def mixture(prior, by_composition):
    """Per alpha: summed loss and correct guesses of (c + alpha q) / (n + alpha), written out token by token."""
    n_bases = BASES[5:]
    g = prior @ n_bases
    g = g / g.sum()
    losses, correct = np.zeros(len(COMPOSITION_ALPHAS)), np.zeros(len(COMPOSITION_ALPHAS))
    for seen, targets in zip(VISIBLE, TARGETS):
        own = np.array([seen.count(t) for t in range(6)], dtype=float)
        q = prior.copy()
        if by_composition:
            f = (own @ n_bases + 1) / (own @ n_bases + 1).sum()
            q = np.array([prior[t] * np.prod((f / g) ** n_bases[t]) for t in range(6)])
            q /= q.sum()
        for i, alpha in enumerate(COMPOSITION_ALPHAS):
            p = (own + alpha * q) / (len(seen) + alpha)
            losses[i] -= sum(np.log(p[t]) for t in targets)
            correct[i] += sum(int(np.argmax(p) == t) for t in targets)
    return losses, correct


def test_strict_baselines_take_their_prior_from_the_evaluated_windows():
    result = strict_baseline_metrics(WINDOWS, BASES)
    # original tokens (visible + masked): A 3, C 2, G 1, T 1, AA 4, CC 1; visible alone would make A the most
    # frequent and give CC no mass
    prior = np.array([3, 2, 1, 1, 4, 1]) / 12
    assert result["masked_tokens"] == 4
    assert result["most_frequent_accuracy"] == 0.75  # always AA: right on 3 of the 4 masked tokens

    counts_losses, counts_correct = mixture(prior, by_composition=False)
    composition_losses, composition_correct = mixture(prior, by_composition=True)
    assert result["strict_counts_loss"] == pytest.approx(counts_losses.min() / 4)
    assert result["strict_composition_loss"] == pytest.approx(composition_losses.min() / 4)
    best_losses, best_correct = min(
        (counts_losses, counts_correct), (composition_losses, composition_correct), key=lambda pair: pair[0].min()
    )
    assert result["strict_loss"] == pytest.approx(min(counts_losses.min(), composition_losses.min()) / 4)
    assert result["strict_accuracy"] == best_correct[np.argmin(best_losses)] / 4
    assert result["strict_alpha"] == COMPOSITION_ALPHAS[np.argmin(best_losses)]
    assert result["strict_variant"] == (
        "visible counts" if counts_losses.min() < composition_losses.min() else "composition"
    )
    # with alpha -> infinity the counts variant is the prior alone: its loss on AA, AA, AA, CC bounds the strict one
    assert result["strict_loss"] <= -(3 * np.log(4 / 12) + np.log(1 / 12)) / 4 + 1e-6
