"""A regular (non-editable) install works from any directory: console entry points, package data, unique names."""

import shutil
import subprocess
import sys
import sysconfig

import pytest
from conftest import ROOT, write_task


@pytest.mark.slow
def test_wheel_install_fine_tunes_and_predicts_from_another_directory(tmp_path):
    source = tmp_path / "source"  # a copy, so that the build leaves nothing in the working tree
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
    (wheel,) = (tmp_path / "dist").glob("dnabert2-*.whl")
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
