"""Command lines end an expected input error with one ``error:`` line and exit code 2, no traceback (``--debug``
shows it)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

ENTRY_POINTS = Path(sys.executable).parent


def run(*command, cwd):
    return subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"HF_HUB_OFFLINE": "1", "PATH": f"{ENTRY_POINTS}:/usr/bin:/bin"},
    )


@pytest.mark.parametrize("how", ["script", "entry point"])
def test_a_bad_csv_is_one_error_line_with_file_and_row(tmp_path, how):
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "train.csv").write_text("sequence,label\nACGT,1\nACGT,\n")
    command = (
        [sys.executable, str(ROOT / "train" / "finetune.py")]
        if how == "script"
        else [str(ENTRY_POINTS / "dnabert2-finetune")]
    )
    result = run(*command, "--data_path", "task", "--output_dir", "out", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: {Path('task') / 'train.csv'}:3: label 'label' is not a number: ''")
    )
    debug = run(*command, "--data_path", "task", "--output_dir", "out", "--debug", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "TaskDataError" in debug.stderr


def test_prediction_from_a_folder_of_checkpoints_names_them(tmp_path):
    (tmp_path / "out" / "checkpoint-20").mkdir(parents=True)
    (tmp_path / "in.fa").write_text(">a\nACGT\n")
    result = run(sys.executable, str(ROOT / "train" / "predict.py"), "--model", "out", "--input", "in.fa", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: out holds no saved model, only Trainer checkpoints (checkpoint-20)")
    assert "--save_model True" in last


def test_help_opens_with_usage_and_the_projects_flags_each_default_once():
    from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
    from dnabert2.runtime.arguments import command_parser

    parser = command_parser(
        (ModelArguments, DataArguments, FinetuneTrainingArguments), usage="dnabert2-finetune X", description="d"
    )
    text = parser.format_help()
    assert text.startswith("usage: dnabert2-finetune X") and len(text.splitlines()) < 120
    assert "--data_path" in text and "--rc_average" in text and "--learning_rate" in text  # own and overridden
    assert "--seed SEED" not in text and "--help_all" in text  # inherited Trainer flags only on request
    for block in text.split("\n  --")[1:]:
        assert block.count("(default") <= 1, block
    args = parser.parse_args_into_dataclasses(["--data_path", "d", "--seed", "7"])  # hidden flags still work
    assert args[2].seed == 7


@pytest.mark.parametrize(
    "arguments, expected",
    [
        (["dnabert2-embed", "--input", "missing.fa", "--output_dir", "emb"], "error: input not found: missing.fa"),
        (
            ["dnabert2-embed", "--input", "empty_folder", "--output_dir", "emb"],
            "error: input is a folder without FASTA",
        ),
        (
            ["dnabert2-embed", "--input", "in.fa", "--output_dir", "emb", "--model", "no_such_model"],
            "error: model not found: no_such_model",
        ),
        (["dnabert2-predict", "--model", "no/such-model", "--input", "in.fa"], "error: model not found: no/such-model"),
        (["dnabert2-predict", "--model", "empty_folder", "--input", "in.fa"], "error: not a model folder (no config"),
        (["dnabert2-predict", "--model", "empty_folder", "--input", "missing.fa"], "error: input not found: missing"),
        (["dnabert2-score-variants", "--vcf", "v.vcf", "--fasta", "in.fa"], "error: VCF not found: v.vcf"),
    ],
)
def test_missing_things_are_named_in_one_line_before_any_work(tmp_path, arguments, expected):
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "in.fa").write_text(">a\nACGTACGTAGCTAGCTAGCATCGA\n")
    result = run(str(ENTRY_POINTS / arguments[0]), *arguments[1:], cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(expected), result.stderr
    assert not [line for line in lines if "it/s" in line or "bp/s" in line]  # no progress bar started
    assert "LOAD REPORT" not in result.stdout + result.stderr and not (tmp_path / "emb").exists()
