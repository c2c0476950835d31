"""How many GUE test sequences occur in the pretraining corpus (exact, either strand) or share a long k-mer with it.

    python benchmarks/gue_contamination.py --gue_dir ../shared/data/GUE --corpus "../shared/data/genomes/*.fa.gz"

writes benchmarks/results/gue_contamination.{json,md}: per task the counts and the indices of the clean test examples
(method in benchmarks/gue_runner/contamination.py, METHOD). ``--tasks all`` takes every task with a test split.
"""

from pathlib import Path

from dnabert2.benchmarks.gue_runner.contamination import (
    ContaminationArguments,
    measure_contamination,
    write_contamination,
)
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


def main(argv=None):
    """Measure every selected test set against the corpus; print and write the report."""
    parser = command_parser(
        ContaminationArguments,
        description=__doc__.split("\n\n")[0],
        usage="dnabert2-gue-contamination [--gue_dir GUE] [--corpus GLOB] [--output FILE] [options]",
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    print(write_contamination(measure_contamination(args), Path(args.output)))
    print(f"Outputs written:\n  {Path(args.output).with_suffix('.json')}\n  {Path(args.output).with_suffix('.md')}")


if __name__ == "__main__":
    run_command(main)
