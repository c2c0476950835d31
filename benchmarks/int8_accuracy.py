"""Accuracy and speed of dynamic int8 quantization on a fine-tuned model: test MCC and logits, fp32 vs int8.

    python train/finetune.py --model_name_or_path . --data_path ../shared/data/GUE/prom/prom_core_tata \
        --output_dir outputs/prom_core_tata --save_model True ...
    python benchmarks/int8_accuracy.py --model outputs/prom_core_tata --data_path ../shared/data/GUE/prom/prom_core_tata
"""

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import matthews_corrcoef

from dnabert2.data.tasks import read_csv_split
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.loading import load_classifier
from dnabert2.inference.prediction import predict_logits
from dnabert2.runtime.arguments import REQUIRED, command_parser, model_field
from dnabert2.runtime.errors import run_command


@dataclass
class Int8Arguments:
    model_name_or_path: str = model_field("Fine-tuned model folder (dnabert2-finetune --save_model True).", REQUIRED)
    data_path: str = field(metadata={"help": "Task folder with test.csv."})
    max_length: int = field(default=128)
    threads: int = field(default=2)
    output: str = field(default="benchmarks/results/int8_accuracy.json")


def main(argv=None):
    (args,) = command_parser(Int8Arguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(argv)
    torch.set_num_threads(args.threads)
    test = read_csv_split(Path(args.data_path) / "test.csv")
    sequences, labels = [(s,) for s in test["sequence"]], np.array(test["label"])
    tokenizer = load_tokenizer(args.model_name_or_path)
    rows, logits_by = {}, {}
    for name, quantize in (("fp32", None), ("int8 dynamic", "int8")):
        model = load_classifier(args.model_name_or_path, quantize)
        predict_logits(model, tokenizer, sequences[:256], max_length=args.max_length, progress=False)  # warm-up
        start = time.perf_counter()
        logits, _ = predict_logits(model, tokenizer, sequences, max_length=args.max_length, progress=False)
        seconds = time.perf_counter() - start
        logits_by[name] = logits
        rows[name] = {
            "seconds": seconds,
            "sequences_per_s": len(sequences) / seconds,
            "mcc": float(matthews_corrcoef(labels, logits.argmax(-1))),
        }
    rows["int8 dynamic"]["max_abs_logit_diff"] = float(np.abs(logits_by["int8 dynamic"] - logits_by["fp32"]).max())
    rows["int8 dynamic"]["speedup"] = rows["fp32"]["seconds"] / rows["int8 dynamic"]["seconds"]
    result = {
        "command": " ".join(["python benchmarks/int8_accuracy.py", *(sys.argv[1:] if argv is None else argv)]),
        "test_sequences": len(sequences),
        "results": rows,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_command(main)
