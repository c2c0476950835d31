"""LoRA adapters (peft) on DNABERT-2's linear layers, with the new head trained in full."""

# Linear layers of this model; the original script's default ("query,value") matched nothing in DNABERT-2.
DEFAULT_LORA_TARGETS = "Wqkv,attention.output.dense,gated_layers,wo"


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
        modules_to_save=["classifier", "pooler"],
    )
    model = get_peft_model(model, lora)
    model.print_trainable_parameters()
    return model
