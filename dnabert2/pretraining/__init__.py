"""Pretraining: seeded MLM masks, held-out metrics beside their baselines, shipping a checkpoint, the recipe."""
