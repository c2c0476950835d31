"""The base-composition baseline of the GUE runner: its features by hand, its scores against a plain scikit-learn fit
on features counted in plain Python, and its refusal of tasks it cannot score."""

import itertools
import json

import numpy as np
import pytest
from conftest import write_task
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import matthews_corrcoef

from dnabert2.benchmarks import gue
from dnabert2.benchmarks.gue_runner.composition import composition_features
from dnabert2.runtime.errors import InputError

DINUCLEOTIDES = ["".join(pair) for pair in itertools.product("ACGT", repeat=2)]


def plain_features(sequence: str) -> list[float]:
    """Base and dinucleotide frequencies counted with str methods: the independent reference."""
    sequence = sequence.upper()
    bases = [b for b in sequence if b in "ACGT"]
    pairs = [sequence[i : i + 2] for i in range(len(sequence) - 1) if set(sequence[i : i + 2]) <= set("ACGT")]
    return [bases.count(b) / max(len(bases), 1) for b in "ACGT"] + [
        pairs.count(d) / max(len(pairs), 1) for d in DINUCLEOTIDES
    ]


def read_split(path):
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


def test_features_by_hand():
    features = composition_features(["ACGTN", "aaNcg", ""])
    assert features[0, :4].tolist() == [0.25] * 4  # N is not a base
    expected = np.zeros(16)
    expected[[DINUCLEOTIDES.index(d) for d in ("AC", "CG", "GT")]] = 1 / 3  # "TN" is not a pair of bases
    assert features[0, 4:].tolist() == pytest.approx(expected.tolist())
    assert features[1, :4].tolist() == pytest.approx([0.5, 0.25, 0.25, 0])  # lower case counts as upper
    assert features[1, 4 + DINUCLEOTIDES.index("AA")] == 0.5 and features[1, 4 + DINUCLEOTIDES.index("CG")] == 0.5
    assert not features[2].any()  # an empty sequence: all zeros, no division by zero


def test_composition_runs_match_a_plain_fit(tmp_path):
    task = write_task(tmp_path / "GUE" / "tf" / "0", rows_per_split=(200, 40, 120))
    out = tmp_path / "composition"
    gue.main(
        ["--gue_dir", str(tmp_path / "GUE"), "--tasks", "tf_0", "--seeds", "1,2", "--architecture", "composition"]
        + ["--rc_average", "True", "--output_dir", str(out)]
    )
    train, train_labels = read_split(task / "train.csv")
    test, test_labels = read_split(task / "test.csv")
    fit = LogisticRegression(max_iter=2000).fit([plain_features(s) for s in train], train_labels)
    plain = fit.predict_log_proba([plain_features(s) for s in test])
    complement = str.maketrans("ACGT", "TGCA")
    reverse = fit.predict_log_proba([plain_features(s.translate(complement)[::-1]) for s in test])
    results = json.loads((out / "results.json").read_text())["results"]["tf_0"]
    for seed in ("1", "2"):  # deterministic: every seed the same fit
        assert results[seed]["eval_matthews_correlation"] == pytest.approx(
            matthews_corrcoef(test_labels, plain.argmax(1))
        )
        assert results[seed]["eval_rc_average_matthews_correlation"] == pytest.approx(
            matthews_corrcoef(test_labels, (plain + reverse).argmax(1))
        )
        assert results[seed]["max_length"] is None and results[seed]["collapsed"] is False
    assert results["1"]["eval_matthews_correlation"] > 0.5  # the fixture's TATAAA boxes shift its composition
    with np.load(out / "predictions" / "tf_0_seed1.npz") as stored:
        assert stored["predictions"].tolist() == plain.argmax(1).tolist()
        assert stored["labels"].tolist() == test_labels.tolist()


def test_composition_refuses_regression_and_unknown_architectures(tmp_path):
    write_task(tmp_path / "GUE" / "tf" / "0", labels=lambda i: i * 0.5 + 0.25)
    with pytest.raises(InputError, match="classifies one label per example; this task is regression"):
        gue.main(
            ["--gue_dir", str(tmp_path / "GUE"), "--tasks", "tf_0", "--architecture", "composition"]
            + ["--output_dir", str(tmp_path / "out")]
        )
    with pytest.raises(InputError, match="--architecture must be one of dnabert2, cnn, composition; got 'rnn'"):
        gue.main(["--architecture", "rnn", "--output_dir", str(tmp_path / "out")])
