"""Collapse: a classifier that gives (nearly) every example of the scored split one class has learned nothing it
could use. One rule for fine-tuning's end-of-run warning and the GUE runner's tables."""

import numpy as np

COLLAPSE_DEFINITION = (
    "collapsed: the test predictions fell into one class (MCC exactly 0 with accuracy equal to one class's share of "
    "the test labels; MCC exactly 0 for results stored without those shares)"
)
NEARLY_ALL = 0.99  # a run that gives one class to this share of the examples is warned about too


def class_shares(labels, num_classes: int) -> list[float]:
    """Each class's share of ``labels`` (class ids 0..num_classes - 1), in class order."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    return (counts / len(labels)).tolist()


def is_collapsed(metrics: dict) -> bool:
    """True for a run whose test predictions all fell into one class (``COLLAPSE_DEFINITION``), from its metrics:
    ``eval_matthews_correlation``, ``eval_accuracy`` and ``test_class_shares`` (or a stored ``collapsed``)."""
    if "collapsed" in metrics:
        return bool(metrics["collapsed"])
    if metrics.get("eval_matthews_correlation") != 0.0:
        return False
    shares, accuracy = metrics.get("test_class_shares"), metrics.get("eval_accuracy")
    return shares is None or accuracy is None or any(abs(accuracy - share) < 1e-9 for share in shares)


def collapse_warning(
    predicted: np.ndarray, class_names: list[str], split: str, learning_rate: float, steps: int, warmup_steps: int
) -> str | None:
    """A warning when (nearly) every example of ``split`` was predicted as one class, naming the likely causes
    with this run's settings; None otherwise."""
    predicted = np.asarray(predicted)
    if predicted.size == 0:
        return None
    top = np.bincount(predicted, minlength=len(class_names)).argmax()
    share = float(np.mean(predicted == top))
    if share < NEARLY_ALL:
        return None
    amount = "every" if share == 1 else f"{share:.1%} of the"
    return (
        f"The model predicts one class, {class_names[top]!r}, for {amount} {len(predicted):,} {split} example(s): it "
        "has not learned the task. Likely causes: a learning rate too low or too high (--learning_rate, now "
        f"{learning_rate:g}), too few steps ({steps:,} run; raise --max_steps or --num_train_epochs), or a warmup "
        f"longer than the run (--warmup_steps, now {warmup_steps:,})."
    )
