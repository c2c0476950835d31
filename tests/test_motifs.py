"""Motif helpers of dnabert2.inference.motifs against hand-built matrices (tfmodisco-lite itself runs in
benchmarks/explain.py: its compilation alone outlasts a test)."""

import numpy as np
import pytest

from dnabert2.inference.motifs import consensus, load_arrays, pwm_correlation
from dnabert2.runtime.errors import InputError


def test_pwm_correlation_finds_the_offset_and_the_strand():
    rng = np.random.default_rng(0)
    planted = rng.dirichlet(np.ones(4) * 0.3, size=8)
    flank = np.full((3, 4), 0.25)
    found = np.concatenate([flank, planted[::-1, ::-1], flank, flank])  # reverse complement, 3 bases in
    correlation, offset, reverse = pwm_correlation(found, planted)
    assert correlation == pytest.approx(1.0) and offset == 6 and reverse  # reversed, the planted copy starts at 6
    shuffled = planted[rng.permutation(8)]
    assert pwm_correlation(shuffled, planted)[0] < 0.99


def test_consensus_marks_weak_positions():
    ppm = np.array([[0.9, 0.05, 0.03, 0.02], [0.3, 0.3, 0.2, 0.2], [0.0, 0.0, 0.0, 1.0]])
    assert consensus(ppm) == "AaT"


def test_load_arrays_refuses_mismatched_shapes(tmp_path):
    np.save(tmp_path / "ohe.npy", np.zeros((3, 4, 10)))
    np.save(tmp_path / "attr.npy", np.zeros((3, 4, 11)))
    with pytest.raises(InputError):
        load_arrays(tmp_path / "ohe.npy", tmp_path / "attr.npy")
    with pytest.raises(InputError):
        load_arrays(tmp_path / "missing.npy", tmp_path / "attr.npy")
