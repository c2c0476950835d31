"""The identity of a model folder's weights: a digest that changes when new weights are saved at the same path."""

import functools
import hashlib
from pathlib import Path

WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin", "adapter_model.bin")  # transformers' and PEFT's names


def weights_digest(folder: Path) -> str | None:
    """SHA-256 (first 16 hex digits) of a model folder's weight files: new weights at the same path are a new model.
    Only weights count: a Trainer's training_args.bin, which differs between two runs that save the same weights,
    does not."""
    files = sorted(p for pattern in WEIGHT_FILES for p in folder.glob(pattern))
    return _digest(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)) if files else None


@functools.lru_cache(maxsize=None)
def _digest(files: tuple) -> str:
    """Hash of the files, computed once per (path, mtime, size): a run asks for it several times."""
    digest = hashlib.sha256()
    for path, _, _ in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
