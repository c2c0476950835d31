"""The DNABERT-2 paper's FLOPs comparison (Table 2) on GUE test sequences, from architecture facts.

python benchmarks/flops.py --gue_dir ../shared/data/GUE     # paper Table 2: 3.25 (DNABERT) and 19.44 (NT-2500M)
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from dnabert2 import packaged
from dnabert2.benchmarks.measure.flops import DNABERT, DNABERT2, NT_2500M, relative_flops
from dnabert2.data.tasks import read_csv_split
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command


@dataclass
class FlopsArguments:
    gue_dir: str = field(metadata={"help": "GUE root in the official CSV layout (e.g. ../shared/data/GUE)."})
    tokenizer: str = field(default=str(packaged("model")), metadata={"help": "Tokenizer folder (default: shipped)."})
    output: str = field(default="benchmarks/results/flops.json")


def main(argv=None):
    (args,) = command_parser(FlopsArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(argv)
    tokenizer = load_tokenizer(args.tokenizer)
    files = sorted(Path(args.gue_dir).glob("*/*/test.csv"))
    if not files:
        raise InputError(f"No GUE test.csv under {args.gue_dir}")
    sequences = [s for f in files for s in read_csv_split(f)["sequence"]]
    ours = relative_flops(sequences, tokenizer)
    paper = {DNABERT2.name: 1.0, DNABERT.name: 3.25, NT_2500M.name: 19.44}
    print(f"Relative forward FLOPs on {len(sequences)} GUE test sequences ({len(files)} tasks)\n")
    print("| model | ours | paper (Table 2) |\n|---|---|---|")
    for name, value in ours.items():
        print(f"| {name} | {value:.2f} | {paper[name]:.2f} |")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(
        json.dumps({"sequences": len(sequences), "tasks": len(files), "ours": ours, "paper": paper}, indent=2)
    )


if __name__ == "__main__":
    run_command(main)
