"""Pseudo-log-likelihoods against a plain loop of the test's own (one masked copy per forward pass, full logits),
the fast approximation against hand-built copies, regions, tracks and the dnabert2-score command, whole and in
shards."""

import csv
import random

import numpy as np
import pytest
import torch

import dnabert2
from dnabert2.inference.likelihood import (
    load_scorer,
    mask_groups,
    pseudo_log_likelihood,
    token_log_likelihoods,
)
from dnabert2.runtime.errors import InputError


def dna(length, seed):
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


SEQUENCES = [dna(160, 1), dna(41, 2)[:20] + "NN" + dna(41, 2)[22:], dna(120, 3), "ACGT"]


@torch.no_grad()
def plain_token_log_probs(model, tokenizer, sequence, copies=None):
    """Log-probabilities of the true tokens, one forward pass per masked copy on the unpadded sequence, read from
    the full logits; ``copies``: lists of token positions masked together (default: each scored token alone)."""
    ids = torch.tensor([tokenizer(sequence)["input_ids"]])
    special = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.unk_token_id}
    scored = [p for p in range(ids.shape[1]) if int(ids[0, p]) not in special]
    copies = copies(scored) if copies else [[p] for p in scored]
    values = {}
    for masked_positions in copies:
        masked = ids.clone()
        masked[0, masked_positions] = tokenizer.mask_token_id
        log_probs = torch.log_softmax(model(input_ids=masked).logits[0].double(), dim=-1)
        values.update({p: log_probs[p, ids[0, p]].item() for p in masked_positions})
    return np.array([values[p] for p in scored])


@pytest.fixture(scope="module")
def dnabert2_mlm(tiny_pretrained):
    return load_scorer(tiny_pretrained)


def test_exact_pll_equals_one_position_per_forward_loop(dnabert2_mlm):
    model, tokenizer = dnabert2_mlm
    # a small budget: several batches, copies of different sequences padded together
    scores = token_log_likelihoods(model, tokenizer, SEQUENCES, max_tokens_per_batch=300)
    for sequence, score in zip(SEQUENCES, scores):
        expected = plain_token_log_probs(model, tokenizer, sequence)
        np.testing.assert_allclose(score.log_probs, expected, atol=1e-5, rtol=0)
        assert score.pll == pytest.approx(expected.sum(), abs=1e-4)
    assert scores[0].bases == 160 and scores[1].bases == 39  # the two Ns are [UNK] tokens, context only
    plls = pseudo_log_likelihood(model, tokenizer, SEQUENCES)
    np.testing.assert_allclose(plls, [s.pll for s in scores], atol=1e-5, rtol=0)


def test_mask_stride_equals_hand_built_copies(dnabert2_mlm):
    model, tokenizer = dnabert2_mlm
    for stride in (1, 3):
        scores = token_log_likelihoods(model, tokenizer, SEQUENCES[:3], mask_stride=stride, max_tokens_per_batch=500)
        for sequence, score in zip(SEQUENCES, scores):
            expected = plain_token_log_probs(
                model, tokenizer, sequence, lambda scored: [scored[c::stride] for c in range(stride)]
            )
            np.testing.assert_allclose(score.log_probs, expected, atol=1e-5, rtol=0)
    assert [g.tolist() for g in mask_groups(5, 2)] == [[0, 2, 4], [1, 3]]
    assert [g.tolist() for g in mask_groups(3)] == [[0], [1], [2]]
    with pytest.raises(InputError, match="mask_stride"):
        mask_groups(3, 0)


def test_region_scores_only_overlapping_tokens_with_the_rest_as_context(dnabert2_mlm):
    model, tokenizer = dnabert2_mlm
    (whole,) = token_log_likelihoods(model, tokenizer, SEQUENCES[:1])
    (part,) = token_log_likelihoods(model, tokenizer, SEQUENCES[:1], regions=[(50, 80)])
    overlapping = (whole.starts < 80) & (whole.ends > 50)
    assert 0 < len(part.log_probs) == overlapping.sum() < len(whole.log_probs)
    np.testing.assert_allclose(part.log_probs, whole.log_probs[overlapping], atol=1e-5, rtol=0)
    track = whole.per_base(160)
    assert track.shape == (160,) and not np.isnan(track).any()
    assert track.sum() == pytest.approx(whole.pll, abs=1e-3)
    assert np.isnan(part.per_base(160)[:40]).all()


def test_any_auto_masked_lm_scores_through_full_logits(tmp_path, tiny_pretrained):
    from transformers import BertConfig, BertForMaskedLM

    from dnabert2.data.tokenizer import load_tokenizer

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=4096, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertForMaskedLM(config).save_pretrained(tmp_path)
    load_tokenizer(tiny_pretrained).save_pretrained(tmp_path)
    model, tokenizer = load_scorer(tmp_path)
    assert type(model).__name__ == "BertForMaskedLM"
    scores = token_log_likelihoods(model, tokenizer, SEQUENCES[1:3], max_tokens_per_batch=400)
    for sequence, score in zip(SEQUENCES[1:3], scores):
        np.testing.assert_allclose(score.log_probs, plain_token_log_probs(model, tokenizer, sequence), atol=1e-5)


def test_score_command_writes_rows_windows_and_tracks(tmp_path, tiny_pretrained, dnabert2_mlm):
    import pyarrow.parquet as pq

    from dnabert2.train.score import main

    model, tokenizer = dnabert2_mlm
    fasta = tmp_path / "input.fa"
    fasta.write_text(f">long first\n{SEQUENCES[0]}\n>short\n{SEQUENCES[2]}\n")
    output, tracks = tmp_path / "scores.tsv", tmp_path / "tracks.parquet"
    argv = ["--input", str(fasta), "--model_name_or_path", str(tiny_pretrained), "--output", str(output)]
    counts = main(argv + ["--window", "130", "--stride", "60", "--tracks", str(tracks)])
    assert counts["merged rows"] == 3 and not (tmp_path / "scores.tsv.parts").exists()  # parts go once merged
    assert b"\r" not in output.read_bytes()  # Unix line ends: cut and awk see clean last columns
    with open(output) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == ["name", "start", "end", "tokens", "pll", "pll_per_bp"]
    assert [(r["name"], int(r["start"]), int(r["end"])) for r in rows] == [
        ("long", 0, 130),
        ("long", 30, 160),
        ("short", 0, 120),
    ]
    windows = [SEQUENCES[0][0:130], SEQUENCES[0][30:160], SEQUENCES[2]]
    expected = token_log_likelihoods(model, tokenizer, windows)
    for row, want, window in zip(rows, expected, windows):
        assert int(row["tokens"]) == len(want.log_probs)
        assert float(row["pll"]) == pytest.approx(want.pll, abs=1e-3)
        assert float(row["pll_per_bp"]) == pytest.approx(want.pll / len(window), abs=1e-5)
    table = pq.read_table(tracks).to_pylist()
    assert len(table) == 3 and len(table[1]["base_log_prob"]) == 130
    assert table[1]["token_start"][0] == 30 and table[1]["token_end"][-1] == 160  # record coordinates
    np.testing.assert_allclose(table[1]["token_log_prob"], expected[1].log_probs, atol=1e-6)
    assert np.nansum(table[1]["base_log_prob"]) == pytest.approx(expected[1].pll, abs=1e-3)

    # a region in record coordinates: a window outside it scores nothing
    main(argv + ["--window", "130", "--stride", "60", "--region", "5:25"])
    with open(output) as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert int(rows[0]["tokens"]) > 0 and int(rows[1]["tokens"]) == 0 and rows[1]["pll_per_bp"] == "nan"
    with pytest.raises(InputError, match="START:END"):
        main(argv + ["--region", "40-10"])
    with pytest.raises(InputError, match="--stride needs --window"):
        main(argv + ["--stride", "50"])
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sequence1,sequence2\nACGTAC,GGTACA\n")
    with pytest.raises(InputError, match="pair of sequences"):
        main(["--input", str(pairs), "--model_name_or_path", str(tiny_pretrained), "--output", str(output)])
    with pytest.raises(InputError, match="pair of sequences"):  # the Python API too, never the first one's score
        dnabert2.score([("ACGTAC", "GGTACA")], model=str(tiny_pretrained))


def test_two_score_shards_merge_into_what_one_process_writes(tmp_path, tiny_pretrained):
    import pyarrow.parquet as pq

    from dnabert2.train.score import main

    fasta = tmp_path / "input.fa"
    fasta.write_text("".join(f">r{i}\n{sequence}\n" for i, sequence in enumerate(SEQUENCES)))
    common = ["--input", str(fasta), "--model_name_or_path", str(tiny_pretrained), "--window", "50"]
    common += ["--mask_stride", "2", "--part_size", "2"]
    whole = main(common + ["--output", str(tmp_path / "one.tsv"), "--tracks", str(tmp_path / "one.parquet")])
    sharded = common + ["--output", str(tmp_path / "two.tsv"), "--tracks", str(tmp_path / "two.parquet")]
    first = main(sharded + ["--num_shards", "2", "--shard_index", "1"])
    assert not first["completes the run"] and not (tmp_path / "two.tsv").exists()  # shard 0 still missing
    last = main(sharded + ["--num_shards", "2", "--shard_index", "0"])
    assert last["completes the run"] and last["merged rows"] == whole["merged rows"] == 9  # windows: 4 + 1 + 3 + 1
    assert first["rows written"] + last["rows written"] == 9  # the windows dealt out between the shards

    def tsv(name):
        return [line.split("\t") for line in (tmp_path / name).read_text().splitlines()]

    assert [row[:4] for row in tsv("two.tsv")] == [row[:4] for row in tsv("one.tsv")]  # name, start, end, tokens
    # a shard batches other windows together, so the last printed digit may differ
    plls = [np.array([row[4:] for row in tsv(name)[1:]], float) for name in ("two.tsv", "one.tsv")]
    np.testing.assert_allclose(*plls, atol=2e-4)
    sharded_tracks, whole_tracks = (
        pq.read_table(tmp_path / name).to_pydict() for name in ("two.parquet", "one.parquet")
    )
    assert sharded_tracks.keys() == whole_tracks.keys() and sharded_tracks["name"] == whole_tracks["name"]
    assert sharded_tracks["token_id"] == whole_tracks["token_id"]
    for column in ("start", "end", "token_start", "token_end", "base_log_prob", "token_log_prob"):  # NaN: unscored
        np.testing.assert_allclose(
            np.concatenate(sharded_tracks[column], None), np.concatenate(whole_tracks[column], None), atol=1e-6
        )
    again = main(sharded + ["--num_shards", "2", "--shard_index", "0"])  # a rerun finds its parts complete
    assert again.get("rows written", 0) == 0 and again["rows skipped"] == last["rows written"]
