"""The documentation agrees with what it documents: generated tables with their results files, links with the files
and sections they name, README headline figures with the results they come from."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from dnabert2.benchmarks.measure.docs_tables import stale_blocks, write_results_markdown

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"<!-- generated: (\S+?)(?:, tables? ([0-9, ]+))? -->\n(.*?)<!-- end generated -->", re.S)


def page_id(path):
    return str(path.relative_to(ROOT))


def prose(text: str) -> str:
    """A page without its fenced code blocks (where `#` starts a comment, not a heading, and links are code)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a markdown file's headings."""
    return {github_anchor(line.lstrip("#")) for line in prose(path.read_text()).splitlines() if re.match("#+ ", line)}


# --- generated tables ---------------------------------------------------------------------------------------------


def test_every_generated_block_agrees_with_its_results_file():
    stale = [f"{page_id(b.page)}: {b.source} ({b.problem or 'differs'})" for b in stale_blocks(ROOT)]
    assert not stale, "run `python benchmarks/docs_tables.py`: " + "; ".join(stale)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_generated_blocks_hold_the_results_verbatim(page):
    # independent of the library's parser: a block's text is the file, or the file's paragraphs that are tables
    for source, selector, body in MARKER.findall(page.read_text()):
        text = (ROOT / source).read_text()
        if not selector:
            assert body.strip("\n") == text.strip("\n"), source
        else:
            tables = [part.strip("\n") for part in text.split("\n\n") if part.startswith("|")]
            wanted = [tables[int(n) - 1] for n in selector.replace(" ", "").split(",")]
            assert body.strip("\n").split("\n\n") == wanted, source


def test_a_results_file_written_by_a_benchmark_rewrites_the_blocks_naming_it(tmp_path):
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "Intro.\n\n<!-- generated: benchmarks/results/x.md, table 2 -->\nold\n<!-- end generated -->\n\n"
        "<!-- generated: benchmarks/results/x.md -->\n<!-- end generated -->\n"
        "<!-- generated: benchmarks/results/y.md -->\nuntouched\n<!-- end generated -->\nEnd.\n"
    )
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "y.md").write_text("| y |\n|---|\n")
    results = "Note.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nMiddle.\n\n| c |\n|---|\n| 3 |\n"
    write_results_markdown(tmp_path / "benchmarks" / "results" / "x.md", results)
    assert page.read_text() == (
        "Intro.\n\n<!-- generated: benchmarks/results/x.md, table 2 -->\n\n| c |\n|---|\n| 3 |\n\n"
        "<!-- end generated -->\n\n<!-- generated: benchmarks/results/x.md -->\n\n" + results.strip("\n") + "\n\n"
        "<!-- end generated -->\n<!-- generated: benchmarks/results/y.md -->\nuntouched\n<!-- end generated -->\nEnd.\n"
    )
    assert [b.source for b in stale_blocks(tmp_path)] == ["benchmarks/results/y.md"]  # only y's block is stale

    page.write_text(page.read_text().replace("| 3 |", "| 4 |", 1))  # a hand edit of the first block
    assert [b.source for b in stale_blocks(tmp_path)] == ["benchmarks/results/x.md", "benchmarks/results/y.md"]
    (tmp_path / "benchmarks" / "results" / "x.md").unlink()
    assert "does not exist" in stale_blocks(tmp_path)[0].problem

    elsewhere = tmp_path / "outputs" / "x.md"  # a results file outside benchmarks/results touches no page
    elsewhere.parent.mkdir()
    before = page.read_text()
    write_results_markdown(elsewhere, "| z |\n|---|\n")
    assert page.read_text() == before and elsewhere.read_text() == "| z |\n|---|\n"


def test_docs_command_rewrites_and_checks(tmp_path, capsys):
    from dnabert2.benchmarks.docs_tables import main

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "x.md").write_text("| a |\n|---|\n| 1 |\n")
    (tmp_path / "README.md").write_text("<!-- generated: benchmarks/results/x.md -->\n<!-- end generated -->\n")
    with pytest.raises(SystemExit) as stale:
        main(["--root", str(tmp_path), "--check"])
    assert stale.value.code == 1 and "README.md: block of benchmarks/results/x.md differs" in capsys.readouterr().out
    assert "| 1 |" not in (tmp_path / "README.md").read_text()  # --check writes nothing
    main(["--root", str(tmp_path)])
    assert "| 1 |" in (tmp_path / "README.md").read_text()
    main(["--root", str(tmp_path), "--check"])  # agrees now: no SystemExit


# --- links ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_local_link_points_at_something(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no such section")
    assert not broken, broken


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_repository_path_in_code_spans_exists(page):
    # `dnabert2/...`, `train/...`: the names a reader will look for; globs and placeholders are not paths
    spans = re.findall(r"`((?:dnabert2|train|benchmarks|tests|docs)/[^`\s]*)`", page.read_text())
    missing = [span for span in spans if not re.search(r"[*{}<>$]", span) and not (ROOT / span).exists()]
    assert not missing, missing


DOCS_EXAMPLES = [
    (path, block)
    for path in PAGES[1:]  # the README's own examples run in tests/test_readme.py
    for block in re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
]


@pytest.mark.parametrize("page, block", DOCS_EXAMPLES, ids=[page_id(path) for path, _ in DOCS_EXAMPLES])
def test_python_examples_in_docs_run_from_another_directory(page, block, tmp_path):
    result = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


# --- README headline figures ----------------------------------------------------------------------------------------


def read_json(name):
    return json.loads((RESULTS / name).read_text())


def spread(values, digits):
    """ "low-high" of values at a number of decimals, as the README writes a range."""
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


# the three species held out whole from pretraining (docs/pretraining.md), as the results name them
HELD_OUT_SPECIES = {
    "protist_Plasmodium_knowlesi",
    "bacteria_Vibrio_cholerae_N16961",
    "plant_Arabidopsis_arenosa_chr1_chr2",
}
HEADLINES = [
    "main job",
    "main job composition",
    "from scratch",
    "CNN",
    "composition baseline",
    "further",
    "held-out CE",
    "composition",
    "strict",
    "tokens/s",
    "ratios",
    "tokenizer",
    "explanations",
]


def headline_figure(name: str) -> str:
    """A figure the README's evaluation quotes from a results file, written as the README writes it."""
    if name in ("main job", "main job composition"):
        folder = "default_task" if name == "main job" else "default_task_composition"
        (species,) = [row for row in read_json(f"{folder}/results.json")["summary"] if row["task"] == "species"]
        return f"{'test MCC' if name == 'main job' else 'base composition alone'} {species['mean']:.2f}"
    if name in ("from scratch", "CNN", "composition baseline", "further"):
        tests = read_json("gue_ablation/comparison.json")["all_tasks"]["tests"]
        return {
            "from scratch": f"+{tests['pretrained - from_scratch']['mean']:.2f} MCC over the same model",
            "CNN": f"+{tests['pretrained - cnn']['mean']:.2f} over a one-hot CNN",
            "composition baseline": f"+{tests['pretrained - composition']['mean']:.2f} over base composition alone",
            "further": f"adds +{tests['further_pretrained - pretrained']['mean']:.2f}",
        }[name]
    if name in ("held-out CE", "composition", "strict"):
        heldout = read_json("heldout_strict.json")
        rows = [row for row in heldout["rows"] if row["set"] in HELD_OUT_SPECIES]
        assert len(rows) == 3
        composition = [heldout["baselines"][row["set"]]["composition_loss"] - row["loss"] for row in rows]
        strict = [row["model_minus_strict"] for row in rows]
        return {
            "held-out CE": f"cross-entropy {spread([row['loss'] for row in rows], 2)} nats",
            "composition": f"{spread(composition, 2)} nats below a base-composition baseline",
            "strict": f"({min(strict):+.3f} to {max(strict):+.3f} nats)",
        }[name]
    if name == "explanations":
        found = read_json("explain/explain.json")
        ism, ig = (found["attribution"][method]["planted_auroc_pooled"] for method in ("ism", "ig"))
        trivial, oracle = (found["references"][name]["planted_auroc_pooled"] for name in ("trivial", "oracle"))
        return (
            f"AUROC {ism:.2f} and {ig:.2f} (base composition {trivial:.2f}, the true PWM {oracle:.3f}), tfmodisco-lite "
            f"recovers it (r {found['modisco']['pwm_correlation']:.3f})"
        )
    if name == "tokenizer":
        return f"{read_json('tokenizer_study.json')['shipped']['avg_token_bp']:.2f} bp per token on held-out sequence"
    speed = {(row["workload"], row["model"]): row for row in read_json("speed.json")["throughput"]}
    uneven, long = "inference, 32 x 20-128 tokens", "inference, 4 x 1024-2048 tokens"
    ours = speed[(uneven, "ours")]
    if name == "tokens/s":
        return f"{ours['tokens_per_s']:.0f} tokens/s at {100 * ours['mfu']:.0f} % of the measured matmul peak"
    original, padded = speed[(uneven, "original design")], speed[(uneven, "fully padded")]
    long_ratio = speed[(long, "ours")]["tokens_per_s"] / speed[(long, "original design")]["tokens_per_s"]
    return (
        f"{ours['tokens_per_s'] / original['tokens_per_s']:.2f}x the original design and "
        f"{ours['tokens_per_s'] / padded['tokens_per_s']:.2f}x a fully padded implementation; on 1-2k-token inputs "
        f"{long_ratio:.2f}x the original design"
    )


@pytest.mark.parametrize("name", HEADLINES)
def test_readme_headline_figures_are_the_results(name):
    readme = " ".join((ROOT / "README.md").read_text().split())  # line breaks are spaces
    assert headline_figure(name) in readme
