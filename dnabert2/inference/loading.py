"""Loading what an inference job needs, quietly: an encoder to embed, a classifier to predict, a masked LM to score.

A model is a folder (or a Hub id, when the Hub can be reached or the model is in the local cache); anything else is
``InputError("model not found: ...")`` before any work starts. transformers' load report is not shown: a load says
something only when the job is affected, in one line (a predictor without a trained head is refused).
"""

import json
import logging
from pathlib import Path

import torch

from dnabert2.models import (
    UntrainedHeadError,
    classifier_config,
    for_inference,
    is_dnabert2,
    pretrained_classifier,
    quiet_transformers,
    resolve_model,
)
from dnabert2.runtime.errors import InputError
from modeling_dnabert2 import DNABert2ForMaskedLM, DNABert2Model

logger = logging.getLogger(__name__)


def _refuse_untrained_head(model_dir, missing_keys, allow_untrained_head: bool):
    """UntrainedHeadError when the classifier's weights are among ``missing_keys``, unless allowed (then one
    warning line)."""
    if not any(key.startswith("classifier.") for key in missing_keys):
        return
    if not allow_untrained_head:
        raise UntrainedHeadError(
            f"{model_dir} holds no trained classification head (no classifier weights): its predictions would "
            "be random. Fine-tune it first (dnabert2-finetune ... --save_model True), or pass "
            "--allow_untrained_head True."
        )
    logger.warning("%s has no trained classification head: its class outputs are random.", model_dir)


def load_classifier(
    model_dir, quantize: str | None = None, base_model: str | None = None, allow_untrained_head: bool = False
):
    """A fine-tuned classifier from a saved folder; a LoRA adapter is merged into its base model.

    The base model of an adapter is ``base_model`` if given, else the one recorded in adapter_config.json; what
    neither it nor the adapter holds is named in one warning. A folder whose checkpoint (or adapter) holds no
    classifier weights (a pretrained encoder) is refused with ``UntrainedHeadError``, since its predictions would
    be random, unless ``allow_untrained_head``. ``quantize="int8"`` applies dynamic int8 quantization to the
    linear layers (CPU inference).
    """
    if quantize not in (None, "int8"):
        raise InputError(f"Unknown quantization {quantize!r}; use 'int8'.")
    model_dir = Path(resolve_model(model_dir))
    adapter = model_dir / "adapter_config.json"
    if adapter.exists():
        from peft import PeftModel
        from peft.utils import load_peft_weights

        base_path = base_model or json.loads(adapter.read_text())["base_model_name_or_path"]
        if not Path(base_path).is_dir() and (Path(base_path).is_absolute() or base_path.startswith(".")):
            raise InputError(
                f"{adapter}: the adapter's base model {base_path!r} is not a folder here. Pass the base model's "
                "folder or Hub id with --base_model."
            )
        config = classifier_config(model_dir)
        model, info = pretrained_classifier(resolve_model(base_path), config, output_loading_info=True)
        saved = load_peft_weights(str(model_dir))
        missing = [key for key in info["missing_keys"] if not any(name.endswith(f".{key}") for name in saved)]
        _refuse_untrained_head(model_dir, missing, allow_untrained_head)
        missing = [key for key in missing if not key.startswith("classifier.")]  # said above, if at all
        if missing:
            logger.warning(
                "%s: neither the adapter nor its base model %s holds %s; these weights are newly initialised.",
                model_dir,
                base_path,
                ", ".join(sorted(missing)),
            )
        model = PeftModel.from_pretrained(model, model_dir).merge_and_unload()
    else:
        model, info = pretrained_classifier(model_dir, classifier_config(model_dir), output_loading_info=True)
        _refuse_untrained_head(model_dir, info["missing_keys"], allow_untrained_head)
    model = for_inference(model).eval()  # a model other than DNABERT-2 gets its interface
    return quantize_int8(model) if quantize == "int8" else model


def load_encoder(model_dir, base_model: str | None = None) -> DNABert2Model:
    """The encoder of a model folder (pretrained, fine-tuned, or a LoRA adapter merged into its base), for
    embeddings: no head is loaded. Encoder weights the folder lacks are named in one warning."""
    model_dir = Path(resolve_model(model_dir))
    if (model_dir / "adapter_config.json").exists() or not is_dnabert2(model_dir):  # through the classifier's view
        return load_classifier(model_dir, base_model=base_model, allow_untrained_head=True).bert
    with quiet_transformers():
        encoder, info = DNABert2Model.from_pretrained(model_dir, output_loading_info=True)
    if info["missing_keys"]:
        logger.warning(
            "%s lacks encoder weights %s: they are newly initialised.", model_dir, ", ".join(info["missing_keys"])
        )
    return encoder.eval()


def load_masked_lm(model_dir):
    """A masked language model (a pretrained checkpoint) for likelihoods and variant scores: this project's through
    its own class, any other (BERT, ESM, ...) through ``AutoModelForMaskedLM``; one without a trained MLM head is
    refused."""
    model_dir = resolve_model(model_dir)
    with quiet_transformers():
        if is_dnabert2(model_dir):
            model, info = DNABert2ForMaskedLM.from_pretrained(model_dir, output_loading_info=True)
        else:
            from transformers import AutoModelForMaskedLM

            model, info = AutoModelForMaskedLM.from_pretrained(
                model_dir, trust_remote_code=True, output_loading_info=True
            )
    head = [key for key in info["missing_keys"] if key.startswith(("cls.", "lm_head."))]
    if head:
        raise InputError(
            f"{model_dir} holds no masked-LM head ({', '.join(head)}): it is not a pretrained checkpoint (a "
            "fine-tuned classifier keeps only the encoder). Pass the pretrained model it came from."
        )
    return model.eval()


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every linear layer (weights int8, activations quantized per call; CPU)."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
