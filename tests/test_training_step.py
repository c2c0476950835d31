"""The training-step efficiency measurement: its matmul reference counts what the architecture says."""

import json

import pytest
import torch

from dnabert2 import packaged
from dnabert2.benchmarks.measure.training_step import training_step_rows


@pytest.mark.parametrize("sparse_prediction", [True, False])
def test_matmul_reference_matches_independent_flop_count(tmp_path, sparse_prediction):
    config = json.loads((packaged("model") / "config.json").read_text())
    config.update(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=48,
        sparse_prediction=sparse_prediction,
    )
    (tmp_path / "config.json").write_text(json.dumps(config))
    torch.manual_seed(0)
    (row,) = training_step_rows([("tiny", str(tmp_path / "config.json"), 4)], repeats=1, dropouts=(0.0,))
    assert row["tokens"] == 4 * 128
    assert row["linear_flops"] == row["independent_linear_flops"]
    # per layer Wqkv, attention output, gated_layers, wo (sparse: the last layer's Wqkv as two calls, queries at the
    # labelled positions and keys/values everywhere); then the head's dense and decoder
    assert row["linear_calls"] == 2 * 4 + sparse_prediction + 2
    assert 0 < row["labelled_positions"] < row["tokens"]
    assert 0 < row["efficiency"] and row["step_ms"] > 0 and row["tokens_per_s"] > 0
