"""Per-example GUE statistics against scikit-learn and hand-built cases: metrics from confusion counts, the paired
bootstrap over test examples, clean-subset scores, and the refusal of predictions that do not reproduce a run's
score."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from dnabert2.benchmarks.gue_runner import examples
from dnabert2.benchmarks.gue_runner.statistics import compare


@settings(max_examples=100, deadline=None)
@given(
    st.integers(2, 4).flatmap(
        lambda k: st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)), min_size=1, max_size=40)
    )
)
def test_metrics_from_confusion_counts_equal_scikit_learn(pairs):
    labels, predictions = (np.array(column) for column in zip(*pairs))
    assert examples.score(labels, predictions, "MCC") == pytest.approx(
        100 * metrics.matthews_corrcoef(labels, predictions), abs=1e-9
    )
    assert examples.score(labels, predictions, "F1") == pytest.approx(
        100 * metrics.f1_score(labels, predictions, average="macro", zero_division=0), abs=1e-9
    )


def runs_of(labels, *predictions):
    return {str(seed): {"labels": labels, "predictions": p} for seed, p in enumerate(predictions, start=1)}


def test_bootstrap_replicates_are_seed_means_of_scikit_learn_scores_on_resampled_examples(monkeypatch):
    monkeypatch.setattr(examples, "BOOTSTRAP_REPLICATES", 30)
    generator = np.random.default_rng(5)
    labels = generator.integers(0, 2, 60)
    first = runs_of(labels, *(np.where(generator.random(60) < 0.8, labels, 1 - labels) for _ in range(2)))
    second = runs_of(labels, *(generator.integers(0, 2, 60) for _ in range(2)))
    differences = examples.bootstrap_differences(first, second, "MCC", "tf_0")
    rows = examples.resampling_generator("tf_0").integers(0, 60, size=(30, 60))  # the same draw (one chunk)
    expected = [
        100
        * (
            np.mean([metrics.matthews_corrcoef(labels[r], run["predictions"][r]) for run in first.values()])
            - np.mean([metrics.matthews_corrcoef(labels[r], run["predictions"][r]) for run in second.values()])
        )
        for r in rows
    ]
    np.testing.assert_allclose(differences, expected, atol=1e-9)


def test_bootstrap_of_identical_sides_is_zero_and_of_a_perfect_side_is_far_from_zero():
    generator = np.random.default_rng(0)
    labels = generator.integers(0, 2, 400)
    noisy = runs_of(labels, generator.integers(0, 2, 400))
    same = examples.bootstrap_summary(0.0, examples.bootstrap_differences(noisy, noisy, "MCC", "tf_0"))
    assert same["ci95"] == [0.0, 0.0] and same["p"] == 1.0
    perfect = runs_of(labels, labels.copy())
    observed = examples.score(labels, labels, "MCC") - examples.score(labels, noisy["1"]["predictions"], "MCC")
    far = examples.bootstrap_summary(observed, examples.bootstrap_differences(perfect, noisy, "MCC", "tf_0"))
    assert far["p"] == 0.0 and 80 < far["ci95"][0] < observed < far["ci95"][1] < 120
    other_task = examples.bootstrap_differences(perfect, noisy, "MCC", "tf_1")  # same size, its own resamples
    assert not np.allclose(other_task, examples.bootstrap_differences(perfect, noisy, "MCC", "tf_0"))


def test_predictions_that_do_not_reproduce_the_stored_score_are_refused():
    labels = np.array([0, 1, 0, 1, 1, 0])
    runs = runs_of(labels, np.array([0, 1, 0, 0, 1, 0]))
    examples.check_alignment(
        runs, {"1": 100 * metrics.matthews_corrcoef(labels, runs["1"]["predictions"])}, "MCC", labels
    )
    with pytest.raises(ValueError, match="stored predictions score"):
        examples.check_alignment(runs, {"1": 12.0}, "MCC", labels)


def two_sides(labels, first, second, **metrics_of_runs):
    sides = {
        name: {
            "tf_0": {
                "1": {
                    "eval_matthews_correlation": metrics.matthews_corrcoef(side_labels, predictions),
                    **metrics_of_runs,
                }
            }
        }
        for name, (side_labels, predictions) in (("pretrained", first), ("from_scratch", second))
    }
    pairs = (("pretrained", first), ("from_scratch", second))
    stored = {name: {"tf_0": runs_of(side_labels, predictions)} for name, (side_labels, predictions) in pairs}
    return sides, stored


def test_sides_whose_test_rows_do_not_line_up_are_refused_not_compared():
    labels = np.repeat([0, 1], 200)  # sorted by label, as GUE's test files are
    guess = np.where(np.random.default_rng(0).random(400) < 0.8, labels, 1 - labels)
    order = np.random.default_rng(1).permutation(400)
    sides, stored = two_sides(labels, (labels, guess), (labels[order], guess[order]))  # the second in another order
    with pytest.raises(ValueError, match="another order"):
        compare(sides, predictions=stored)
    sides, stored = two_sides(labels, (labels, guess), (labels, labels))
    with pytest.raises(ValueError, match="another test file"):
        compare(
            sides,
            contamination={"tf_0": {"test_sequences": 999, "clean": 999, "clean_indices": list(range(999))}},
            predictions=stored,
        )
    sides, stored = two_sides(labels, (labels, guess), (labels, labels), scored_split="validation")
    with pytest.raises(ValueError, match="not test"):
        compare(sides, predictions=stored)
    sides, stored = two_sides(labels, (labels, guess), (labels, labels))
    row = compare(
        sides, contamination={"tf_0": {"test_sequences": 400, "clean": 0, "clean_indices": []}}, predictions=stored
    )["tasks"][0]
    assert row["clean"] == {"pretrained": None, "from_scratch": None}  # no clean example: no score, not MCC 0


def test_comparison_scores_each_side_on_the_clean_subset_and_bootstraps_every_contrast():
    generator = np.random.default_rng(1)
    predictions, sides = {}, {}
    tasks = {"tf_0": 200, "tf_1": 150}
    for name, accuracy in (("pretrained", 0.9), ("from_scratch", 0.7), ("cnn", 0.6)):
        for task, n in tasks.items():
            labels = np.random.default_rng(len(task) + n).integers(0, 2, n)
            for seed in ("1", "2"):
                guess = np.where(generator.random(n) < accuracy, labels, 1 - labels)
                predictions.setdefault(name, {}).setdefault(task, {})[seed] = {"labels": labels, "predictions": guess}
                sides.setdefault(name, {}).setdefault(task, {})[seed] = {
                    "eval_matthews_correlation": metrics.matthews_corrcoef(labels, guess),
                    "collapsed": False,
                }
    clean = {"tf_0": list(range(0, 200, 3)), "tf_1": list(range(100))}
    contamination = {
        task: {
            "test_sequences": n,
            "exact": 0,
            "shared_kmer": n - len(clean[task]),
            "clean": len(clean[task]),
            "clean_indices": clean[task],
        }
        for task, n in tasks.items()
    }
    report = compare(sides, contamination=contamination, predictions=predictions)
    for row in report["tasks"]:
        for name in ("pretrained", "from_scratch", "cnn"):
            runs = predictions[name][row["task"]].values()
            expected = np.mean(
                [
                    100
                    * metrics.matthews_corrcoef(r["labels"][clean[row["task"]]], r["predictions"][clean[row["task"]]])
                    for r in runs
                ]
            )
            assert row["clean"][name] == pytest.approx(expected, abs=1e-9)
        test = row["bootstrap"]["pretrained - from_scratch"]
        assert test["mean"] == pytest.approx(row["tests"]["pretrained - from_scratch"]["mean"])
        assert test["ci95"][0] < test["mean"] < test["ci95"][1] and test["p"] < 0.01
    overall = report["all_tasks"]
    assert overall["clean"]["cnn"] == pytest.approx(np.mean([row["clean"]["cnn"] for row in report["tasks"]]))
    assert overall["bootstrap"]["pretrained - cnn"]["mean"] == pytest.approx(
        np.mean([row["bootstrap"]["pretrained - cnn"]["mean"] for row in report["tasks"]])
    )
