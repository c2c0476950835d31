"""The k-mer drawbacks study: leakage rule, span masking and indel effects against hand counts and brute force."""

import itertools
import random

import numpy as np
import pytest
from comparator_models import nt_vocabulary

from dnabert2.benchmarks.kmer_drawbacks import (
    edit_effect,
    leakage,
    nonoverlapping_spans,
    overlapping_spans,
    recoverable,
)
from dnabert2.data.tokenizer import nonoverlapping_kmers
from dnabert2.pretraining.masking import select_positions


def brute_force_recoverable(mask, k=6):
    """Per masked-or-not token: are all its bases inside some unmasked token, and how many are (plain loops)."""
    n = len(mask)
    exact, known = [], []
    for i in range(n):
        covered = [any(not mask[t] for t in range(n) if t <= j < t + k) for j in range(i, i + k)]
        exact.append(all(covered))
        known.append(sum(covered))
    return exact, known


def test_recovery_rule_against_hand_cases_and_brute_force():
    mask = np.zeros(10, dtype=bool)
    mask[4] = True  # a lone masked 6-mer: its neighbours spell all 6 bases
    exact, known = recoverable(mask)
    assert exact[4] and known[4] == 6
    mask[:] = False
    mask[2:8] = True  # a span of 6: every masked token misses base 7, which only masked tokens cover
    exact, known = recoverable(mask)
    assert not exact[2:8].any() and list(known[2:8]) == [5] * 6
    rng = np.random.default_rng(1)
    for _ in range(20):
        mask = rng.random(25) < 0.3
        exact, known = recoverable(mask)
        assert (list(exact), list(known)) == brute_force_recoverable(mask)


def test_span_masking_masks_runs_of_six_at_the_expected_rate():
    rng = np.random.default_rng(0)
    n = 200_000
    selected = select_positions(rng, n, 0.15, 6)
    mask = np.zeros(n, dtype=bool)
    mask[selected] = True
    runs = [len(list(group)) for value, group in itertools.groupby(mask) if value]
    assert min(runs[:-1]) >= 6  # spans merge into longer runs, never shorter ones (the last may be cut by the end)
    assert mask.mean() == pytest.approx(1 - (1 - 0.15 / 6) ** 6, abs=0.003)  # P(some start among 6 places)
    lone = np.zeros(n, dtype=bool)
    lone[select_positions(np.random.default_rng(0), n, 0.15)] = True
    assert lone.mean() == pytest.approx(0.15, abs=0.003)


def test_leakage_single_tokens_leak_spans_do_not():
    rng = random.Random(0)
    sequences = ["".join(rng.choice("ACGT") for _ in range(500)) for _ in range(20)]
    single, spans = leakage(sequences, 0.15, 1, 0), leakage(sequences, 0.15, 6, 0)
    assert single["recovered_exactly"] > 0.95 and spans["recovered_exactly"] == 0.0
    assert 5 / 6 * 0.85 < spans["bases_known"] <= 5 / 6 + 1e-9


def test_one_insertion_changes_five_overlapping_kmers_and_the_rest_of_the_nt_frame():
    rng = random.Random(3)
    sequence = "".join(rng.choice("ACGT") for _ in range(500))
    for position in (7, 100, 251, 493):
        edited = sequence[:position] + "A" + sequence[position:]
        # overlapping 6-mers: those straddling the edit (starts position-5 .. position-1) change
        assert edit_effect(overlapping_spans(sequence), overlapping_spans(edited), position) == (5, 5)
        # non-overlapping: every 6-mer from the one holding the edit to the last (83 of them; 2 single bases end
        # the 500 bp and stay), reaching from that 6-mer's start to base 498
        changed, reach = edit_effect(nonoverlapping_spans(sequence), nonoverlapping_spans(edited), position)
        assert changed == 83 - position // 6
        assert reach == max(position - 6 * (position // 6), 498 - position)


def test_nonoverlapping_kmers_cut_as_the_nt_tokenizer_does(tmp_path):
    from transformers import EsmTokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(nt_vocabulary()) + "\n")
    tokenizer = EsmTokenizer(str(tmp_path / "vocab.txt"))
    rng = random.Random(5)
    for _ in range(20):
        sequence = "".join(rng.choice("ACGTACGTACGTN") for _ in range(rng.randint(1, 40)))
        assert nonoverlapping_kmers(sequence) == tokenizer.tokenize(sequence)
