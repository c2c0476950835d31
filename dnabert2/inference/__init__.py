"""Inference: prediction with fine-tuned classifiers and variant-effect scoring."""
