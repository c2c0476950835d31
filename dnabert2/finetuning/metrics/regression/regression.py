"""Regression metrics as an `evaluate` module: Pearson and Spearman correlation, mean squared error."""

import warnings

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr, spearmanr

_DESCRIPTION = "Pearson r, Spearman rho and mean squared error for real-valued targets."
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted values.
    references: true values.
Returns:
    pearson, spearman, mse (floats); the correlations are NaN, with one warning naming the constant input, when the
    predictions or the references are constant.
"""


class Regression(evaluate.Metric):
    """Correlation and error metrics for regression fine-tuning."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
        )

    def _compute(self, predictions, references):
        """Pearson, Spearman and MSE; NaN correlations, with one warning saying why, for a constant input."""
        squared = [(p - r) ** 2 for p, r in zip(predictions, references)]
        constant = [
            name for name, values in (("predictions", predictions), ("references", references)) if np.ptp(values) == 0
        ]
        if constant:
            warnings.warn(
                f"Pearson and Spearman correlations are NaN (undefined): the {' and the '.join(constant)} "
                "are constant.",
                RuntimeWarning,
            )
        correlations = (
            {"pearson": float("nan"), "spearman": float("nan")}
            if constant
            else {
                "pearson": float(pearsonr(predictions, references)[0]),
                "spearman": float(spearmanr(predictions, references)[0]),
            }
        )
        return {**correlations, "mse": float(sum(squared) / len(squared))}
