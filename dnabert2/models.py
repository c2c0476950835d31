"""Which model a folder holds, where it comes from and how to load it: a folder, or a Hub id that can be loaded
(online, or from the local cache offline), anything else ``InputError("model not found: ...")`` before any work
starts; this project's DNABERT-2 through its own classes, any other DNA language model (DNABERT's k-mer BERT, the
Nucleotide Transformer's ESM, ...) through the Auto classes (``trust_remote_code`` allowed), wrapped so that
prediction and embedding call every model the same way; transformers' load report kept quiet."""

import inspect
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from configuration_dnabert2 import DNABert2Config
from dnabert2.runtime.errors import InputError
from modeling_dnabert2 import DNABert2ForSequenceClassification, PackedBatch, PackedEncoding

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


def model_config(source) -> dict:
    """The config.json of a model folder or Hub id (or a config file itself), as a dict."""
    folder = Path(source)
    if folder.is_file():
        path = folder
    elif folder.is_dir():
        path = folder / "config.json"
        if not path.is_file():
            raise InputError(f"not a model folder (no config.json): {source}")
    else:
        from transformers.utils import cached_file

        path = cached_file(str(source), "config.json")
    return json.loads(Path(path).read_text())


def is_dnabert2(source) -> bool:
    """Whether ``source`` holds this project's model: model_type dnabert2, or the published DNABERT-2 config (BERT
    key names, ``alibi_starting_size``, remote code in ``bert_layers``)."""
    config = model_config(source)
    published = "alibi_starting_size" in config or any(
        str(value).startswith("bert_layers") for value in config.get("auto_map", {}).values()
    )
    return config.get("model_type") == DNABert2Config.model_type or published


def classifier_config(source, **overrides):
    """The config of ``source`` with a sequence-classification head's settings (``num_labels`` ...) applied."""
    if is_dnabert2(source):
        return DNABert2Config.from_pretrained(source, **overrides)
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(source, trust_remote_code=True, **overrides)


def saved_as_loaded(model):
    """``model``, set to save its weights under its own key names. transformers 5 saves some architectures (ESM,
    hence NT) under legacy names (``LayerNorm.gamma``) that only ``from_pretrained`` maps back: the Trainer's own
    reloads (the best checkpoint at the end, a resumed run) would leave those weights as they were, silently."""
    model._weight_conversions = []  # nothing to revert on save (transformers reads this list in save_pretrained)
    return model


def new_classifier(config):
    """A randomly initialised sequence classifier of ``config`` (the from-scratch ablation)."""
    if isinstance(config, DNABert2Config):
        return DNABert2ForSequenceClassification(config)
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_config(config, trust_remote_code=True)


def pretrained_classifier(source, config, **kwargs):
    """``from_pretrained`` of the classifier class that fits ``config`` (a new head where the folder has none)."""
    with quiet_transformers():  # its load report would list the new head; callers say what matters
        if isinstance(config, DNABert2Config):
            return DNABert2ForSequenceClassification.from_pretrained(source, config=config, **kwargs)
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            source, config=config, trust_remote_code=True, **kwargs
        )


def linear_module_names(model: nn.Module) -> list[str]:
    """The distinct last names of a model's linear layers (what LoRA targets are matched against), sorted."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, nn.Linear)})


@dataclass
class AutoEncoding(PackedEncoding):
    """PackedEncoding of a model run through its Auto class, with the logits of its head when it has one."""

    logits: torch.Tensor | None = None


class AutoEncoderView(nn.Module):
    """``encode_packed`` of DNABERT-2 for a Hugging Face sequence classifier: its last hidden state on real tokens
    (and its logits). Segment ids go only to models that take them."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.takes_segments = "token_type_ids" in inspect.signature(model.forward).parameters

    @property
    def device(self) -> torch.device:
        """Where the model's weights are."""
        return next(self.parameters()).device

    def encode_packed(self, input_ids, attention_mask=None, token_type_ids=None) -> AutoEncoding:
        """Run the model on a right-padded batch; hidden states packed as DNABERT-2's encoder packs them."""
        limit = getattr(self.config, "max_position_embeddings", None)
        if limit and input_ids.shape[1] > limit:
            raise InputError(
                f"An input is {input_ids.shape[1]:,} tokens long; this {self.config.model_type} model reads at most "
                f"{limit:,} (learned positions). Pass --max_length {limit} or cut records into windows (--window)."
            )
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extra = {"token_type_ids": token_type_ids} if self.takes_segments and token_type_ids is not None else {}
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, **extra)
        packed = PackedBatch.from_mask(attention_mask)
        hidden = packed.unpad(output.hidden_states[-1])
        return AutoEncoding(packed, hidden, None, None, logits=getattr(output, "logits", None))


class AutoClassifier(nn.Module):
    """A Hugging Face sequence classifier with DNABERT-2's inference interface: ``bert.encode_packed`` and
    ``logits_from``, ``config``."""

    def __init__(self, model):
        super().__init__()
        self.bert = AutoEncoderView(model)
        self.config = model.config

    def logits_from(self, encoding: AutoEncoding) -> torch.Tensor:
        """The logits of the head, computed with the encoding."""
        return encoding.logits


def for_inference(model):
    """``model`` with DNABERT-2's inference interface: this project's classifier as is, any other wrapped."""
    return model if isinstance(model, DNABert2ForSequenceClassification) else AutoClassifier(model)
