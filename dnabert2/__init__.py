"""DNABERT-2: the library (data, pretraining, finetuning, inference, hub, runtime) behind the ``dnabert2-*`` commands.

The model itself is the top-level modules ``configuration_dnabert2``, ``modeling_dnabert2`` and
``bert_layers_triton`` (the repository root is a Hugging Face model folder: its remote code imports nothing else).
What the code reads at run time (the shipped model, metric modules) travels as package data (``packaged``).
"""

import importlib.resources
from pathlib import Path

# name -> where it lies in the repository (relative to its root); installed, it lies in dnabert2/<name>
_REPOSITORY_LAYOUT = {"model": "."}


def packaged(name: str) -> Path:
    """The folder of a run-time resource: "model" (the shipped model; other resources lie beside their modules).

    In a clone or an editable install it is the repository's own folder; in a regular install, the copy that
    travelled as package data.
    """
    package = Path(str(importlib.resources.files("dnabert2")))
    installed = package / name
    if installed.is_dir():
        return installed
    return (package.parent / _REPOSITORY_LAYOUT[name]).resolve()
