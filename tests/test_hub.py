"""Pushing models and GUE to a Hub-API server on 127.0.0.1 and loading them back by repo id."""

import os
import subprocess
import sys

import pytest
from conftest import FIXTURE_FASTA, HIDE_PROJECT, ROOT, write_task
from hub_server import LocalHub


@pytest.fixture
def hub(tmp_path):
    with LocalHub() as server:
        env = {
            **os.environ,
            "HF_ENDPOINT": server.url,
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_XET": "1",
            "HF_HOME": str(tmp_path / "hf_home"),
            "HF_TOKEN": "test-token",
            "HF_HUB_DISABLE_TELEMETRY": "1",
        }
        yield server, env


def run(code_or_args, env, cwd):
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else [sys.executable, *code_or_args]
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_pretrained_model_push_and_load_back_with_remote_code(hub, tmp_path):
    server, env = hub
    run(
        [
            str(ROOT / "train" / "run_mlm.py"),
            "--config_name",
            str(ROOT / "train" / "configs" / "dnabert2-small.json"),
            "--config_overrides",
            "hidden_size=32,num_hidden_layers=1,num_attention_heads=2,intermediate_size=64",
            "--tokenizer_name",
            str(ROOT),
            "--train_file",
            str(FIXTURE_FASTA),
            "--max_seq_length",
            "32",
            "--validation_split_percentage",
            "30",
            "--output_dir",
            str(tmp_path / "run"),
            "--cache_dir",
            str(tmp_path / "cache"),
            "--max_steps",
            "3",
            "--max_eval_samples",
            "8",
            "--disable_tqdm",
            "True",
            "--push_to_hub",
            "--hub_model_id",
            "lab/tiny-dnabert2",
        ],
        env,
        tmp_path,
    )
    files = server.state.repos[("model", "lab/tiny-dnabert2")].files
    assert {
        "config.json",
        "model.safetensors",
        "modeling_dnabert2.py",
        "configuration_dnabert2.py",
        "bert_layers_triton.py",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
    } <= set(files)
    assert not any(name.startswith("checkpoint-") for name in files)
    assert b"pipeline_tag: fill-mask" in files["README.md"] and b"license: apache-2.0" in files["README.md"]
    out = run(
        HIDE_PROJECT
        + f"""
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer
tokenizer = AutoTokenizer.from_pretrained("lab/tiny-dnabert2")
remote = AutoModelForMaskedLM.from_pretrained("lab/tiny-dnabert2", trust_remote_code=True).eval()
assert type(remote).__module__.startswith("transformers_modules")
local = AutoModelForMaskedLM.from_pretrained({str(tmp_path / "run")!r}, trust_remote_code=True).eval()
batch = tokenizer(["ACGTAGGATTACA", "GGGCCCAAATTT"], padding=True, return_tensors="pt")
assert torch.equal(remote(**batch).logits, local(**batch).logits)
print("LOADED")
""",
        env,
        tmp_path,
    )
    assert "LOADED" in out


def test_gue_dataset_push_and_load_back(hub, tmp_path):
    server, env = hub
    write_task(tmp_path / "GUE" / "tf" / "0", rows_per_split=(40, 10, 12))
    write_task(tmp_path / "GUE" / "EMP" / "H3", rows_per_split=(0, 10, 12))
    (tmp_path / "GUE" / "EMP" / "H3" / "train.csv").unlink()
    run(
        [
            str(ROOT / "train" / "build_gue_dataset.py"),
            "--gue_dir",
            str(tmp_path / "GUE"),
            "--output_dir",
            str(tmp_path / "hub_folder"),
            "--push_to_hub",
            "--repo_id",
            "lab/GUE",
        ],
        env,
        tmp_path,
    )
    out = run(
        """
from datasets import load_dataset
tf0 = load_dataset("lab/GUE", "tf_0")
emp = load_dataset("lab/GUE", "EMP_H3")
print(tf0["train"].num_rows, tf0["validation"].num_rows, tf0["test"].num_rows, sorted(emp),
      tf0["train"].features["label"].names)
""",
        env,
        tmp_path,
    )
    assert "40 10 12 ['test', 'validation'] ['non_binding', 'binding']" in out
