"""Find motifs in base-resolution attributions with tfmodisco-lite (the arrays ``dnabert2-explain --modisco`` writes).

    dnabert2-explain --model_name_or_path finetuned --input positives.fa --output_dir ism --modisco ism/modisco
    dnabert2-motifs --input_dir ism/modisco --output_dir ism/motifs

Writes modisco_results.h5, report/motifs.html (tfmodisco-lite's report: each pattern's seqlet count and logos),
motifs.json and motifs.md (pattern, seqlets, consensus, PPM, CWM).
"""

from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.inference.motifs import find_motifs, load_arrays
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class MotifsArguments:
    input_dir: str = field(metadata={"help": "Folder holding ohe.npy and attr.npy (dnabert2-explain --modisco)."})
    output_dir: str = field(metadata={"help": "Where the results, report and summary go."})
    window: int | None = field(default=None, metadata={"help": "Central bases analysed (default: all)."})
    max_seqlets: int = field(default=2000, metadata={"help": "Most seqlets per sign (tfmodisco-lite -n)."})
    sliding_window: int = field(default=20, metadata={"help": "Seqlet core size (tfmodisco-lite -z)."})
    flank: int = field(default=5, metadata={"help": "Flank added to each seqlet (tfmodisco-lite -f)."})
    trim: int = field(default=30, metadata={"help": "Size patterns are trimmed to (tfmodisco-lite -t)."})
    n_leiden: int = field(default=2, metadata={"help": "Leiden clusterings with different seeds."})
    min_seqlets: int = field(default=100, metadata={"help": "Fewest seqlets of a sign that make patterns."})
    seqlet_fdr: float = field(
        default=0.05, metadata={"help": "False discovery rate of seqlet calling (higher: more, weaker seqlets)."}
    )


def main(argv=None):
    """Run tfmodisco-lite and write its report; returns the summary (patterns with seqlet counts)."""
    parser = command_parser(
        MotifsArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-motifs --input_dir DIR --output_dir DIR [--window BP] [--max_seqlets N]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    onehot, contributions = load_arrays(Path(args.input_dir) / "ohe.npy", Path(args.input_dir) / "attr.npy")
    summary = find_motifs(
        onehot,
        contributions,
        args.output_dir,
        args.window,
        args.max_seqlets,
        args.sliding_window,
        args.flank,
        args.trim,
        args.n_leiden,
        args.min_seqlets,
        seqlet_fdr=args.seqlet_fdr,
    )
    for pattern in summary["patterns"]:
        print(f"{pattern['pattern']}: {pattern['seqlets']} seqlets, {pattern['consensus']}")
    print(f"Report: {summary.get('report')}; summary: {Path(args.output_dir) / 'motifs.md'}")
    return summary


if __name__ == "__main__":
    run_command(main)
