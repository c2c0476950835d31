"""Where a model comes from, and loading it quietly: a folder, or a Hub id that can be loaded (online, or from the
local cache offline); anything else is ``InputError("model not found: ...")`` before any work starts."""

import re
from contextlib import contextmanager
from pathlib import Path

from dnabert2.runtime.errors import InputError

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


class UntrainedHeadError(InputError):
    """A model folder without a trained classification head (e.g. a pretrained encoder, or Trainer checkpoints
    only)."""


def resolve_model(name_or_path, need_config: bool = True) -> str:
    """``name_or_path`` if it names a model folder (with a config.json when ``need_config``; a tokenizer folder needs
    none), or a Hub id that can be loaded (online, or cached offline); else ``InputError`` saying what is missing."""
    path = Path(name_or_path)
    if path.is_dir() and not need_config:
        return str(path)
    if path.is_dir():
        checkpoints = sorted(
            (p for p in path.glob("checkpoint-*") if p.name.rsplit("-", 1)[-1].isdigit()),
            key=lambda p: int(p.name.rsplit("-", 1)[-1]),
        )
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            if checkpoints:
                raise UntrainedHeadError(
                    f"{path} holds no saved model, only Trainer checkpoints "
                    f"({', '.join(p.name for p in checkpoints)}): pass {checkpoints[-1]}, or fine-tune with "
                    "--save_model True to save the model itself."
                )
            raise InputError(f"not a model folder (no config.json): {path}")
        return str(path)
    if path.exists():
        raise InputError(f"model not found: {path} is a file, not a model folder")
    if HUB_ID.fullmatch(str(name_or_path)):
        from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

        wanted = "config.json" if need_config else "tokenizer_config.json"
        if isinstance(try_to_load_from_cache(str(name_or_path), wanted), str):
            return str(name_or_path)
        if constants.HF_HUB_OFFLINE:
            raise InputError(f"model not found: {name_or_path} (not a folder here, nor in the local Hub cache offline)")
        try:
            hf_hub_download(str(name_or_path), wanted)
        except Exception as error:  # no network, no such repository, no access: the user's to fix
            raise InputError(
                f"model not found: {name_or_path} (not a folder here; from the Hub: {type(error).__name__})"
            ) from error
        return str(name_or_path)
    raise InputError(f"model not found: {name_or_path}")


@contextmanager
def quiet_transformers():
    """transformers' warnings (its load report among them) and progress bars silenced inside the block."""
    from transformers.utils import logging as transformers_logging

    verbosity, bars = transformers_logging.get_verbosity(), transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()  # "Loading weights" bars on every load
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()
