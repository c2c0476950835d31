"""LoRA adapters (peft) on a model's linear layers, with the new head trained in full; default targets by
architecture."""

from torch import nn

from dnabert2.models import linear_module_names
from dnabert2.runtime.errors import InputError

# Linear layers of this model; the original script's default ("query,value") matched nothing in DNABERT-2.
DEFAULT_LORA_TARGETS = "Wqkv,attention.output.dense,gated_layers,wo"
# BERT (DNABERT) and ESM (Nucleotide Transformer): attention projections and every dense layer, as the release's
# run_nt.sh passes them.
BERT_LORA_TARGETS = "query,key,value,dense"
LORA_TARGETS_BY_MODEL_TYPE = {"dnabert2": DEFAULT_LORA_TARGETS, "bert": BERT_LORA_TARGETS, "esm": BERT_LORA_TARGETS}
# The new head, trained in full and never given adapters (its "dense" layers would otherwise match).
HEAD_MODULES = ["classifier", "pooler"]


def lora_targets(model, requested: str | None) -> list[str]:
    """The LoRA target names for ``model``: ``requested`` (comma-separated) or its architecture's default; an
    InputError names the model's linear layers when a target matches none of them (or there is no default)."""
    linear = linear_module_names(model)
    model_type = getattr(model.config, "model_type", None)
    if requested is None:
        if model_type not in LORA_TARGETS_BY_MODEL_TYPE:
            raise InputError(
                f"No default LoRA targets for a {model_type!r} model: pass --lora_target_modules (its linear layers "
                f"are {', '.join(linear)})."
            )
        requested = LORA_TARGETS_BY_MODEL_TYPE[model_type]
    targets = [name.strip() for name in requested.split(",") if name.strip()]
    names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing or not targets:
        raise InputError(
            f"--lora_target_modules {requested!r}: this {model_type} model has no linear layer named "
            f"{', '.join(missing) or '(none given)'}; its linear layers are {', '.join(linear)}."
        )
    return targets


def with_lora(model, r: int, alpha: int, dropout: float, target_modules: list[str]):
    """``model`` wrapped in LoRA adapters of rank ``r`` on ``target_modules``; classifier and pooler (new, untrained
    layers) are trained in full and saved with the adapter."""
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules,
        exclude_modules=rf"(.*\.)?({'|'.join(HEAD_MODULES)})(\..*)?",
        modules_to_save=HEAD_MODULES,
    )
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    return model
