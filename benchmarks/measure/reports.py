"""Writing a benchmark's results: a markdown table for people and JSON for machines, side by side."""

import json
from pathlib import Path


def write_report(output_dir, name: str, lines: list[str], data) -> Path:
    """Write ``<name>.md`` (the lines) and ``<name>.json`` (the data) into ``output_dir``, print the table and the
    paths; returns the markdown file's path."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / f"{name}.md").write_text("\n".join(lines) + "\n")
    (output / f"{name}.json").write_text(json.dumps(data, indent=2))
    print("\n".join(lines))
    print(f"Wrote {output / name}.md and {output / name}.json")
    return output / f"{name}.md"
