"""Ship a pretraining checkpoint as the repository's model: its weights, in float16, become the root
model.safetensors; the root config.json stays (it must describe the same architecture; it keeps dropout 0.1 for
fine-tuning where the run trained with 0); its training and evaluation log becomes
benchmarks/results/pretraining_log.json, with the command that made it.

The command line is ``python train/ship_model.py``.
"""

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from dnabert2.runtime.errors import InputError
from dnabert2.runtime.files import write_text_atomic

# Config entries a checkpoint may differ in from the shipped config without being another architecture.
NOT_ARCHITECTURE = {
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "transformers_version",
    "_name_or_path",
    "dtype",
    "torch_dtype",
}


def architecture(config: dict) -> dict:
    """The config entries that define the architecture."""
    return {key: value for key, value in config.items() if key not in NOT_ARCHITECTURE}


def ship(checkpoint: Path, command: str, root: Path) -> Path:
    """Write the checkpoint's weights as float16 to ``root``/model.safetensors and its log to
    ``root``/benchmarks/results/pretraining_log.json; refuses another architecture or another set of weight names."""
    shipped, trained = (json.loads((folder / "config.json").read_text()) for folder in (root, checkpoint))
    if architecture(shipped) != architecture(trained):
        different = sorted(
            k for k in architecture(shipped).keys() | architecture(trained).keys() if shipped.get(k) != trained.get(k)
        )
        raise InputError(f"{checkpoint}: another architecture than the shipped config ({', '.join(different)}).")
    weights = load_file(checkpoint / "model.safetensors")
    target = root / "model.safetensors"
    if set(weights) != set(load_file(target)):
        raise InputError(f"{checkpoint}: its weight names differ from the shipped model's.")
    save_file(
        {name: tensor.to(torch.float16).contiguous() for name, tensor in weights.items()},
        target,
        metadata={"format": "pt"},
    )
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    log = {"command": command, "global_step": state["global_step"], "log_history": state["log_history"]}
    write_text_atomic(root / "benchmarks" / "results" / "pretraining_log.json", json.dumps(log, indent=2))
    return target
