"""Pretraining: learns on the FASTA fixture, masked-only metrics against a plain computation, baselines by hand,
exact resume after SIGKILL, real data-parallel on 2 CPU processes (one machine, and 2 "machines" over localhost),
and the errors a user meets first."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import FIXTURE_FASTA, ROOT

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.data.windows import EmptySplitError, load_sequences, tokenize_windows
from dnabert2.pretraining.masking import EVAL_MASK_SEED, MaskedWindows
from dnabert2.pretraining.metrics import baseline_metrics
from dnabert2.runtime.errors import InputError
from dnabert2.train.run_mlm import main as run_mlm
from modeling_dnabert2 import DNABert2ForMaskedLM

TINY = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64,hidden_dropout_prob=0.0"
ACCELERATE = os.path.join(os.path.dirname(sys.executable), "accelerate")


def command(output_dir, cache_dir, max_steps, extra=()):
    return [
        "--config_name",
        str(ROOT / "train" / "configs" / "dnabert2-small.json"),
        "--config_overrides",
        TINY,
        "--tokenizer_name",
        str(ROOT),
        "--train_file",
        str(FIXTURE_FASTA),
        "--validation_split_percentage",
        "30",
        "--max_seq_length",
        "64",
        "--output_dir",
        str(output_dir),
        "--cache_dir",
        str(cache_dir),
        "--max_steps",
        str(max_steps),
        "--per_device_train_batch_size",
        "16",
        "--learning_rate",
        "3e-3",
        "--warmup_steps",
        "0",
        "--logging_steps",
        "5",
        "--eval_steps",
        "30",
        "--save_steps",
        "30",
        "--max_eval_samples",
        "64",
        "--disable_tqdm",
        "True",
        *extra,
    ]


def losses(folder):
    state = json.loads((folder / "trainer_state.json").read_text())
    return [entry["loss"] for entry in state["log_history"] if "loss" in entry], state["global_step"]


def test_pretraining_learns_evaluates_masked_only_and_resumes(tmp_path):
    metrics = run_mlm(command(tmp_path / "run", tmp_path / "cache", 30))
    history, step = losses(tmp_path / "run" / "checkpoint-30")
    assert step == 30 and history[-1] < history[0] - 0.5, history
    assert history[0] == pytest.approx(8.3, abs=0.7)  # ln(4096): not scaled by a process count
    card = (tmp_path / "run" / "README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: fill-mask" in card and "composition baseline" in card
    assert (tmp_path / "run" / "modeling_dnabert2.py").exists()

    # eval_loss / eval_accuracy == a plain forward over the same fixed masks (every selected token is [MASK])
    tokenizer = load_tokenizer(ROOT)
    windows = tokenize_windows(
        load_sequences([str(FIXTURE_FASTA)], validation_split_percentage=30, cache_dir=str(tmp_path / "cache")),
        tokenizer,
        64,
    )["validation"]
    windows = windows.shuffle(seed=EVAL_MASK_SEED).select(range(64))
    masked = MaskedWindows(windows, tokenizer, 0.15, EVAL_MASK_SEED, replace_all=True)
    model = DNABert2ForMaskedLM.from_pretrained(tmp_path / "run").eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for item in (masked[i] for i in range(len(masked))):
            ids = torch.as_tensor(item["input_ids"])[None]
            labels = torch.as_tensor(item["labels"])
            selected = labels != -100
            assert (ids[0][selected] == tokenizer.mask_token_id).all()
            logits = model(input_ids=ids).logits[0][selected]
            total_loss += torch.nn.functional.cross_entropy(logits, labels[selected], reduction="sum").item()
            correct += (logits.argmax(-1) == labels[selected]).sum().item()
            count += int(selected.sum())
    assert metrics["eval_masked_tokens"] == count
    assert metrics["eval_loss"] == pytest.approx(total_loss / count, abs=1e-4)
    assert metrics["eval_accuracy"] == pytest.approx(correct / count, abs=1e-9)
    assert metrics["eval_composition_loss"] <= metrics["eval_unigram_loss"] + 1e-9
    evaluated = run_mlm(
        command(tmp_path / "evaluated", tmp_path / "cache", 30, ["--eval_only", "True"])[4:]
        + ["--model_name_or_path", str(tmp_path / "run"), "--config_overrides", "hidden_dropout_prob=0.0"]
    )
    assert evaluated["eval_loss"] == pytest.approx(metrics["eval_loss"], abs=1e-6)  # same masks at every evaluation
    assert (
        json.loads((tmp_path / "evaluated" / "eval_results.json").read_text())["eval_accuracy"]
        == metrics["eval_accuracy"]
    )

    run_mlm(command(tmp_path / "run", tmp_path / "cache", 60))  # picks up checkpoint-30 by itself
    resumed, step = losses(tmp_path / "run" / "checkpoint-60")
    assert step == 60 and resumed[: len(history)] == history  # the first 30 steps were not redone


def test_baselines_against_hand_computed_values():
    # vocabulary: 5 specials, then A C G T AA (ids 5..9); training frequencies (before add-one) A:3 C:1 G:1 T:1 AA:2
    unigram = np.array([0, 0, 0, 0, 0, 3, 1, 1, 1, 2], dtype=float)
    bases = np.zeros((10, 4))
    bases[5:9] = np.eye(4)
    bases[9] = [2, 0, 0, 0]
    # one window: [CLS] A [MASK](=C) G [MASK](=AA) [SEP]
    window = {"input_ids": np.array([1, 5, 4, 7, 4, 2]), "labels": np.array([-100, -100, 6, -100, 9, -100])}
    result = baseline_metrics([window], unigram, bases, mask_id=4)
    p = (unigram[5:] + 1) / (unigram[5:] + 1).sum()  # add-one unigram over A C G T AA
    assert result["unigram_loss"] == pytest.approx(-(np.log(p[1]) + np.log(p[4])) / 2)
    assert result["unigram_accuracy"] == 0.0  # always guesses A
    # composition: visible A, G -> base frequencies (A, C, G, T) = (2, 1, 2, 1) / 6 with add-one
    g = p[:4] + 2 * p[4] * np.array([1, 0, 0, 0])
    g = g / g.sum()
    f = np.array([2, 1, 2, 1]) / 6
    q = p * np.exp(bases[5:] @ np.log(f / g))
    q /= q.sum()
    alpha = result["composition_alpha"]
    own = np.array([1, 0, 1, 0, 0])
    prob = (own + alpha * q) / (2 + alpha)
    assert result["composition_loss"] == pytest.approx(-(np.log(prob[1]) + np.log(prob[4])) / 2)
    assert result["masked_tokens"] == 2


def test_masks_depend_on_seed_epoch_and_index_only():
    tokenizer = load_tokenizer(ROOT)
    windows = [{"input_ids": [1] + list(range(5, 405)) + [2]}] * 100
    train = MaskedWindows(windows, tokenizer, 0.15, seed=7)
    first = train[1]
    np.random.seed(123), torch.manual_seed(123)  # global random state is irrelevant
    assert np.array_equal(train[1]["input_ids"], first["input_ids"])
    assert not np.array_equal(train[0]["labels"], first["labels"])  # another window, another mask
    items = [train[i] for i in range(len(train))]
    selected = np.stack([item["labels"] != -100 for item in items])
    inputs, labels = np.stack([item["input_ids"] for item in items]), np.stack([item["labels"] for item in items])
    assert 0.14 < selected.mean() < 0.16 and not selected[:, [0, -1]].any()  # [CLS]/[SEP] never selected
    assert (inputs[selected] == tokenizer.mask_token_id).mean() == pytest.approx(0.8, abs=0.02)
    assert (inputs[selected] == labels[selected]).mean() == pytest.approx(0.1, abs=0.02)  # kept as they were
    train.set_epoch(1)
    assert not np.array_equal(train[1]["labels"], first["labels"])
    evaluation = MaskedWindows(windows, tokenizer, 0.15, seed=7, replace_all=True)[1]
    assert (evaluation["input_ids"][evaluation["labels"] != -100] == tokenizer.mask_token_id).all()


@pytest.mark.parametrize("streaming", [False, True], ids=["cached", "streamed, several epochs"])
def test_exact_resume_after_sigkill(tmp_path, streaming):
    stream = ["--streaming", "True", "--max_train_samples", "200", "--shuffle_buffer_size", "50"] if streaming else []

    def args(folder):
        return [
            sys.executable,
            str(ROOT / "train" / "run_mlm.py"),
            *command(
                folder,
                tmp_path / "cache",
                48,
                [
                    "--save_steps",
                    "8",
                    "--logging_steps",
                    "1",
                    "--eval_strategy",
                    "no",
                    "--save_total_limit",
                    "5",
                    *stream,
                ],
            ),
        ]

    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(args(tmp_path / "straight"), check=True, capture_output=True, env=environment, timeout=600)
    process = subprocess.Popen(
        args(tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment
    )
    deadline = time.time() + 300
    while not (tmp_path / "killed" / "checkpoint-8" / "trainer_state.json").exists() and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # between checkpoint-8 and the next one (or during its writing)
    process.wait()
    assert not (tmp_path / "killed" / "checkpoint-48").exists()
    subprocess.run(args(tmp_path / "killed"), check=True, capture_output=True, env=environment, timeout=600)
    straight, _ = losses(tmp_path / "straight" / "checkpoint-48")
    resumed, step = losses(tmp_path / "killed" / "checkpoint-48")
    assert step == 48 and len(straight) == len(resumed) == 48
    np.testing.assert_allclose(resumed, straight, atol=1e-4)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(machine_rank, num_machines, port, output, cache):
    topology = ["--multi_gpu", "--num_processes", "2", "--num_machines", str(num_machines)]
    if num_machines > 1:
        topology += [
            "--machine_rank",
            str(machine_rank),
            "--main_process_ip",
            "127.0.0.1",
            "--main_process_port",
            str(port),
        ]
    else:
        topology += ["--main_process_port", str(port)]
    return subprocess.Popen(
        [
            ACCELERATE,
            "launch",
            *topology,
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            str(ROOT / "tests" / "ddp_probe.py"),
            *command(output, cache, 6, ["--save_steps", "6", "--eval_steps", "6"]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.slow
@pytest.mark.parametrize("num_machines", [1, 2], ids=["1-machine-x-2-processes", "2-machines-x-1-process"])
def test_two_processes_train_data_parallel(tmp_path, num_machines):
    port = free_port()
    processes = [launch(rank, num_machines, port, tmp_path / "run", tmp_path / "cache") for rank in range(num_machines)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs[0][-3000:]
    assert "2 process(es), distributed: total batch 32 windows (16 per device x 2 processes" in "".join(outputs)
    probes = [json.loads((tmp_path / "run" / f"probe-rank{r}.json").read_text()) for r in range(2)]
    assert all(p["world_size"] == 2 and p["parallel_mode"] == "ParallelMode.DISTRIBUTED" for p in probes)
    seen = [set(p["seen"]) for p in probes]
    assert len(seen[0]) >= 6 * 16 and not seen[0] & seen[1]  # each rank trains on its own share
    assert probes[0]["weights"] == probes[1]["weights"]  # exactly equal: gradients were averaged
    card = (tmp_path / "run" / "README.md").read_text()
    assert "| processes | 2 |" in card


@pytest.mark.parametrize(
    "extra, error, words",
    [
        (["--validation_split_percentage", "1"], EmptySplitError, "--validation_split_percentage"),
        (["--max_seq_length", "4"], ValueError, "at least 8 tokens"),
        (["--validation_species", "no_such_species*"], InputError, "matches none"),
    ],
)
def test_clear_errors(tmp_path, extra, error, words):
    with pytest.raises(error, match=words):
        run_mlm(command(tmp_path / "run", tmp_path / "cache", 2) + extra)


def test_clear_errors_for_missing_and_empty_corpora(tmp_path):
    with pytest.raises(InputError, match="No FASTA file matches"):
        load_sequences([str(tmp_path / "missing*.fa")])
    (tmp_path / "ns.fa").write_text(">a\nNNNNNNNNNNNNNNNNNNNN\n>b\nRYKMNNNNNNNNNNNN\n")
    with pytest.raises(EmptySplitError, match="No training sequence"):
        load_sequences([str(tmp_path / "ns.fa")], cache_dir=str(tmp_path / "cache"))


def test_streaming_and_cached_paths_give_the_same_windows(tmp_path):
    tokenizer = load_tokenizer(ROOT)
    windows = {}
    for streaming in (False, True):
        data = load_sequences(
            [str(FIXTURE_FASTA)], validation_split_percentage=30, cache_dir=str(tmp_path / "cache"), streaming=streaming
        )
        windows[streaming] = [tuple(w["input_ids"]) for w in tokenize_windows(data, tokenizer, 64)["train"]]
    assert len(windows[False]) > 100 and windows[True] == windows[False]


def test_streaming_run_trains(tmp_path):
    metrics = run_mlm(command(tmp_path / "run", tmp_path / "cache", 12, ["--streaming", "True", "--save_steps", "12"]))
    history, step = losses(tmp_path / "run" / "checkpoint-12")
    assert step == 12 and history[-1] < history[0] and metrics["eval_masked_tokens"] > 0


def test_validation_species_holds_out_whole_files(tmp_path):
    for name, bases in (("alpha.fa", "ACGTTGCA"), ("beta.fa", "GGGCCCAT")):
        (tmp_path / name).write_text("".join(f">r{i}\n{bases * 20}\n" for i in range(5)))
    data = load_sequences(
        [str(tmp_path / "*.fa")],
        validation_species=["beta*"],
        validation_split_percentage=0,
        cache_dir=str(tmp_path / "cache"),
    )
    assert set(data["validation"]["sequence"]) == {"GGGCCCAT" * 20} and len(data["validation"]) == 5
    assert set(data["train"]["sequence"]) == {"ACGTTGCA" * 20} and len(data["train"]) == 5
    # a --validation_file that the training glob also matches is held out, not trained on as well
    data = load_sequences(
        [str(tmp_path / "*.fa")],
        validation_files=[str(tmp_path / "beta.fa")],
        validation_split_percentage=0,
        cache_dir=str(tmp_path / "cache"),
    )
    assert set(data["train"]["sequence"]) == {"ACGTTGCA" * 20} and len(data["validation"]) == 5


def test_further_pretraining_reads_gue_training_splits_only(tmp_path, monkeypatch):
    from conftest import write_task

    from dnabert2.data.gue import training_sequences

    gue = tmp_path / "GUE"
    write_task(gue / "tf" / "0")
    write_task(gue / "mouse" / "1")
    (gue / "mouse" / "1" / "train.csv").unlink()  # dev and test only, as 14 tasks here: nothing to train on
    for split in ("dev", "test"):  # mark every held-out sequence so that a leak would show
        for task in ("tf/0", "mouse/1"):
            path = gue / task / f"{split}.csv"
            path.write_text(path.read_text().replace(",", "G" * 20 + ",").replace("sequence" + "G" * 20, "sequence"))
    sequences, tasks = training_sequences(gue)
    assert tasks == ["tf_0"] and len(sequences) == 96 and not any("G" * 20 in s for s in sequences["sequence"])
    metrics = run_mlm(
        [
            "--config_name",
            str(ROOT / "train" / "configs" / "dnabert2-small.json"),
            "--config_overrides",
            TINY,
            "--tokenizer_name",
            str(ROOT),
            "--gue_dir",
            str(gue),
            "--validation_split_percentage",
            "10",
            "--max_seq_length",
            "32",
            "--output_dir",
            str(tmp_path / "run"),
            "--max_steps",
            "2",
            "--per_device_train_batch_size",
            "8",
            "--disable_tqdm",
            "True",
            "--eval_steps",
            "2",
        ]
    )
    card = (tmp_path / "run" / "README.md").read_text()
    assert "the training splits of 1 tasks (tf_0); dev and test splits never read" in card
    assert metrics["eval_masked_tokens"] > 0
    with pytest.raises(InputError):  # one data source at a time
        run_mlm(["--gue_dir", str(gue), "--train_file", str(FIXTURE_FASTA), "--output_dir", str(tmp_path / "x")])
