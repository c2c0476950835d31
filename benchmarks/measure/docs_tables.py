"""Generated tables: docs pages carry results files' tables verbatim, between markers naming the file.

A block in README.md or docs/*.md

    <!-- generated: benchmarks/results/scale.md -->
    ...
    <!-- end generated -->

holds the whole results file (stripped of surrounding blank lines); ``<!-- generated: PATH, table 2 -->`` or
``<!-- generated: PATH, tables 1,3 -->`` holds only those tables (1-based; a table is a run of lines starting with
``|``), separated by a blank line. Paths are relative to the repository root. ``write_results_markdown`` is how a
benchmark writes a results file: it rewrites, in the same step, every block that names the file, so a page never
disagrees with the results it shows; ``python benchmarks/docs_tables.py`` rewrites every block and ``--check``
(and tests/test_docs.py) only compares.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from dnabert2.runtime.files import write_text_atomic

END = "<!-- end generated -->"
BLOCK = re.compile(
    r"(?P<start><!-- generated: (?P<path>[^,\s]+)(?:, (?P<selector>tables? [0-9, ]+))? -->\n)"
    r"(?P<body>.*?)"
    r"(?P<end>" + re.escape(END) + ")",
    flags=re.S,
)


@dataclass
class Block:
    """One generated block of a page: the results file it names, the tables selected (None: the whole file), what
    the page holds now and what it should hold."""

    page: Path
    source: str
    tables: list[int] | None
    body: str
    expected: str | None  # None when the results file or a selected table does not exist
    problem: str = ""


def pages(root) -> list[Path]:
    """The pages that may hold generated blocks: README.md and every docs/*.md of the repository at ``root``."""
    root = Path(root)
    return [path for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if path.is_file()]


def markdown_tables(text: str) -> list[str]:
    """The tables of a markdown text, in order: each maximal run of lines starting with ``|``."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    if current:
        tables.append("\n".join(current))
    return tables


def selected_tables(selector: str | None) -> list[int] | None:
    """``"table 2"`` -> [2]; ``"tables 1,3"`` -> [1, 3]; no selector -> None (the whole file)."""
    if not selector:
        return None
    return [int(number) for number in selector.split(" ", 1)[1].replace(" ", "").split(",") if number]


def render(source_text: str, tables: list[int] | None) -> str:
    """What a block holds between its markers: the whole results text, or the selected tables, set apart by blank
    lines; raises IndexError for a table the file does not have."""
    if tables is None:
        shown = source_text.strip("\n")
    else:
        found = markdown_tables(source_text)
        if any(number < 1 or number > len(found) for number in tables):
            raise IndexError(f"tables {tables} of {len(found)}")
        shown = "\n\n".join(found[number - 1] for number in tables)
    return f"\n{shown}\n\n"


def blocks(page, root) -> list[Block]:
    """Every generated block of ``page``, with what it should hold (read from the results files under ``root``)."""
    page, root = Path(page), Path(root)
    found = []
    for match in BLOCK.finditer(page.read_text()):
        source, tables = match["path"], selected_tables(match["selector"])
        block = Block(page, source, tables, match["body"], None)
        path = root / source
        if not path.is_file():
            block.problem = f"{source} does not exist"
        else:
            try:
                block.expected = render(path.read_text(), tables)
            except IndexError as error:
                block.problem = f"{source} has no {error}"
        found.append(block)
    return found


def refresh(page, root, source: str | None = None) -> bool:
    """Rewrite the blocks of ``page`` (only those naming ``source`` when given) from their results files; returns
    whether the page changed. A block whose results file is missing is left as it is."""
    page, root = Path(page), Path(root)
    text = page.read_text()

    def replace(match):
        if source is not None and match["path"] != source:
            return match[0]
        path = root / match["path"]
        if not path.is_file():
            return match[0]
        return match["start"] + render(path.read_text(), selected_tables(match["selector"])) + match["end"]

    new = BLOCK.sub(replace, text)
    if new != text:
        write_text_atomic(page, new)
    return new != text


def repository_of(results_file) -> tuple[Path, str] | None:
    """(repository root, the file's path relative to it) for a file under ``<root>/benchmarks/results``; None for
    a file anywhere else (a test's temporary folder, a user's own output folder)."""
    path = Path(results_file).resolve()
    for folder in path.parents:
        if folder.name == "results" and folder.parent.name == "benchmarks":
            root = folder.parent.parent
            return root, path.relative_to(root).as_posix()
    return None


def write_results_markdown(path, text: str) -> Path:
    """Write a benchmark's results markdown (atomically) and rewrite every docs block that names it; returns the
    path. The one way a benchmark writes a ``.md`` under benchmarks/results."""
    write_text_atomic(path, text)
    located = repository_of(path)
    if located:
        root, source = located
        for page in pages(root):
            refresh(page, root, source)
    return Path(path)


def stale_blocks(root) -> list[Block]:
    """The blocks of README.md and docs/*.md under ``root`` that differ from their results files (or name a results
    file or table that does not exist)."""
    return [block for page in pages(root) for block in blocks(page, root) if block.body != block.expected]
