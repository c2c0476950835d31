"""The Python API (``dnabert2.embed``, ``predict``, ``score_variants``) against its command lines' outputs on the same
inputs, and against the model's own forward pass; its defaults and its errors."""

import csv
import random

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import ROOT
from test_variants import genome, write_fasta, write_vcf

import dnabert2
from configuration_dnabert2 import DNABert2Config
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.runtime.errors import InputError
from dnabert2.train.embed import main as embed_main
from dnabert2.train.predict import main as predict_main
from dnabert2.train.score_variants import main as score_main
from modeling_dnabert2 import DNABert2ForSequenceClassification, DNABert2Model


def random_dna(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A small random classifier with a head (as if fine-tuned) and the shipped tokenizer."""
    folder = tmp_path_factory.mktemp("api_classifier")
    config = DNABert2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        id2label={0: "no", 1: "yes"},
        label2id={"no": 0, "yes": 1},
    )
    torch.manual_seed(0)
    DNABert2ForSequenceClassification(config).save_pretrained(folder)
    load_tokenizer(ROOT).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    path = tmp_path_factory.mktemp("api_inputs") / "in.fa"
    path.write_text("".join(f">s{i} note\n{random_dna(80 + 150 * i, i)}\n" for i in range(6)))
    return path


def test_embed_equals_the_command_line_and_the_models_own_mean(tmp_path, tiny_pretrained, fasta):
    for flags in ([], ["--window", "300", "--stride", "200", "--rc_average", "True"]):
        out = tmp_path / f"emb{len(flags)}"
        embed_main(["--model", str(tiny_pretrained), "--input", str(fasta), "--output_dir", str(out), *flags])
        from_command = np.stack(pd.read_parquet(out).sort_values(["index", "start"])["embedding"].to_list())
        options = dict(zip((f[2:] for f in flags[::2]), flags[1::2]))
        api = dnabert2.embed(
            fasta,
            model=str(tiny_pretrained),
            window=int(options["window"]) if options else None,
            stride=int(options["stride"]) if options else None,
            rc_average=bool(options),
        )
        assert api.shape == from_command.shape and api.dtype == np.float32
        np.testing.assert_array_equal(api, from_command)
    encoder, tokenizer = DNABert2Model.from_pretrained(tiny_pretrained).eval(), load_tokenizer(tiny_pretrained)
    sequences = [random_dna(120, 7), random_dna(33, 8)]
    with torch.no_grad():
        expected = torch.cat([encoder.embed(**tokenizer([s], return_tensors="pt")) for s in sequences]).numpy()
    np.testing.assert_allclose(dnabert2.embed(sequences, model=str(tiny_pretrained)), expected, atol=1e-5)


def test_embed_poolings_return_per_base_and_per_token_arrays(tiny_pretrained):
    sequence = random_dna(90, 3)
    (bases,) = dnabert2.embed([sequence], model=str(tiny_pretrained), pooling="nucleotide")
    ((tokens, spans),) = dnabert2.embed([sequence], model=str(tiny_pretrained), pooling="token")
    assert bases.shape == (90, 32) and spans[0, 0] == 0 and spans[-1, 1] == 90 and len(tokens) == len(spans)
    for vector, (start, end) in zip(tokens, spans):  # each base carries its covering token's vector
        np.testing.assert_array_equal(bases[start:end], np.broadcast_to(vector, (end - start, 32)))


def test_predict_equals_the_command_lines_csv(tmp_path, classifier, fasta):
    predict_main(["--model", str(classifier), "--input", str(fasta), "--output", str(tmp_path / "p.csv")])
    with open(tmp_path / "p.csv") as handle:
        expected = list(csv.DictReader(handle))
    frame = dnabert2.predict(fasta, model=str(classifier))
    assert list(frame.columns) == ["name", "start", "end", "prediction", "prob_no", "prob_yes"]
    assert frame["name"].tolist() == [row["name"] for row in expected]
    assert frame["prediction"].tolist() == [row["prediction"] for row in expected]
    for column in ("prob_no", "prob_yes"):  # the CSV keeps 6 decimals
        np.testing.assert_allclose(frame[column], [float(row[column]) for row in expected], atol=5e-7)
    pairs = dnabert2.predict([random_dna(50, 1), random_dna(70, 2)], model=str(classifier))
    assert pairs["end"].tolist() == [50, 70] and set(pairs["prediction"]) <= {"no", "yes"}


def test_score_variants_equals_the_command_lines_tsv(tmp_path, tiny_pretrained):
    contigs = genome()
    reference = write_fasta(tmp_path / "g.fa", contigs)
    rows = [
        ("chr1", pos, f"v{pos}", contigs["chr1"][pos - 1], "T" if contigs["chr1"][pos - 1] != "T" else "G")
        for pos in (100, 1500, 4990)
    ]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    score_main(
        [
            "--vcf",
            str(vcf),
            "--fasta",
            str(reference),
            "--model",
            str(tiny_pretrained),
            "--window",
            "200",
            "--output",
            str(tmp_path / "s.tsv"),
        ]
    )
    expected = pd.read_csv(tmp_path / "s.tsv", sep="\t", dtype={"llr_tokens": str})
    frame = dnabert2.score_variants(vcf, reference, model=str(tiny_pretrained), window=200)
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_defaults_and_errors(tmp_path):
    assert (ROOT / "config.json").samefile(f"{dnabert2.SHIPPED_MODEL}/config.json")
    shipped = dnabert2.embed(["ACGTTGCAAGGCTTAGC"])
    assert shipped.shape == (1, 256)
    with pytest.raises(InputError, match="input not found: ACGTTGCA"):
        dnabert2.embed("ACGTTGCA")  # a string is a path: one sequence goes in a list
    with pytest.raises(InputError, match="model not found: no/such-model"):
        dnabert2.embed(["ACGT"], model="no/such-model")
    with pytest.raises(InputError, match="no embedding for"):
        dnabert2.embed(["ACGT", "NNNN"])
    with pytest.raises(InputError, match="no trained classification head"):
        dnabert2.predict(["ACGT"], model=dnabert2.SHIPPED_MODEL)


def test_sequences_in_memory_follow_the_one_alphabet(tiny_pretrained):
    upper = dnabert2.embed(["ACGTTGCAAGGCTTAGCU"], model=str(tiny_pretrained))
    lower = dnabert2.embed(["acgttgcaaggcttagcu"], model=str(tiny_pretrained))  # case ignored, U read as T
    np.testing.assert_array_equal(upper, lower)
    with pytest.raises(InputError, match="sequence 1: characters that are not nucleotides: '1'"):
        dnabert2.embed(["ACGT", "AC1GT"], model=str(tiny_pretrained))


def test_score_equals_the_command_lines_tsv(tmp_path, tiny_pretrained, fasta):
    from dnabert2.train.score import main as score_main

    score_main(["--model", str(tiny_pretrained), "--input", str(fasta), "--mask_stride", "3",
                "--output", str(tmp_path / "s.tsv")])  # fmt: skip
    expected = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    frame = dnabert2.score(fasta, model=str(tiny_pretrained), mask_stride=3)
    pd.testing.assert_frame_equal(
        frame[["name", "start", "end", "tokens"]], expected[["name", "start", "end", "tokens"]]
    )
    np.testing.assert_allclose(frame["pll"], expected["pll"], atol=5e-5)  # the TSV keeps 4 decimals
    np.testing.assert_allclose(frame["pll_per_bp"], expected["pll_per_bp"], atol=5e-7)
