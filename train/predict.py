"""Predict with a fine-tuned DNABERT-2 (merged model or LoRA adapter folder) on a CSV or FASTA file.

    python train/predict.py --model output --input sequences.fa --output predictions.csv --embeddings emb.npy
"""

from dataclasses import dataclass, field

import numpy as np
from transformers import HfArgumentParser

from dnabert2.train.prediction import load_classifier, load_tokenizer, predict, read_inputs, write_predictions


@dataclass
class PredictArguments:
    model: str = field(metadata={"help": "Folder saved by train/finetune.py --save_model."})
    input: str = field(metadata={"help": "CSV (sequence column, or sequence1/sequence2) or FASTA(.gz)."})
    output: str = field(default="predictions.csv", metadata={"help": "CSV: name, prediction, class probabilities."})
    embeddings: str | None = field(default=None, metadata={"help": "Also save mean-pooled embeddings to this .npy."})
    batch_size: int = field(default=64, metadata={"help": "Sequences per batch (grouped by length)."})
    max_length: int = field(default=512, metadata={"help": "Tokens per sequence; longer ones are cut."})
    quantize: str | None = field(default=None, metadata={"help": "'int8': dynamic int8 linear layers (CPU)."})
    base_model: str | None = field(
        default=None, metadata={"help": "Base model of a LoRA adapter (default: the one recorded in the adapter)."}
    )
    allow_untrained_head: bool = field(
        default=False, metadata={"help": "Predict even with a model that has no trained head (random outputs)."}
    )


def main(argv=None):
    (args,) = HfArgumentParser(PredictArguments).parse_args_into_dataclasses(argv)
    model = load_classifier(args.model, args.quantize, args.base_model, args.allow_untrained_head)
    names, sequences = read_inputs(args.input)
    logits, embeddings = predict(
        model, load_tokenizer(args.model), sequences, args.batch_size, args.max_length, args.embeddings is not None
    )
    write_predictions(args.output, names, logits, model.config)
    if embeddings is not None:
        np.save(args.embeddings, embeddings)
    print(f"Wrote {len(names)} predictions to {args.output}")


if __name__ == "__main__":
    main()
