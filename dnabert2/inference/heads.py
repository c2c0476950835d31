"""What a classifier's head outputs mean: class names, probabilities (or regressed values), the predicted label,
and their columns in CSV and Parquet outputs (one formatting for every writer)."""

import numpy as np

from dnabert2.inference.inputs import Piece


def label_names(config) -> list[str]:
    """Class names from the config (the fine-tuning CSV's labels), in class order."""
    return [str(config.id2label[i]) for i in range(config.num_labels)]


def outputs_of(logits: np.ndarray, config) -> np.ndarray:
    """What a head's logits mean, along the last axis: the value (regression), per-label sigmoids (multi-label) or
    class probabilities (softmax)."""
    if config.problem_type == "regression":
        return logits
    if config.problem_type == "multi_label_classification":
        return 1 / (1 + np.exp(-logits))
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def predicted_label(values: np.ndarray, config) -> str:
    """A classifier's prediction from its outputs (``outputs_of``): the labels over 0.5 joined by ';'
    (multi-label) or the most probable class."""
    names = label_names(config)
    if config.problem_type == "multi_label_classification":
        return ";".join(n for n, p in zip(names, values) if p > 0.5)
    return names[int(values.argmax())]


def prediction_row(piece: Piece, logits: np.ndarray, config) -> list:
    """One output row: name, start, end, the prediction and per-class probabilities (or the regressed value)."""
    return [piece.name, piece.start, piece.end] + output_cells(outputs_of(logits, config), config)


def output_cells(values: np.ndarray, config) -> list:
    """The CSV cells of a head's outputs (``outputs_of``): the regressed value, or the prediction and each class's
    probability; one formatting for streamed and merged outputs."""
    if config.problem_type == "regression":
        return [f"{float(values[0]):.6g}"]
    return [predicted_label(values, config)] + [f"{p:.6f}" for p in values]


def prediction_columns(logits: list[np.ndarray], config) -> dict:
    """Columns of predictions as values (for Parquet): ``prediction`` (the regressed value or the label) and, for
    classifiers, ``prob_<label>`` per class."""
    values = [outputs_of(row, config) for row in logits]
    if config.problem_type == "regression":
        return {"prediction": [float(v[0]) for v in values]}
    columns = {"prediction": [predicted_label(v, config) for v in values]}
    return columns | {f"prob_{name}": [float(v[k]) for v in values] for k, name in enumerate(label_names(config))}


def prediction_header(config) -> list[str]:
    """The CSV header matching ``prediction_row``."""
    if config.problem_type == "regression":
        return ["name", "start", "end", "prediction"]
    return ["name", "start", "end", "prediction"] + [f"prob_{name}" for name in label_names(config)]
