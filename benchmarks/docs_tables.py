"""Rewrite the generated tables of README.md and docs/*.md from benchmarks/results (or, with --check, only compare).

Benchmarks rewrite the blocks naming their results file when they write it; this command does all of them at once
(after a results file was edited or restored by hand):

    python benchmarks/docs_tables.py            # rewrite every block
    python benchmarks/docs_tables.py --check    # exit 1 and name the blocks that differ
"""

from dataclasses import dataclass, field
from pathlib import Path

from dnabert2.benchmarks.measure.docs_tables import pages, refresh, stale_blocks
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command


@dataclass
class DocsTablesArguments:
    """Flags of the docs-tables command."""

    root: str = field(default=".", metadata={"help": "Repository root (holds README.md, docs/ and benchmarks/)."})
    check: bool = field(default=False, metadata={"help": "Only compare; exit 1 if a block differs from its file."})


def main(argv=None):
    """Rewrite (or check) every generated block; print what changed or differs."""
    parser = command_parser(
        DocsTablesArguments, usage="python benchmarks/docs_tables.py [--check]", description=__doc__.split("\n\n")[0]
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    root = Path(args.root)
    if not args.check:
        for page in pages(root):
            if refresh(page, root):
                print(f"rewrote {page}")
    stale = stale_blocks(root)
    for block in stale:
        print(f"{block.page}: block of {block.source} {block.problem or 'differs from the file'}")
    if stale:
        raise SystemExit(1)
    print("Every generated block agrees with its results file.")


if __name__ == "__main__":
    run_command(main)
