"""Explain a fine-tuned DNABERT-2 classifier base by base (ism, ig or attention) into sharded Parquet, with tracks,
tfmodisco-lite arrays and logos.

    dnabert2-explain --model_name_or_path finetuned --input positives.fa --output_dir explained --method ism \\
        --modisco explained/modisco --plot explained/logos.png
    dnabert2-explain --model_name_or_path finetuned --input peaks.bed --fasta hg38.fa --output_dir ig \\
        --method ig --bedgraph ig/attribution.bedGraph --bigwig ig/attribution.bw

Inputs as dnabert2-predict reads them (FASTA/FASTQ(.gz), CSV with a sequence column, BED + --fasta; --window /
--stride). Rows: index, name, description, start, end, sequence, method, target, score (the target's logit),
attribution (one value per base), for ism hypothetical (4 per base, A C G T), for ig completeness_gap. The worker
that completes the run writes the tracks, arrays and logos from all the rows (docs/explanations.md).
"""

import logging
from dataclasses import asdict, dataclass, field

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.attribution import (
    METHODS,
    base_tracks,
    check_ig_baseline,
    explain_to_parts,
    load_explained_model,
    parse_layers,
    parse_region,
    plot_logos,
    write_bedgraph,
    write_bigwig,
    write_modisco_inputs,
)
from dnabert2.inference.inputs import check_inputs, check_windows
from dnabert2.runtime.arguments import REQUIRED, command_parser, model_field
from dnabert2.runtime.errors import InputError, run_command

logger = logging.getLogger("explain")
# the arguments that change the explanations: the run's manifest records them
RECORDED_SETTINGS = (
    *("method", "target", "region", "layers", "ig_steps", "ig_baseline"),
    *("window", "stride", "base_model", "part_size"),
)


@dataclass
class ExplainArguments:
    model_name_or_path: str = model_field("Fine-tuned classifier folder (merged model or LoRA adapter).", REQUIRED)
    input: str = field(metadata={"help": "FASTA/FASTQ(.gz), CSV (sequence column) or BED (with --fasta)."})
    output_dir: str = field(metadata={"help": "Folder of Parquet parts and .manifest.json (shared by all shards)."})
    method: str = field(default="ism", metadata={"help": "ism | ig | attention."})
    target: str | None = field(default=None, metadata={"help": "Class name explained (default: the predicted one)."})
    region: str | None = field(default=None, metadata={"help": "ism: mutate only bases START:END of each input."})
    layers: str = field(default="-1", metadata={"help": "attention: comma-separated layers, summed (-1: the last)."})
    ig_steps: int = field(default=64, metadata={"help": "ig: integration points (Gauss-Legendre)."})
    ig_baseline: str = field(
        default="mask", metadata={"help": "ig: each sequence token's baseline embedding: mask | zero | pad."}
    )
    fasta: str | None = field(default=None, metadata={"help": "Indexed reference FASTA for a BED --input."})
    window: int | None = field(default=None, metadata={"help": "Explain records longer than this many bp in windows."})
    stride: int | None = field(default=None, metadata={"help": "bp between window starts (default: --window)."})
    base_model: str | None = field(default=None, metadata={"help": "Base model of a LoRA adapter (default: recorded)."})
    max_tokens_per_batch: int = field(default=16384, metadata={"help": "Token budget of a batch (count x longest)."})
    part_size: int = field(default=1000, metadata={"help": "Rows per Parquet part file."})
    shard_index: int = field(default=0, metadata={"help": "This worker's shard (with --num_shards)."})
    num_shards: int = field(default=1, metadata={"help": "Shards in all (times WORLD_SIZE under a launcher)."})
    bedgraph: str | None = field(default=None, metadata={"help": "Write the attribution track here (bedGraph)."})
    bigwig: str | None = field(default=None, metadata={"help": "Write the attribution track here (bigWig, pyBigWig)."})
    modisco: str | None = field(default=None, metadata={"help": "Write ohe.npy / attr.npy (N, 4, L) here."})
    plot: str | None = field(default=None, metadata={"help": "Draw logos of the top-scoring rows into this png."})
    plot_top: int = field(default=5, metadata={"help": "How many rows --plot draws."})


def main(argv=None):
    """Explain this worker's shard into --output_dir; the worker completing the run writes the extra outputs.
    Returns the runner's counts and the paths written."""
    parser = command_parser(
        ExplainArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-explain --model_name_or_path DIR --input FILE --output_dir DIR [--method ism|ig|attention]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    if args.method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {args.method!r}.")
    check_inputs(args.input, args.fasta)  # before the model loads
    check_windows(args.window, args.stride)
    region = parse_region(args.region)
    check_ig_baseline(args.ig_baseline)
    model = load_explained_model(args.model_name_or_path, args.base_model)
    layers = parse_layers(args.layers, model.config.num_hidden_layers)
    settings = {key: value for key, value in asdict(args).items() if key in RECORDED_SETTINGS}
    store, counts = explain_to_parts(
        model,
        load_tokenizer(args.model_name_or_path),
        args.model_name_or_path,
        args.input,
        args.output_dir,
        args.method,
        settings,
        args.fasta,
        args.window,
        args.stride,
        args.part_size,
        args.shard_index,
        args.num_shards,
        target=args.target,
        region=region,
        layers=layers,
        ig_steps=args.ig_steps,
        ig_baseline=args.ig_baseline,
        max_tokens_per_batch=args.max_tokens_per_batch,
    )
    wanted = args.bedgraph or args.bigwig or args.modisco or args.plot
    if wanted and not counts["completes the run"]:
        logger.info("Other shards are not done: the worker that completes the run writes the tracks and arrays.")
        return counts
    written = {}
    if wanted:
        table = store.merged_table()
        if args.bedgraph or args.bigwig:
            tracks, sizes = base_tracks(table, args.input, args.fasta)
            if args.bedgraph:
                written["bedgraph"] = str(write_bedgraph(tracks, args.bedgraph))
            if args.bigwig:
                written["bigwig"] = str(write_bigwig(tracks, sizes, args.bigwig))
        if args.modisco:
            written.update({key: str(path) for key, path in write_modisco_inputs(table, args.modisco).items()})
        if args.plot:
            written["plot"] = str(plot_logos(table, args.plot, args.plot_top))
    for key, path in written.items():
        print(f"{key}: {path}")
    return {**counts, "written": written}


if __name__ == "__main__":
    run_command(main)
