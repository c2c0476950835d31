"""Fine-tune DNABERT-2 on a GUE task or your own CSV folder (the original DNABERT-2 command line works too).

For example:

    python train/finetune.py --model_name_or_path . --data_path ../shared/data/GUE/tf/0 --kmer -1 \
        --run_name tf0 --model_max_length 30 --per_device_train_batch_size 32 --learning_rate 3e-5 \
        --num_train_epochs 3 --output_dir output --evaluation_strategy epoch --use_lora --fp16

Results: output_dir/results/<run_name>/eval_results.json (eval_accuracy, eval_f1, eval_matthews_correlation, ...).
"""

import sys

from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments, legacy_argv
from dnabert2.finetuning.trainer import outputs_summary, run_finetune
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Fine-tune with the command line's arguments, print and return the test metrics."""
    parser = command_parser(
        (ModelArguments, DataArguments, FinetuneTrainingArguments),
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-finetune --data_path DIR [--model_name_or_path MODEL] [--output_dir DIR] [options]",
    )
    model_args, data_args, training_args = parser.parse_args_into_dataclasses(
        legacy_argv(sys.argv[1:] if argv is None else argv)
    )
    results = run_finetune(model_args, data_args, training_args)
    print("\n".join(outputs_summary(results, training_args)))
    return results


if __name__ == "__main__":
    run_command(main)
