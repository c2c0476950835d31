"""Score sequences with a masked language model: each record's (or window's) pseudo-log-likelihood (PLL).

    dnabert2-score --input sequences.fa --output scores.tsv
    dnabert2-score --input genome.fa --window 1000 --mask_stride 4 --output scores.tsv --tracks tracks.parquet
    dnabert2-score --input regions.bed --fasta genome.fa --region 100:200 --output scores.tsv

Output: a TSV with name, start, end, tokens (scored), pll (natural log), pll_per_bp, one row per record or window,
written as computed; with --tracks, a Parquet file with each row's per-token and per-base log-probabilities.
Exact by default (every token masked once); --mask_stride k masks every k-th token per copy (k copies, faster,
approximate). Definitions, figures and limits: docs/likelihoods.md.
"""

import csv
from contextlib import nullcontext
from dataclasses import dataclass, field

from tqdm.auto import tqdm

from dnabert2 import packaged
from dnabert2.inference.inputs import check_inputs
from dnabert2.inference.likelihood import (
    COLUMNS,
    load_scorer,
    parse_region,
    read_pieces,
    score_pieces,
    score_row,
    track_table,
)
from dnabert2.runtime.arguments import command_parser, model_field
from dnabert2.runtime.errors import run_command
from dnabert2.runtime.files import atomic_output


@dataclass
class ScoreArguments:
    input: str = field(metadata={"help": "FASTA/FASTQ(.gz), CSV (sequence column) or BED (with --fasta)."})
    output: str = field(default="scores.tsv", metadata={"help": "TSV: name, start, end, tokens, pll, pll_per_bp."})
    model_name_or_path: str = model_field(
        "Masked language model folder (default: the shipped one).", str(packaged("model"))
    )
    fasta: str | None = field(default=None, metadata={"help": "Indexed reference FASTA for a BED --input."})
    window: int | None = field(default=None, metadata={"help": "Score records longer than this many bp in windows."})
    stride: int | None = field(default=None, metadata={"help": "bp between window starts (default: --window)."})
    region: str | None = field(
        default=None,
        metadata={"help": "START:END (0-based bp of each record): score only the tokens overlapping it."},
    )
    mask_stride: int | None = field(
        default=None,
        metadata={"help": "k: every k-th token masked per copy, k copies (approximate; default: exact, one by one)."},
    )
    tracks: str | None = field(
        default=None, metadata={"help": "Also write per-token and per-base log-probabilities to this Parquet file."}
    )
    max_tokens_per_batch: int = field(
        default=16384, metadata={"help": "Token budget of a batch of masked copies (copies x length)."}
    )


def main(argv=None):
    """Score every record (or window) of --input and write the TSV (and --tracks); returns the number of rows."""
    parser = command_parser(
        ScoreArguments,
        usage="dnabert2-score --input FILE [--output scores.tsv] [--mask_stride K] [--tracks FILE.parquet] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    region = parse_region(args.region)
    check_inputs(args.input, args.fasta)  # before the model loads
    pieces = read_pieces(args.input, args.fasta, args.window, args.stride)
    model, tokenizer = load_scorer(args.model_name_or_path)
    stream = score_pieces(model, tokenizer, pieces, args.mask_stride, region, args.max_tokens_per_batch)
    rows, scored = 0, []
    bar = tqdm(unit="bp", unit_scale=True, desc="Scoring")
    # the files appear under their names only once complete (an error or a kill leaves neither half-written)
    with (
        atomic_output(args.output) as output,
        open(output, "w", newline="") as handle,
        atomic_output(args.tracks) if args.tracks else nullcontext() as tracks_path,
    ):
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        tracks = None
        for piece, scores in stream:
            writer.writerow(score_row(piece, scores))
            rows += 1
            bar.update(len(piece.sequences[0]))
            if tracks_path is not None:
                scored.append((piece, scores))
                if len(scored) == 256:
                    tracks = write_tracks(tracks, tracks_path, scored)
        if tracks_path is not None:
            write_tracks(tracks, tracks_path, scored).close()
    bar.close()
    print(f"Wrote {rows} scores to {args.output}" + (f" and tracks to {args.tracks}" if args.tracks else ""))
    return rows


def write_tracks(writer, path, scored: list):
    """Append the tracks of ``scored`` (emptied) to the Parquet file at ``path``; returns its writer."""
    import pyarrow.parquet as pq

    table = track_table(scored)
    writer = writer or pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    scored.clear()
    return writer


if __name__ == "__main__":
    run_command(main)
