"""The README is the contract: its test command is what CI runs (its Python examples run, from another directory
with a regular install, in test_packaging.py)."""

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    ci_lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd ", "export "))
    ]
    assert len(ci_lines) == 1 and f"    {ci_lines[0]}\n" in README


def test_readme_front_matter_is_a_model_card():
    front = README.split("---\n")[1]
    for key in ("license:", "library_name: transformers", "pipeline_tag: fill-mask", "tags:"):
        assert key in front


def test_readme_is_a_model_card_of_at_most_200_lines():
    assert len(README.splitlines()) <= 200


def test_readme_links_every_docs_page():
    # a page no one can reach from the model card is a page no one reads
    linked = set(re.findall(r"\(docs/([\w-]+\.md)(?:#[^)]*)?\)", README))
    assert {path.name for path in (ROOT / "docs").glob("*.md")} <= linked
