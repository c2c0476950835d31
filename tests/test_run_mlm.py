"""Pretraining: a tiny model learns on the FASTA fixture, resumes from its checkpoint, and runs on 2 processes."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURE_FASTA, ROOT

from train.run_mlm import main as run_mlm

TINY = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64"


def command(output_dir, cache_dir, max_steps, extra=()):
    return [
        "--config_name", str(ROOT / "train" / "configs" / "dnabert2-small.json"), "--config_overrides", TINY,
        "--tokenizer_name", str(ROOT), "--train_file", str(FIXTURE_FASTA), "--validation_split_percentage", "30",
        "--max_seq_length", "64", "--output_dir", str(output_dir), "--cache_dir", str(cache_dir),
        "--max_steps", str(max_steps), "--per_device_train_batch_size", "16", "--learning_rate", "3e-3",
        "--warmup_steps", "0", "--logging_steps", "5", "--eval_steps", "30", "--save_steps", "30",
        "--max_eval_samples", "64", "--disable_tqdm", "True", *extra,
    ]


def losses(folder):
    state = json.loads((folder / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry], state["global_step"]


def test_pretraining_learns_and_resumes(tmp_path):
    metrics = run_mlm(command(tmp_path / "run", tmp_path / "cache", 30))
    history, step = losses(tmp_path / "run" / "checkpoint-30")
    assert step == 30 and history[-1] < history[0] - 0.5, history
    assert history[0] == pytest.approx(8.3, abs=0.7)  # ln(4096): not scaled by a process count
    assert 0 <= metrics["eval_accuracy"] <= 1 and "eval_unigram_accuracy" in metrics
    card = (tmp_path / "run" / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: fill-mask" in card and "masked-token accuracy" in card
    assert (tmp_path / "run" / "modeling_dnabert2.py").exists()

    run_mlm(command(tmp_path / "run", tmp_path / "cache", 60))  # picks up checkpoint-30 by itself
    resumed, step = losses(tmp_path / "run" / "checkpoint-60")
    assert step == 60 and resumed[: len(history)] == history  # the first 30 steps were not redone


@pytest.mark.skipif(shutil.which("accelerate", path=os.path.dirname(sys.executable)) is None, reason="no accelerate")
def test_two_processes_on_cpu(tmp_path):
    launcher = os.path.join(os.path.dirname(sys.executable), "accelerate")
    result = subprocess.run(
        [launcher, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
         "--dynamo_backend", "no", str(ROOT / "train" / "run_mlm.py"),
         *command(tmp_path / "run", tmp_path / "cache", 10, ["--save_steps", "10"])],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    history, step = losses(tmp_path / "run" / "checkpoint-10")
    state = json.loads((tmp_path / "run" / "checkpoint-10" / "trainer_state.json").read_text())
    assert step == 10 and state["train_batch_size"] == 16
    assert history[0] == pytest.approx(8.3, abs=0.7)  # same loss scale as one process
