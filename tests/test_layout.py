"""The house rules, read from the code itself: imports run one way, command lines are thin, one alphabet."""

import ast
import re

import pytest
from conftest import ROOT

TRAIN_MODULES = sorted(p for p in (ROOT / "train").rglob("*.py"))
LIBRARY_MODULES = sorted(p for p in (ROOT / "dnabert2").rglob("*.py"))
BENCHMARK_LIBRARIES = sorted(
    p for folder in ("gue_runner", "measure") for p in (ROOT / "benchmarks" / folder).rglob("*.py")
)


def imported_modules(path):
    """Every module name a file imports (absolute imports; the project uses no relative ones outside the model)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", TRAIN_MODULES + LIBRARY_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_library_and_commands_never_reach_into_benchmarks(path):
    assert not [name for name in imported_modules(path) if name.startswith(("dnabert2.benchmarks", "benchmarks"))]
    assert "benchmarks/" not in re.sub(
        r"benchmarks/results/pretraining_log\.json", "", path.read_text()
    ) or path.name in ("shipping.py", "ship_model.py")


@pytest.mark.parametrize("path", LIBRARY_MODULES + BENCHMARK_LIBRARIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_libraries_never_import_a_command_line(path):
    # a command line (dnabert2.train.*, dnabert2.benchmarks.<script>) is a leaf: libraries serve it, never use it
    scripts = {f"dnabert2.benchmarks.{p.stem}" for p in (ROOT / "benchmarks").glob("*.py")} - {
        "dnabert2.benchmarks.__init__"
    }
    offenders = [
        name for name in imported_modules(path) if name.startswith(("dnabert2.train", "train")) or name in scripts
    ]
    if path.name != "cli.py":  # the console entry points name the command lines they run
        assert not offenders, f"{path.relative_to(ROOT)} imports command lines: {offenders}"


def test_model_files_import_nothing_of_the_project_but_each_other():
    for name in ("configuration_dnabert2.py", "modeling_dnabert2.py", "bert_layers_triton.py"):
        assert not [m for m in imported_modules(ROOT / name) if m.startswith(("dnabert2", "train", "benchmarks"))]


@pytest.mark.parametrize("folder", ["train", "benchmarks"])
def test_top_level_files_are_command_lines(folder):
    for path in sorted((ROOT / folder).glob("*.py")):
        if path.name == "__init__.py":
            continue
        functions = {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert "main" in functions, f"{path.name} is not a command line"


def test_gue_command_is_thin_and_old_folders_are_gone():
    assert len((ROOT / "benchmarks" / "gue.py").read_text().splitlines()) < 200
    assert not any((ROOT / "metrics").rglob("*.py")) and not any((ROOT / "pretraining").rglob("*"))


def test_every_module_opens_with_a_docstring():
    for path in [*TRAIN_MODULES, *(ROOT / "benchmarks").rglob("*.py"), *LIBRARY_MODULES]:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.relative_to(ROOT)} has no docstring"


def test_the_alphabet_is_decided_in_one_module():
    # a string constant holding the nucleotide letters, anywhere but the alphabet module, is a second decision
    offenders = []
    for path in [*TRAIN_MODULES, *LIBRARY_MODULES, *(ROOT / "benchmarks").rglob("*.py")]:
        if path.name == "alphabet.py":
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        offenders += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and "ACGT" in node.value.upper()
        ]
    assert not offenders, "\n".join(offenders)
