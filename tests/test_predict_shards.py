"""Sharded dnabert2-predict: two shards of Parquet parts hold exactly the rows of the CSV run, and the merged CSV and
.npy of a sharded run (job array or accelerate launch) equal what one process writes."""

import csv
import gzip
import random

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import ROOT

from configuration_dnabert2 import DNABert2Config
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.train.predict import main as predict_main
from modeling_dnabert2 import DNABert2ForSequenceClassification

LABELS = ("promoter", "enhancer", "other")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A small random three-class classifier and the shipped tokenizer."""
    folder = tmp_path_factory.mktemp("classifier")
    config = DNABert2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)},
        hidden_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    DNABert2ForSequenceClassification(config).save_pretrained(folder)
    load_tokenizer(ROOT).save_pretrained(folder)
    return folder


def test_two_shards_of_parts_match_the_csv_rows(tmp_path, classifier):
    rng = random.Random(1)
    reads = [(f"r{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(50, 400)))) for i in range(11)]
    fastq = tmp_path / "r.fq.gz"
    with gzip.open(fastq, "wt") as handle:
        handle.writelines(f"@{name}\n{seq}\n+\n{'I' * len(seq)}\n" for name, seq in reads)
    common = ["--model", str(classifier), "--input", str(fastq), "--window", "200", "--stride", "150"]
    predict_main([*common, "--output", str(tmp_path / "p.csv")])
    with open(tmp_path / "p.csv") as handle:
        expected = list(csv.DictReader(handle))
    for shard in (0, 1):
        counts = predict_main(
            [
                *common,
                "--output_dir",
                str(tmp_path / "parts"),
                "--part_size",
                "4",
                "--num_shards",
                "2",
                "--shard_index",
                str(shard),
            ]
        )
        assert counts["rows written"] == len(expected[shard::2])  # with windows: every other window of the input
    rows = sorted(
        (row for part in (tmp_path / "parts").glob("*.parquet") for row in pq.read_table(part).to_pylist()),
        key=lambda row: (row["index"], row["start"]),
    )
    assert [(r["name"], r["start"], r["end"], r["prediction"]) for r in rows] == [
        (r["name"], int(r["start"]), int(r["end"]), r["prediction"]) for r in expected
    ]
    assert [r["index"] for r in rows] == [int(r["name"][1:]) for r in expected]
    for name in LABELS:
        np.testing.assert_allclose(
            [r[f"prob_{name}"] for r in rows], [float(r[f"prob_{name}"]) for r in expected], atol=2e-6
        )
    # record means over windows are made when the parts are merged, so a job array writes them as one process does
    predict_main([*common, "--output", str(tmp_path / "mean.csv"), "--aggregate", "mean"])
    for shard in (0, 1):
        predict_main(
            [
                *common,
                "--output",
                str(tmp_path / "mean2.csv"),
                "--aggregate",
                "mean",
                "--num_shards",
                "2",
                "--shard_index",
                str(shard),
            ]
        )
    assert (tmp_path / "mean2.csv").read_bytes() == (tmp_path / "mean.csv").read_bytes()
    assert len((tmp_path / "mean.csv").read_text().splitlines()) > len(expected) + 1  # record rows were added


def write_reads(path, count, seed=2):
    """A gzipped FASTQ of ``count`` random reads of 50-400 bp, one of them all N (scored as one process scores it)."""
    rng = random.Random(seed)
    reads = [(f"r{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(50, 400)))) for i in range(count)]
    reads[3] = ("r3", "N" * 60)
    with gzip.open(path, "wt") as handle:
        handle.writelines(f"@{name}\n{seq}\n+\n{'I' * len(seq)}\n" for name, seq in reads)
    return path


def test_a_job_array_merges_into_the_files_one_process_writes(tmp_path, classifier):
    fastq = write_reads(tmp_path / "r.fq.gz", 13)
    common = ["--model", str(classifier), "--input", str(fastq), "--window", "200", "--stride", "150"]
    predict_main([*common, "--output", str(tmp_path / "one.csv"), "--embeddings", str(tmp_path / "one.npy")])
    sharded = [
        *common,
        "--output",
        str(tmp_path / "two.csv"),
        "--embeddings",
        str(tmp_path / "two.npy"),
        "--num_shards",
        "2",
        "--part_size",
        "3",
    ]
    first = predict_main([*sharded, "--shard_index", "1"])
    assert not first["completes the run"] and not (tmp_path / "two.csv").exists()  # shard 0 still missing
    with pytest.raises(ValueError, match="shards 0 of 2 are not complete yet"):
        predict_main([*sharded, "--merge_only", "True"])
    assert predict_main([*sharded, "--shard_index", "0"])["completes the run"]  # the last worker merges
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"), atol=1e-6)
    (tmp_path / "two.csv").unlink()
    assert predict_main([*sharded, "--merge_only", "True"])["merged rows"] == len(np.load(tmp_path / "one.npy"))
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()


@pytest.mark.slow
def test_accelerate_launch_splits_predictions_and_merges_them(tmp_path, classifier):
    import os
    import subprocess

    fastq = write_reads(tmp_path / "r.fq.gz", 9)
    predict_main(["--model", str(classifier), "--input", str(fastq), "--output", str(tmp_path / "one.csv")])
    command = [
        "accelerate",
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(ROOT / "train" / "predict.py"),
        "--model",
        str(classifier),
        "--input",
        str(fastq),
        "--output",
        str(tmp_path / "two.csv"),
        "--part_size",
        "2",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "Shard 0 of 2 done" in log and "Shard 1 of 2 done" in log and log.count("Wrote 9 predictions") == 1
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()


@pytest.mark.slow
def test_two_machines_over_localhost_split_and_merge(tmp_path, classifier):
    import os
    import socket
    import subprocess

    fastq = write_reads(tmp_path / "r.fq.gz", 7)
    predict_main(["--model", str(classifier), "--input", str(fastq), "--output", str(tmp_path / "one.csv")])
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    machines = [
        subprocess.Popen(
            [
                "accelerate",
                "launch",
                "--multi_gpu",
                "--num_processes",
                "2",
                "--num_machines",
                "2",
                "--machine_rank",
                str(rank),
                "--main_process_ip",
                "127.0.0.1",
                "--main_process_port",
                str(port),
                "--mixed_precision",
                "no",
                "--dynamo_backend",
                "no",
                str(ROOT / "train" / "predict.py"),
                "--model",
                str(classifier),
                "--input",
                str(fastq),
                "--output",
                str(tmp_path / "two.csv"),
                "--part_size",
                "2",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
        )
        for rank in (0, 1)
    ]
    logs = [machine.communicate(timeout=600)[0] for machine in machines]
    assert [machine.returncode for machine in machines] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert "Shard 0 of 2 done" in logs[0] and "Shard 1 of 2 done" in logs[1]  # one shard per machine
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()
