"""The README is the contract: its test command is what CI runs (its Python examples run, from another directory
with a regular install, in test_packaging.py)."""

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
