"""Regression metrics as an `evaluate` module: Pearson and Spearman correlation, mean squared error."""

import datasets
import evaluate
from scipy.stats import pearsonr, spearmanr

_DESCRIPTION = "Pearson r, Spearman rho and mean squared error for real-valued targets."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted values.
    references: true values.
Returns:
    pearson, spearman, mse (floats).
"""


class Regression(evaluate.Metric):
    """Correlation and error metrics for regression fine-tuning."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
        )

    def _compute(self, predictions, references):
        squared = [(p - r) ** 2 for p, r in zip(predictions, references)]
        return {
            "pearson": float(pearsonr(predictions, references)[0]),
            "spearman": float(spearmanr(predictions, references)[0]),
            "mse": float(sum(squared) / len(squared)),
        }
