"""Predict with a fine-tuned DNABERT-2 (merged model or LoRA adapter folder) on a CSV or FASTA file.

    python train/predict.py --model output --input sequences.fa --output predictions.csv --embeddings emb.npy

Whole sequences by default (ALiBi has no position limit; memory grows linearly with length). Inputs are read,
scored and written as they come, batched by a token budget, so a multi-gigabyte FASTA need not fit in memory.
Records longer than you want to score whole go in windows (--window/--stride, in bp), one output row per window
(name, start, end), plus with --aggregate mean one row per record averaging its windows' logits.
Sharded (--num_shards/--shard_index, or several processes under accelerate launch / torchrun: the launcher's
RANK/WORLD_SIZE pick each worker's records), every worker writes resumable Parquet parts into <output>.parts/ (or
--output_dir) and the worker that completes the last shard merges them, in input order, into --output (and
--embeddings): the same rows one process writes. --merge_only merges a finished run again. With --output_dir alone,
the parts are the output (as dnabert2-embed writes them).
"""

import csv
import logging
import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

from dnabert2.data.alphabet import BaseTally
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.prediction import (
    LengthLimit,
    NpyRowWriter,
    iter_inputs,
    load_classifier,
    output_cells,
    predict_stream,
    prediction_columns,
    prediction_header,
    prediction_row,
    sliding_windows,
    stored_outputs,
    with_record_means,
)
from dnabert2.inference.sharding import open_run, position_columns, run_sharded, worker_device
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from dnabert2.runtime.files import atomic_output
from dnabert2.runtime.logs import configure_logging

logger = logging.getLogger("predict")


@dataclass
class PredictArguments:
    model: str = field(metadata={"help": "Folder saved by train/finetune.py --save_model."})
    input: str = field(metadata={"help": "CSV (sequence column, or sequence1/sequence2) or FASTA(.gz)."})
    output: str = field(
        default="predictions.csv", metadata={"help": "CSV: name, start, end, prediction, probabilities."}
    )
    embeddings: str | None = field(
        default=None, metadata={"help": "Also write mean-pooled embeddings, one row per output row, to this .npy."}
    )
    max_tokens_per_batch: int = field(
        default=16384, metadata={"help": "Token budget of a batch (count x longest); a longer input goes alone."}
    )
    max_length: int | None = field(
        default=None, metadata={"help": "Token limit per input (default: none, whole sequences)."}
    )
    long_inputs: str = field(
        default="cut",
        metadata={"help": "Inputs over --max_length: 'cut' (with a warning that counts them) or 'refuse'."},
    )
    window: int | None = field(default=None, metadata={"help": "Score records longer than this many bp in windows."})
    stride: int | None = field(default=None, metadata={"help": "bp between window starts (default: --window)."})
    aggregate: str | None = field(
        default=None, metadata={"help": "'mean': also a row per windowed record, from its windows' mean logits."}
    )
    rc_average: bool = field(
        default=False,
        metadata={"help": "Average the logits (and embeddings) of each input and its reverse complement."},
    )
    quantize: str | None = field(default=None, metadata={"help": "'int8': dynamic int8 linear layers (CPU)."})
    kmer: int | None = field(
        default=None,
        metadata={"help": "k-mer length of a DNABERT model, -1 for none (default: from the model's vocabulary)."},
    )
    base_model: str | None = field(
        default=None, metadata={"help": "Base model of a LoRA adapter (default: the one recorded in the adapter)."}
    )
    allow_untrained_head: bool = field(
        default=False, metadata={"help": "Predict even with a model that has no trained head (random outputs)."}
    )
    fasta: str | None = field(default=None, metadata={"help": "Indexed reference FASTA for a BED --input."})
    output_dir: str | None = field(
        default=None, metadata={"help": "Write sharded, resumable Parquet parts and manifest.json here instead."}
    )
    part_size: int = field(default=10000, metadata={"help": "Rows per Parquet part file (sharded runs)."})
    shard_index: int = field(default=0, metadata={"help": "This worker's shard (job arrays)."})
    num_shards: int = field(default=1, metadata={"help": "Shards in all (times WORLD_SIZE under a launcher)."})
    merge_only: bool = field(
        default=False, metadata={"help": "Merge the parts of a finished sharded run into --output (and --embeddings)."}
    )


def main(argv=None):
    """Stream predictions (and embeddings) for every input, or window, to the output files."""
    parser = command_parser(
        PredictArguments,
        usage="dnabert2-predict --model DIR --input FILE [--output predictions.csv] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    configure_logging()
    if args.aggregate not in (None, "mean"):
        raise ValueError(f"--aggregate must be 'mean', got {args.aggregate!r}.")
    if args.stride and not args.window:
        raise ValueError("--stride needs --window.")
    if args.output_dir or args.merge_only or args.num_shards > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return predict_to_parts(args)
    model = load_classifier(args.model, args.quantize, args.base_model, args.allow_untrained_head).to(worker_device())
    limit = LengthLimit(args.max_length, args.long_inputs)
    pieces = sliding_windows(iter_inputs(args.input, args.fasta), args.window, args.stride)
    rows = 0
    tally = BaseTally()
    stream = predict_stream(
        model,
        load_tokenizer(args.model, args.kmer),
        pieces,
        args.max_tokens_per_batch,
        limit,
        args.embeddings is not None,
        rc_average=args.rc_average,
        tally=tally,
    )
    # both files appear under their names only once complete (an error or a kill leaves neither half-written)
    with (
        atomic_output(args.output) as output,
        open(output, "w", newline="") as handle,
        NpyRowWriter(args.embeddings) if args.embeddings else nullcontext() as embeddings,
    ):
        writer = csv.writer(handle)
        writer.writerow(prediction_header(model.config))
        for piece, logits, embedding in with_record_means(stream) if args.aggregate else stream:
            writer.writerow(prediction_row(piece, logits, model.config))
            if embeddings is not None:
                embeddings.write(embedding)
            rows += 1
    if limit.report():
        logger.warning(limit.report())
    print(tally.report())
    print(
        f"Wrote {rows} predictions to {args.output}"
        + (f" and embeddings to {args.embeddings}" if args.embeddings else "")
    )


def predict_to_parts(args: PredictArguments) -> dict:
    """This worker's shard of the predictions into Parquet parts (--output_dir, else <output>.parts); the worker that
    completes the last shard (or --merge_only) merges them into --output. Returns the run's counts."""
    if args.aggregate:
        raise ValueError("Sharded runs write one row per record or window: --aggregate mean needs one process.")
    settings = {
        key: value
        for key, value in asdict(args).items()
        if key in ("max_length", "long_inputs", "window", "stride", "rc_average", "quantize", "base_model", "part_size")
    }
    settings["embeddings"] = args.embeddings is not None
    parts = args.output_dir or f"{args.output}.parts"
    store = open_run(parts, args.model, settings, args.input, args.fasta, args.shard_index, args.num_shards)
    model = load_classifier(args.model, args.quantize, args.base_model, args.allow_untrained_head).to(worker_device())
    if args.merge_only:
        return {"merged rows": merge_predictions(store, args, model.config)}
    tokenizer, limit = load_tokenizer(args.model, args.kmer), LengthLimit(args.max_length, args.long_inputs)

    def compute(rows):
        import pyarrow as pa

        stream = list(
            predict_stream(
                model,
                tokenizer,
                [piece for _, piece in rows],
                args.max_tokens_per_batch,
                limit,
                args.embeddings is not None,
                progress=False,
                rc_average=args.rc_average,
            )
        )
        columns = {**position_columns(rows), **prediction_columns([logits for _, logits, _ in stream], model.config)}
        if args.embeddings is not None:
            columns["embedding"] = pa.array(
                [embedding.astype("float32") for _, _, embedding in stream], pa.list_(pa.float32())
            )
        return pa.table(columns)

    counts = run_sharded(
        iter_inputs(args.input, args.fasta),
        store,
        args.part_size,
        args.window,
        args.stride,
        compute,
        skip_unusable=False,
    )  # as one process: every record gets its row
    if limit.report():
        logger.warning(limit.report())
    if counts["completes the run"] and not args.output_dir:
        counts["merged rows"] = merge_predictions(store, args, model.config)
    return counts


def merge_predictions(store, args: PredictArguments, config) -> int:
    """Write the parts of a complete run, in input order, as the CSV (and .npy) that one process writes."""
    table = store.merged_table()
    rows = table.drop_columns([c for c in ("embedding",) if c in table.column_names]).to_pylist()
    with (
        atomic_output(args.output) as output,
        open(output, "w", newline="") as handle,
        NpyRowWriter(args.embeddings) if args.embeddings else nullcontext() as embeddings,
    ):
        writer = csv.writer(handle)
        writer.writerow(prediction_header(config))
        for row in rows:
            writer.writerow([row["name"], row["start"], row["end"]] + output_cells(stored_outputs(row, config), config))
        for vector in table.column("embedding").to_numpy(zero_copy_only=False) if embeddings is not None else ():
            embeddings.write(vector)
    print(
        f"Merged {len(rows)} predictions from {store.folder} into {args.output}"
        + (f" and embeddings into {args.embeddings}" if args.embeddings else "")
    )
    return len(rows)


if __name__ == "__main__":
    run_command(main)
