"""Turn a GUE folder (official CSV layout) into a Hub dataset repo folder, and optionally push it.

python train/build_gue_dataset.py --gue_dir ../shared/data/GUE --output_dir gue_hub
python train/build_gue_dataset.py --gue_dir ../shared/data/GUE --output_dir gue_hub --push_to_hub --repo_id me/GUE
"""

from dataclasses import dataclass, field

from dnabert2.data.gue import build_gue_dataset
from dnabert2.hub.push import push_folder
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command


@dataclass
class BuildArguments:
    gue_dir: str = field(
        metadata={"help": "Root of the GUE tree: <family>/<task>/{train,dev,test}.csv (else an error)."}
    )
    output_dir: str = field(
        default="gue_hub", metadata={"help": "Dataset folder to write (parquet files + README.md)."}
    )
    push_to_hub: bool = field(default=False, metadata={"help": "Upload the folder as a Hub dataset repo."})
    repo_id: str | None = field(default=None, metadata={"help": "Dataset repo id for --push_to_hub."})
    token: str | None = field(default=None, metadata={"help": "Hub token (default: the logged-in one)."})


def main(argv=None):
    parser = command_parser(
        BuildArguments,
        usage="dnabert2-build-gue --gue_dir GUE --output_dir DIR [--push_to_hub REPO] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    sizes = build_gue_dataset(args.gue_dir, args.output_dir)
    print(f"Wrote {len(sizes)} task configs to {args.output_dir}")
    if args.push_to_hub:
        if not args.repo_id:
            raise InputError("--push_to_hub needs --repo_id")
        print(
            push_folder(args.output_dir, args.repo_id, repo_type="dataset", token=args.token, message="GUE benchmark")
        )


if __name__ == "__main__":
    run_command(main)
