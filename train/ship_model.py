"""Ship a pretraining checkpoint as the repository's model (float16 weights to the root, the run's log to
benchmarks/results/pretraining_log.json); see train/pretraining/README.md.

    python train/ship_model.py --checkpoint runs/pretrain-v2/checkpoint-7000 \\
        --command "bash train/pretraining/pretrain.sh ..."
"""

from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.pretraining.shipping import ship
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class ShipArguments:
    checkpoint: str = field(metadata={"help": "A checkpoint-N folder of a run_mlm.py run."})
    command: str = field(metadata={"help": "The command(s) that trained it, for the log."})
    root: str = field(
        default=str(Path(__file__).resolve().parents[1]), metadata={"help": "The repository (default: this clone)."}
    )


def main(argv=None):
    """Ship the checkpoint and say what was written."""
    parser = command_parser(
        ShipArguments,
        usage="dnabert2-ship-model --checkpoint DIR --command TEXT [--root REPO]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    target = ship(Path(args.checkpoint), args.command, Path(args.root))
    print(f"Wrote {target} and {Path(args.root) / 'benchmarks' / 'results' / 'pretraining_log.json'}")


if __name__ == "__main__":
    run_command(main)
