"""Writing a benchmark's results: a markdown table for people and JSON for machines, side by side."""

import json
from pathlib import Path

from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.runtime.files import write_text_atomic


def write_report(output_dir, name: str, lines: list[str], data) -> Path:
    """Write ``<name>.md`` (the lines) and ``<name>.json`` (the data) into ``output_dir``, print the table and the
    paths; returns the markdown file's path."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_results_markdown(output / f"{name}.md", "\n".join(lines) + "\n")
    write_text_atomic(output / f"{name}.json", json.dumps(data, indent=2))
    print("\n".join(lines))
    print(f"Wrote {output / name}.md and {output / name}.json")
    return output / f"{name}.md"
