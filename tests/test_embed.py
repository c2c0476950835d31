"""dnabert2-embed: per-read vectors against DNABert2Model.embed, per-base vectors against a plain forward pass,
shards against one run, resumed and refused reruns, a killed worker, and an ``accelerate launch`` run."""

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import ROOT

from dnabert2.data.alphabet import reverse_complement
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.sharding import SettingsMismatchError
from dnabert2.train import embed
from modeling_dnabert2 import DNABert2Model


def random_reads(count, length=150, seed=0):
    """(name, sequence) pairs; a duplicate name, an empty read and an all-N read among them."""
    rng = random.Random(seed)
    reads = [
        (f"read{i}", "".join(rng.choice("ACGT") for _ in range(rng.randint(length // 2, length)))) for i in range(count)
    ]
    reads[3] = (reads[2][0], reads[3][1])
    return reads + [("empty", ""), ("unknown", "N" * 40)]


def write_fastq_gz(path, reads):
    with gzip.open(path, "wt") as handle:
        handle.writelines(f"@{name} description\n{seq}\n+\n{'I' * len(seq)}\n" for name, seq in reads)
    return path


def write_fasta(path, reads):
    path.write_text("".join(f">{name}\n{seq[:60]}\n{seq[60:]}\n" for name, seq in reads))
    return path


def rows_of(folder):
    """Every row of the folder's parts, ordered by (index, start)."""
    rows = [row for part in sorted(folder.glob("*.parquet")) for row in pq.read_table(part).to_pylist()]
    return sorted(rows, key=lambda row: (row["index"], row["start"]))


def run(model, input_path, output_dir, *flags):
    return embed.main(
        [
            "--model_name_or_path",
            str(model),
            "--input",
            str(input_path),
            "--output_dir",
            str(output_dir),
            *map(str, flags),
        ]
    )


def last_hidden(model, tokenizer, sequence):
    """The plain forward pass's last hidden state (tokens, hidden) and the tokens' bp spans."""
    encoded = tokenizer(sequence, return_offsets_mapping=True, return_tensors="pt")
    spans = encoded.pop("offset_mapping")[0].tolist()
    with torch.no_grad():
        return model(**encoded).last_hidden_state[0].numpy(), spans


def base_vectors(model, tokenizer, sequence):
    """(bases, hidden): each base's vector is that of the token whose span holds it."""
    hidden, spans = last_hidden(model, tokenizer, sequence)
    return np.stack(
        [hidden[next(t for t, (a, b) in enumerate(spans) if a <= base < b)] for base in range(len(sequence))]
    )


@pytest.fixture(scope="module")
def encoder_and_tokenizer(tiny_pretrained):
    return DNABert2Model.from_pretrained(tiny_pretrained).eval(), load_tokenizer(tiny_pretrained)


@pytest.mark.parametrize("file_format", ["fastq.gz", "fasta"])
def test_mean_pooling_is_embed_per_read(tmp_path, tiny_pretrained, encoder_and_tokenizer, file_format):
    reads = random_reads(12)
    writer = write_fastq_gz if file_format == "fastq.gz" else write_fasta
    counts = run(
        tiny_pretrained,
        writer(tmp_path / f"reads.{file_format}", reads),
        tmp_path / "out",
        "--max_tokens_per_batch",
        200,
        "--part_size",
        5,
    )
    rows = rows_of(tmp_path / "out")
    assert [(r["index"], r["name"], r["start"], r["end"]) for r in rows] == [
        (i, name, 0, len(seq)) for i, (name, seq) in enumerate(reads[:12])
    ]
    model, tokenizer = encoder_and_tokenizer
    for row in rows:
        expected = model.embed(**tokenizer(reads[row["index"]][1], return_tensors="pt"))[0].numpy()
        np.testing.assert_allclose(row["embedding"], expected, atol=1e-5)
    assert counts["skipped"] == {"empty": 1, "only N (or other ambiguity codes)": 1}
    manifest = json.loads((tmp_path / "out" / ".manifest.json").read_text())
    assert manifest["skipped"] == {"shard-00000-of-00001": counts["skipped"]}
    assert {part: info["rows"] for part, info in manifest["parts"].items()} == {
        f"shard-00000-of-00001.part-0000{i}.parquet": rows for i, rows in enumerate([5, 5, 2])
    }


def test_nucleotide_pooling_gives_each_base_its_tokens_vector(tmp_path, tiny_pretrained, encoder_and_tokenizer):
    reads = random_reads(4, length=80)[:4] + [("with_n", "ACGTTGCANNNGGCATTACG")]
    run(tiny_pretrained, write_fasta(tmp_path / "r.fa", reads), tmp_path / "out", "--pooling", "nucleotide")
    rows = rows_of(tmp_path / "out")
    assert len(rows) == len(reads)
    for row in rows:
        expected = base_vectors(*encoder_and_tokenizer, reads[row["index"]][1])
        np.testing.assert_allclose(np.array(row["embedding"]), expected, atol=1e-5)


def test_bed_regions_cls_float16_and_strand_averaged_bases(tmp_path, tiny_pretrained, encoder_and_tokenizer):
    rng = random.Random(5)
    genome = "".join(rng.choice("ACGT") for _ in range(300))
    fasta = tmp_path / "g.fa"
    fasta.write_text(f">chr7\n{genome}\n")
    bed = tmp_path / "r.bed"
    bed.write_text("7\t10\t90\tfirst\nchr7\t100\t260\n")
    regions = [("first", genome[10:90]), ("chr7:100-260", genome[100:260])]
    run(tiny_pretrained, bed, tmp_path / "cls", "--fasta", fasta, "--pooling", "cls", "--dtype", "float16")
    table = pq.read_table(next((tmp_path / "cls").glob("*.parquet")))
    assert table.schema.field("embedding").type.value_type == pa.float16()
    for row, (name, sequence) in zip(table.to_pylist(), regions):
        assert row["name"] == name
        cls = last_hidden(*encoder_and_tokenizer, sequence)[0][0]
        np.testing.assert_allclose(row["embedding"], cls.astype(np.float16), rtol=1e-3, atol=1e-3)
    run(tiny_pretrained, bed, tmp_path / "bases", "--fasta", fasta, "--pooling", "nucleotide", "--rc_average", True)
    for row, (name, sequence) in zip(rows_of(tmp_path / "bases"), regions):
        forward = base_vectors(*encoder_and_tokenizer, sequence)
        reverse = base_vectors(*encoder_and_tokenizer, reverse_complement(sequence))[::-1]
        np.testing.assert_allclose(np.array(row["embedding"]), (forward + reverse) / 2, atol=1e-5)
    with pytest.raises(ValueError, match="not defined for token pooling"):
        run(tiny_pretrained, bed, tmp_path / "tokens", "--fasta", fasta, "--pooling", "token", "--rc_average", True)


def test_token_pooling_spans_tile_each_window(tmp_path, tiny_pretrained):
    rng = random.Random(3)
    reads = [("long", "".join(rng.choice("ACGT") for _ in range(400)))]
    run(
        tiny_pretrained,
        write_fasta(tmp_path / "r.fa", reads),
        tmp_path / "out",
        "--pooling",
        "token",
        "--window",
        150,
        "--stride",
        100,
    )
    rows = rows_of(tmp_path / "out")
    assert [(r["start"], r["end"]) for r in rows] == [(0, 150), (100, 250), (200, 350), (250, 400)]
    for row in rows:
        spans = np.array(row["spans"])
        assert spans[0, 0] == row["start"] and spans[-1, 1] == row["end"] and (spans[1:, 0] == spans[:-1, 1]).all()
        assert len(row["embedding"]) == len(spans)


def test_two_shards_give_the_rows_of_one_run(tmp_path, tiny_pretrained):
    fastq = write_fastq_gz(tmp_path / "r.fq.gz", random_reads(15))
    run(tiny_pretrained, fastq, tmp_path / "one", "--part_size", 4)
    for shard in (0, 1):
        run(tiny_pretrained, fastq, tmp_path / "two", "--part_size", 4, "--num_shards", 2, "--shard_index", shard)
    one, two = rows_of(tmp_path / "one"), rows_of(tmp_path / "two")
    assert [r["index"] for r in two] == list(range(15))
    assert [(r["index"], r["name"], r["start"], r["end"]) for r in one] == [
        (r["index"], r["name"], r["start"], r["end"]) for r in two
    ]
    np.testing.assert_allclose([r["embedding"] for r in one], [r["embedding"] for r in two], atol=1e-6)
    assert {p.name for p in (tmp_path / "two").glob("*.parquet")} == {
        f"shard-0000{s}-of-00002.part-0000{p}.parquet" for s in (0, 1) for p in (0, 1)
    }


def test_rerun_redoes_only_a_missing_part_and_other_settings_are_refused(tmp_path, tiny_pretrained):
    fasta = write_fasta(tmp_path / "r.fa", random_reads(10))
    out = tmp_path / "out"
    run(tiny_pretrained, fasta, out, "--part_size", 3)
    before = rows_of(out)
    parts = sorted(out.glob("*.parquet"))
    assert len(parts) == 4
    mtimes = {p.name: p.stat().st_mtime_ns for p in parts}
    parts[1].unlink()
    time.sleep(0.01)
    counts = run(tiny_pretrained, fasta, out, "--part_size", 3)
    assert (counts["parts written"], counts["parts skipped"], counts["rows written"]) == (1, 3, 3)
    assert {p.name: p.stat().st_mtime_ns for p in parts if p != parts[1]} == {
        name: t for name, t in mtimes.items() if name != parts[1].name
    }
    assert rows_of(out) == before
    with pytest.raises(SettingsMismatchError, match="pooling"):
        run(tiny_pretrained, fasta, out, "--part_size", 3, "--pooling", "cls")
    with pytest.raises(SettingsMismatchError, match="part_size"):
        run(tiny_pretrained, fasta, out, "--part_size", 4)


def test_killed_run_resumes_to_the_same_rows(tmp_path, tiny_pretrained):
    fasta = write_fasta(tmp_path / "r.fa", random_reads(120, length=3000))
    flags = ["--part_size", 2]
    run(tiny_pretrained, fasta, tmp_path / "whole", *flags)
    out = tmp_path / "killed"
    command = [
        sys.executable,
        str(ROOT / "train" / "embed.py"),
        "--model_name_or_path",
        str(tiny_pretrained),
        "--input",
        str(fasta),
        "--output_dir",
        str(out),
        *map(str, flags),
    ]
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = out / ".manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (manifest.exists() and json.loads(manifest.read_text())["parts"]):
        time.sleep(0.005)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    done = json.loads(manifest.read_text())["parts"]
    assert 1 <= len(done) < 60, "the worker was not killed part-way"
    counts = run(tiny_pretrained, fasta, out, *flags)
    assert counts["parts skipped"] >= len(done) and not list(out.glob("*.tmp*"))
    killed, whole = rows_of(out), rows_of(tmp_path / "whole")
    assert [r["index"] for r in killed] == list(range(120))
    assert [(r["name"], r["end"]) for r in killed] == [(r["name"], r["end"]) for r in whole]
    np.testing.assert_allclose([r["embedding"] for r in killed], [r["embedding"] for r in whole], atol=1e-6)


@pytest.mark.slow
def test_accelerate_launch_two_processes_match_one(tmp_path, tiny_pretrained):
    fastq = write_fastq_gz(tmp_path / "r.fq.gz", random_reads(21))
    run(tiny_pretrained, fastq, tmp_path / "one", "--part_size", 4)
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
        str(ROOT / "train" / "embed.py"),
        "--model_name_or_path",
        str(tiny_pretrained),
        "--input",
        str(fastq),
        "--output_dir",
        str(tmp_path / "two"),
        "--part_size",
        "4",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    )
    assert result.returncode == 0, result.stderr[-3000:]
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    assert f"{threads} torch thread(s) per process (2 process(es) on this machine)" in result.stdout
    one, two = rows_of(tmp_path / "one"), rows_of(tmp_path / "two")
    assert [r["index"] for r in two] == list(range(21))
    assert [(r["name"], r["end"]) for r in one] == [(r["name"], r["end"]) for r in two]
    np.testing.assert_allclose([r["embedding"] for r in one], [r["embedding"] for r in two], atol=1e-6)
    assert {p.name.split(".part")[0] for p in (tmp_path / "two").glob("*.parquet")} == {
        "shard-00000-of-00002",
        "shard-00001-of-00002",
    }


def test_rows_keep_the_header_description_beside_the_name(tmp_path, tiny_pretrained):
    fastq = write_fastq_gz(tmp_path / "r.fq.gz", random_reads(5))  # headers "@readN description"
    run(tiny_pretrained, fastq, tmp_path / "out")
    rows = rows_of(tmp_path / "out")
    assert [(r["name"], r["description"]) for r in rows][:2] == [("read0", "description"), ("read1", "description")]


def test_windows_of_one_long_record_are_split_among_shards(tmp_path, tiny_pretrained):
    genome = tmp_path / "g.fa"
    genome.write_text(">chr1 a chromosome\n" + "".join(random.Random(5).choice("ACGT") for _ in range(5000)) + "\n")
    run(tiny_pretrained, genome, tmp_path / "one", "--window", 500)
    for shard in (0, 1):
        counts = run(
            tiny_pretrained, genome, tmp_path / "two", "--window", 500, "--num_shards", 2, "--shard_index", shard
        )
        assert counts["rows written"] == 5  # every other window of the one record
    one, two = rows_of(tmp_path / "one"), rows_of(tmp_path / "two")
    assert [(r["start"], r["end"]) for r in two] == [(r["start"], r["end"]) for r in one] and len(one) == 10
    np.testing.assert_allclose([r["embedding"] for r in two], [r["embedding"] for r in one], atol=1e-6)


def test_the_output_folder_reads_as_one_table_in_every_parquet_reader(tmp_path, tiny_pretrained):
    import datasets
    import pandas as pd
    import pyarrow.dataset as ds

    fasta = write_fasta(tmp_path / "r.fa", random_reads(7))
    out = tmp_path / "emb"
    run(tiny_pretrained, fasta, out, "--part_size", 3)
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".parquet")) == [".manifest.json"]  # no lock
    expected = rows_of(out)
    frame = pd.read_parquet(out).sort_values(["index", "start"])
    assert frame["name"].tolist() == [r["name"] for r in expected] and len(frame) == 7  # the empty and N reads skipped
    assert ds.dataset(out, format="parquet").count_rows() == 7
    assert datasets.load_dataset("parquet", data_dir=str(out), split="train").num_rows == 7
    for reader in ("polars", "duckdb"):  # where installed
        try:
            module = __import__(reader)
        except ImportError:
            continue
        if reader == "polars":
            assert module.read_parquet(str(out / "*.parquet")).height == 7
        else:
            assert module.sql(f"select count(*) from read_parquet('{out}/*.parquet')").fetchall()[0][0] == 7


def test_a_run_that_wrote_nothing_leaves_the_folder_free_and_a_refusal_is_one_line(tmp_path, tiny_pretrained):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGT1\n")
    out = tmp_path / "emb"
    with pytest.raises(ValueError, match="not nucleotides"):
        run(tiny_pretrained, bad, out)
    fasta = write_fasta(tmp_path / "r.fa", random_reads(5))
    run(tiny_pretrained, fasta, out, "--pooling", "cls")  # other input and settings: nothing was written before
    with pytest.raises(SettingsMismatchError) as refused:
        run(tiny_pretrained, fasta, out, "--pooling", "mean")
    message = str(refused.value)
    assert "\n" not in message and "settings.pooling was 'cls', now 'mean'" in message
    assert "delete the folder" in message and "part_size" not in message  # only what differs
