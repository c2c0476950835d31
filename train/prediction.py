"""Batch prediction and embedding with a fine-tuned DNABERT-2 (full model or LoRA adapter), grouped by length."""

import json
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerFast

from configuration_dnabert2 import DNABert2Config
from modeling_dnabert2 import DNABert2ForSequenceClassification, mean_pool
from dnabert2.train.fasta import expand_paths, read_fasta
from dnabert2.train.finetune_data import read_csv_split


class UntrainedHeadError(ValueError):
    """A model folder without a trained classification head (e.g. a pretrained encoder)."""


def load_classifier(model_dir, quantize: str | None = None, base_model: str | None = None,
                    allow_untrained_head: bool = False):
    """A fine-tuned classifier from a saved folder; a LoRA adapter is merged into its base model.

    The base model of an adapter is ``base_model`` if given, else the one recorded in adapter_config.json.
    A folder whose checkpoint holds no classifier weights (a pretrained encoder) is refused with
    ``UntrainedHeadError``, since its predictions would be random, unless ``allow_untrained_head``.
    ``quantize="int8"`` applies dynamic int8 quantization to the linear layers (CPU inference).
    """
    model_dir = Path(model_dir)
    adapter = model_dir / "adapter_config.json"
    if adapter.exists():
        from peft import PeftModel

        base_path = base_model or json.loads(adapter.read_text())["base_model_name_or_path"]
        if not Path(base_path).is_dir() and (Path(base_path).is_absolute() or base_path.startswith(".")):
            raise FileNotFoundError(
                f"{adapter}: the adapter's base model {base_path!r} is not a folder here. Pass the base model's "
                "folder or Hub id with --base_model."
            )
        config = DNABert2Config.from_pretrained(model_dir)
        base = DNABert2ForSequenceClassification.from_pretrained(base_path, config=config)
        model = PeftModel.from_pretrained(base, model_dir).merge_and_unload()
    else:
        model, info = DNABert2ForSequenceClassification.from_pretrained(model_dir, output_loading_info=True)
        if "classifier.weight" in info["missing_keys"] and not allow_untrained_head:
            raise UntrainedHeadError(
                f"{model_dir} holds no trained classification head (no classifier weights): its predictions would "
                "be random. Fine-tune it first (dnabert2-finetune ... --save_model True), or pass "
                "--allow_untrained_head True."
            )
    model.eval()
    if quantize == "int8":
        model = quantize_int8(model)
    elif quantize is not None:
        raise ValueError(f"Unknown quantization {quantize!r}; use 'int8'.")
    return model


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of every linear layer (weights int8, activations quantized per call; CPU)."""
    return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def read_inputs(path) -> tuple[list[str], list[tuple]]:
    """Names and sequence tuples from a CSV (``sequence`` or ``sequence1,sequence2`` columns) or FASTA file."""
    path = Path(path)
    if path.suffix == ".csv":
        columns = read_csv_split(path, require_labels=False)
        keys = [c for c in ("sequence", "sequence1", "sequence2") if c in columns]
        sequences = list(zip(*(columns[k] for k in keys)))
        return [str(i) for i in range(len(sequences))], sequences
    records = [r for p in expand_paths(str(path)) for r in read_fasta(p)]
    return [r.name for r in records], [(r.sequence,) for r in records]


def length_batches(lengths, batch_size):
    """Indices grouped into batches of similar length (longest first), so little padding is computed."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def predict(model, tokenizer, sequences, batch_size=64, max_length=512, with_embeddings=False, progress=True):
    """Logits (N, num_labels) in input order and, optionally, mean-pooled embeddings (N, hidden)."""
    encoded = tokenizer(*zip(*sequences), truncation=True, max_length=max_length)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    logits = np.zeros((len(sequences), model.config.num_labels), dtype=np.float32)
    embeddings = np.zeros((len(sequences), model.config.hidden_size), dtype=np.float32) if with_embeddings else None
    for batch in tqdm(length_batches(lengths, batch_size), desc="Predicting", disable=not progress):
        features = tokenizer.pad([{k: encoded[k][i] for k in encoded} for i in batch], return_tensors="pt")
        out = model(**features, output_hidden_states=with_embeddings)
        logits[batch] = out.logits.float().numpy()
        if with_embeddings:
            pooled = mean_pool(out.hidden_states[-1], features["attention_mask"])
            embeddings[batch] = pooled.float().numpy()
    return logits, embeddings


def write_predictions(path, names, logits, config):
    """CSV: name, predicted label (or value) and per-class probabilities."""
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if config.problem_type == "regression":
            writer.writerow(["name", "prediction"])
            writer.writerows([name, float(value)] for name, value in zip(names, logits[:, 0]))
            return
        labels = [config.id2label[i] for i in range(config.num_labels)]
        if config.problem_type == "multi_label_classification":
            probabilities = 1 / (1 + np.exp(-logits))
            predicted = [";".join(l for l, p in zip(labels, row) if p > 0.5) for row in probabilities]
        else:
            probabilities = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
            predicted = [labels[i] for i in probabilities.argmax(-1)]
        writer.writerow(["name", "prediction"] + [f"prob_{label}" for label in labels])
        writer.writerows([name, pred] + [f"{p:.6f}" for p in row] for name, pred, row in zip(names, predicted, probabilities))


def load_tokenizer(model_dir):
    """The tokenizer saved in a model folder (read directly: no config, so no remote-code question)."""
    return PreTrainedTokenizerFast.from_pretrained(model_dir)
