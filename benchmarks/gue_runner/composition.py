"""A base-composition baseline for the GUE report: logistic regression on each sequence's base and dinucleotide
frequencies, fit on the training split alone.

The question it answers: how much of a task does composition alone decide (GC content, CpG, dinucleotide
preferences), with no order beyond neighbouring bases? A model that does not beat it has shown nothing beyond
composition. Features per sequence column: the 4 base frequencies among its A/C/G/T, and the 16 dinucleotide
frequencies among its overlapping pairs of A/C/G/T (any pair with another letter is not counted); a pair of sequences
has both columns' 20 side by side. The fit (scikit-learn's LogisticRegression, L2, C = 1, lbfgs) is deterministic:
every seed gives the same model.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from transformers import EvalPrediction

from dnabert2.data.alphabet import acgt_codes, reverse_complement
from dnabert2.finetuning.arguments import DataArguments
from dnabert2.finetuning.trainer import load_task, metrics_function
from dnabert2.runtime.errors import InputError


def composition_features(sequences) -> np.ndarray:
    """(n, 20) base and dinucleotide frequencies of each sequence (see the module docstring)."""
    rows = np.zeros((len(sequences), 20))
    for row, sequence in zip(rows, sequences):
        codes = acgt_codes(sequence).astype(np.int64)
        bases = codes[codes < 4]
        pairs = codes[:-1] * 4 + codes[1:]
        pairs = pairs[(codes[:-1] < 4) & (codes[1:] < 4)]
        row[:4] = np.bincount(bases, minlength=4) / max(len(bases), 1)
        row[4:] = np.bincount(pairs, minlength=16) / max(len(pairs), 1)
    return rows


def task_features(split, sequence_columns) -> np.ndarray:
    """composition_features of every sequence column of a split, side by side."""
    return np.hstack([composition_features(list(split[column])) for column in sequence_columns])


def run_composition(data: DataArguments, rc_average: bool = False) -> tuple[dict, dict]:
    """Fit on the task's training split and score its test split (validation without one): (metrics named as a
    fine-tuning run's, eval_*; per-example ``labels`` and ``logits``, the fit's log-probabilities). With
    ``rc_average`` each test sequence is also scored as the mean of its own and its reverse complement's
    (``rc_average_logits``, eval_rc_average_*), as fine-tuning's --rc_average does."""
    splits, info = load_task(data)
    if info.problem_type != "single_label_classification":
        raise InputError(
            f"--architecture composition classifies one label per example; this task is {info.problem_type}."
        )
    scored_split = "test" if "test" in splits else "validation"
    fit = LogisticRegression(max_iter=2000).fit(
        task_features(splits["train"], info.sequence_columns), np.asarray(splits["train"]["labels"])
    )
    test = splits[scored_split]

    def logits_of(split) -> np.ndarray:
        logits = np.full((len(split), info.num_labels), -np.inf)  # a class absent from training is never predicted
        logits[:, fit.classes_] = fit.predict_log_proba(task_features(split, info.sequence_columns))
        return logits

    outputs = {"labels": np.asarray(test["labels"]), "logits": logits_of(test)}
    score = metrics_function(info)
    metrics = {
        f"eval_{key}": value for key, value in score(EvalPrediction(outputs["logits"], outputs["labels"])).items()
    }
    if rc_average:
        reverse = test.map(lambda row: {c: reverse_complement(row[c]) for c in info.sequence_columns})
        outputs["rc_average_logits"] = (outputs["logits"] + logits_of(reverse)) / 2
        averaged = score(EvalPrediction(outputs["rc_average_logits"], outputs["labels"]))
        metrics.update({f"eval_rc_average_{key}": value for key, value in averaged.items()})
    return {**metrics, "scored_split": scored_split}, outputs
