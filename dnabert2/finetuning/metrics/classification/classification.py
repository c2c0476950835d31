"""GUE classification metrics as an `evaluate` module (load by path; the Hub is not needed).

accuracy, macro F1, Matthews correlation, macro precision and macro recall: the keys of the original
DNABERT-2 fine-tuning script (``f1``, ``matthews_correlation``, ``precision``, ``recall``, ``accuracy``).
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score, recall_score

_DESCRIPTION = "Accuracy, macro F1, Matthews correlation, macro precision and macro recall for class labels."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class ids.
    references: true class ids.
Returns:
    accuracy, f1, matthews_correlation, precision, recall (floats).
"""


class Classification(evaluate.Metric):
    """The five metrics the DNABERT-2 paper reports on GUE."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "f1": float(f1_score(references, predictions, average="macro", zero_division=0)),
            "matthews_correlation": float(matthews_corrcoef(references, predictions)),
            "precision": float(precision_score(references, predictions, average="macro", zero_division=0)),
            "recall": float(recall_score(references, predictions, average="macro", zero_division=0)),
        }
