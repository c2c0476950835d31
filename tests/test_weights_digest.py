"""The weights digest that keys results to a model: it changes with the weights and only with them."""

import hashlib

import torch
from safetensors.torch import save_file

from dnabert2.runtime.weights import weights_digest


def test_digest_follows_the_weight_files_not_the_training_arguments(tmp_path):
    save_file({"w": torch.ones(3)}, tmp_path / "model.safetensors")
    expected = hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()[:16]
    assert weights_digest(tmp_path) == expected
    (tmp_path / "training_args.bin").write_bytes(b"run 1")  # rewritten by every run, whatever the weights
    assert weights_digest(tmp_path) == expected
    save_file({"w": torch.zeros(3)}, tmp_path / "model.safetensors")
    assert weights_digest(tmp_path) != expected
    torch.save({"w": torch.ones(3)}, tmp_path / "pytorch_model.bin")  # a second weight file counts too
    both = hashlib.sha256(
        (tmp_path / "model.safetensors").read_bytes() + (tmp_path / "pytorch_model.bin").read_bytes()
    ).hexdigest()[:16]
    assert weights_digest(tmp_path) == both
    assert weights_digest(tmp_path / "empty") is None
