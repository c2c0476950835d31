"""DNABERT-2: a DNA language model and the library behind the ``dnabert2-*`` commands.

    import dnabert2
    vectors = dnabert2.embed(["ACGTTGCA...", "TTGACA..."])        # (2, hidden) numpy array, shipped model
    table = dnabert2.predict("reads.fa", model="my-classifier")   # pandas DataFrame, one row per record
    likelihoods = dnabert2.score(["ACGTTGCA..."])                 # pandas DataFrame: pseudo-log-likelihoods
    scores = dnabert2.score_variants("calls.vcf.gz", "genome.fa") # pandas DataFrame, one row per ALT allele
    AutoModel.from_pretrained(dnabert2.SHIPPED_MODEL, trust_remote_code=True)

The library lies in subpackages by subject: ``data``, ``pretraining``, ``finetuning``, ``inference``, ``hub``,
``runtime``. The model itself is the top-level modules ``configuration_dnabert2``, ``modeling_dnabert2`` and
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


SHIPPED_MODEL = str(packaged("model"))  # the shipped model's folder, for the Auto classes and every ``model=``

from dnabert2.api import embed, predict, score, score_variants  # noqa: E402  (the API needs ``packaged`` above)

__all__ = ["SHIPPED_MODEL", "embed", "packaged", "predict", "score", "score_variants"]
