"""Scores from stored per-example test predictions: the score on a subset of the test set (the contamination-clean
examples) and a paired bootstrap over test examples of the difference between two sides."""

import zlib

import numpy as np

from dnabert2.runtime.errors import InputError

BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 0  # with the task's name, seeds the task's own resampling: reruns agree, tasks differ
CHUNK = 250  # replicates resampled at a time (bounds memory on the larger test sets)

BOOTSTRAP_RULE = (
    f"Bootstrap: {BOOTSTRAP_REPLICATES:,} resamples of a task's test examples with replacement (the same resampled "
    "examples for both sides and every seed; each task drawn from its own seeded generator); in each, each side's "
    "score is its mean over the shared seeds of the "
    "metric on the resampled examples (predictions of the plain strand, as scored), and the difference is first minus "
    "second. Interval: the 2.5th and 97.5th percentiles of the differences; p: twice the smaller share of "
    "differences at or below 0 and at or above 0 (at most 1). This holds the fine-tuned models fixed and measures "
    "how much the difference depends on which test examples were drawn, which the seed-paired test does not; "
    "family and all-task rows average the tasks' resampled differences (tasks resampled independently)."
)


def confusion_matrices(labels: np.ndarray, predictions: np.ndarray, rows: np.ndarray, classes: int) -> np.ndarray:
    """Confusion counts [replicate, true, predicted] of the examples ``rows`` ([replicates, n] indices)."""
    codes = labels[rows].astype(np.int64) * classes + predictions[rows]
    codes += np.arange(rows.shape[0])[:, None] * classes * classes
    counts = np.bincount(codes.ravel(), minlength=rows.shape[0] * classes * classes)
    return counts.reshape(rows.shape[0], classes, classes)


def scores_from_confusion(confusion: np.ndarray, metric: str) -> np.ndarray:
    """The metric of each confusion matrix (stacked on the first axis), as scikit-learn computes it: "MCC"
    (multi-class Matthews correlation, 0 where undefined) or "F1" (macro F1 over the classes that occur as labels
    or predictions, 0 for a class with no true positive)."""
    confusion = confusion.astype(np.float64)
    true, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    correct = np.trace(confusion, axis1=1, axis2=2)
    total = confusion.sum(axis=(1, 2))
    if metric == "MCC":
        numerator = correct * total - (true * predicted).sum(axis=1)
        denominator = np.sqrt((total**2 - (predicted**2).sum(axis=1)) * (total**2 - (true**2).sum(axis=1)))
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
    if metric == "F1":
        present = (true + predicted) > 0
        hits = np.diagonal(confusion, axis1=1, axis2=2)
        f1 = np.divide(2 * hits, true + predicted, out=np.zeros_like(hits), where=present)
        return f1.sum(axis=1) / present.sum(axis=1)
    raise ValueError(f"unknown metric {metric!r} (MCC or F1)")


def score(labels: np.ndarray, predictions: np.ndarray, metric: str, rows=None) -> float | None:
    """The metric (x100) of the predictions on ``rows`` of the test set (all rows when None); None for no rows."""
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return None
    classes = int(max(labels.max(), predictions.max())) + 1
    return 100 * float(
        scores_from_confusion(confusion_matrices(labels, predictions, rows[None, :], classes), metric)[0]
    )


def check_alignment(runs: dict, expected: dict, metric: str, labels: np.ndarray):
    """Fail when stored predictions do not reproduce the stored scores (``runs`` and ``expected``: seed -> arrays
    and seed -> score x100), or when a seed's labels differ from ``labels`` (those of every other side and seed):
    the predictions would belong to other runs, another test file or another order of its rows."""
    for seed, arrays in runs.items():
        if not np.array_equal(arrays["labels"], labels):
            raise InputError(
                f"seed {seed}: its stored test labels differ from the other runs' (another test file, or "
                "its rows in another order)."
            )
        recomputed = score(arrays["labels"], arrays["predictions"], metric)
        if abs(recomputed - expected[seed]) > 1e-6:
            raise InputError(
                f"seed {seed}: stored predictions score {recomputed:.6f}, its results say {expected[seed]:.6f}."
            )


def resampling_generator(task: str) -> np.random.Generator:
    """The task's own bootstrap generator, seeded with BOOTSTRAP_SEED and the task's name."""
    return np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32(task.encode())])


def bootstrap_differences(first: dict, second: dict, metric: str, task: str) -> np.ndarray:
    """The resampled differences (first - second) of the seed-mean scores x100 (``first``/``second``: seed -> arrays
    of the seeds both sides share, whose labels are the same), BOOTSTRAP_REPLICATES of them."""
    labels = next(iter(first.values()))["labels"]
    classes = (
        int(
            max(
                max(arrays["labels"].max(), arrays["predictions"].max())
                for arrays in (*first.values(), *second.values())
            )
        )
        + 1
    )
    generator = resampling_generator(task)
    differences = []
    for start in range(0, BOOTSTRAP_REPLICATES, CHUNK):
        rows = generator.integers(0, len(labels), size=(min(CHUNK, BOOTSTRAP_REPLICATES - start), len(labels)))
        means = [
            np.mean(
                [
                    scores_from_confusion(confusion_matrices(labels, arrays["predictions"], rows, classes), metric)
                    for arrays in side.values()
                ],
                axis=0,
            )
            for side in (first, second)
        ]
        differences.append(100 * (means[0] - means[1]))
    return np.concatenate(differences)


def bootstrap_summary(observed: float, differences: np.ndarray) -> dict:
    """The observed difference with the bootstrap's 95 % percentile interval and two-sided p (see BOOTSTRAP_RULE)."""
    low, high = np.percentile(differences, [2.5, 97.5])
    p = min(1.0, 2 * min(float(np.mean(differences <= 0)), float(np.mean(differences >= 0))))
    return {"mean": observed, "ci95": [float(low), float(high)], "p": p, "replicates": len(differences)}
