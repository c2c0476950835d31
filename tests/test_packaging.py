"""A regular (non-editable) install works from any directory: console entry points, package data, unique names,
the README's Python examples, and install requirements that cover what the commands import."""

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest
from conftest import ROOT, write_task

OPTIONAL = {"triton", "flash_attn"}  # imported only where available (the GPU kernel, a GPU benchmark's comparison)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project's wheel, built from a copy of the working tree (the build leaves nothing in it)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", "output", "outputs"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = (tmp_path / "dist").glob("dnabert2-*.whl")
    return built


def test_install_requirements_cover_every_import_of_the_installed_code(wheel):
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        sources = {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".py")}
    required = {
        re.split(r"[<>=!~; \[]", line.split(":", 1)[1].strip())[0].lower().replace("_", "-")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }
    local = {"dnabert2", "configuration_dnabert2", "modeling_dnabert2", "bert_layers_triton"}
    imported = set()
    for source in sources.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {name for name in imported - local - OPTIONAL if name not in sys.stdlib_module_names}
    distributions = importlib.metadata.packages_distributions()
    missing = {
        name: distributions.get(name)
        for name in third_party
        if not {d.lower().replace("_", "-") for d in distributions.get(name, [name])} & required
    }
    assert not missing, f"imported by the installed code but not install requirements: {missing}"


@pytest.mark.slow
def test_wheel_install_fine_tunes_predicts_and_runs_the_readme_from_another_directory(tmp_path, wheel):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    # the dependencies come from this environment (a plain path entry: its editable-install hooks stay inactive)
    (site / "_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True
    )
    assert not (site / "train").exists() and not (site / "benchmarks").exists()
    assert (site / "dnabert2" / "model" / "model.safetensors").is_file()

    work = tmp_path / "elsewhere"
    write_task(work / "task")
    environment = {"HF_HUB_OFFLINE": "1", "PATH": f"{venv / 'bin'}:/usr/bin:/bin", "OMP_NUM_THREADS": "2"}

    def run(*command):
        result = subprocess.run(command, cwd=work, capture_output=True, text=True, env=environment, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "LOAD REPORT" not in result.stdout + result.stderr  # loads speak only when the job is affected
        return result

    # no --model_name_or_path: the shipped model, read from the package data
    run(
        "dnabert2-finetune",
        "--data_path",
        "task",
        "--output_dir",
        "out",
        "--run_name",
        "run",
        "--max_steps",
        "4",
        "--per_device_train_batch_size",
        "8",
        "--model_max_length",
        "24",
        "--save_model",
        "True",
        "--eval_strategy",
        "no",
        "--disable_tqdm",
        "True",
    )
    assert (work / "out" / "results" / "run" / "eval_results.json").is_file()
    run("dnabert2-predict", "--model", "out", "--input", "task/test.csv", "--output", "predictions.csv")
    assert len((work / "predictions.csv").read_text().splitlines()) == 1 + 32
    run("dnabert2-embed", "--model_name_or_path", "out", "--input", "task/test.csv", "--output_dir", "emb")
    assert len(list((work / "emb").glob("*.parquet"))) == 1
    # every entry point imports and parses from the installed package (their package data included)
    scripts = [
        line.split("=")[0].strip()
        for line in (ROOT / "setup.cfg").read_text().splitlines()
        if line.strip().startswith("dnabert2-")
    ]
    assert len(scripts) >= 10
    for script in scripts:
        assert run(script, "--help").stdout.startswith(f"usage: {script}"), script
    imports = run(
        str(venv / "bin" / "python"),
        "-c",
        "import importlib.util as u, dnabert2; print(u.find_spec('train'), u.find_spec('benchmarks'), "
        "dnabert2.packaged('model'))",
    )
    assert imports.stdout.split()[:2] == ["None", "None"] and str(site) in imports.stdout
    # the README's Python examples, as written, from this other directory with the installed package
    for block in re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S):
        run(str(venv / "bin" / "python"), "-c", block)
