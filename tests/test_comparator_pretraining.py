"""Pretraining the comparators with run_mlm.py: DNABERT-style BERT on overlapping 6-mers (spans of 6 masked) and
NT-style ESM on non-overlapping 6-mers, from train/configs with tokenizers written by train/make_kmer_tokenizers.py;
bits per base against hand counts."""

import itertools
import json
import math

import numpy as np
import pytest
from conftest import FIXTURE_FASTA, ROOT

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.pretraining.masking import MaskedWindows, mask_span_for
from dnabert2.pretraining.metrics import masked_bases, token_lengths
from dnabert2.train.make_kmer_tokenizers import main as make_tokenizers
from dnabert2.train.run_mlm import main as run_mlm

TINY = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64,hidden_dropout_prob=0.0"


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is 30x faster here


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizers")
    make_tokenizers(["--output_dir", str(folder)])
    return folder


def test_masked_bases_by_hand():
    labels = np.array([[-100, 9, 9, -100, 9, -100], [9, -100, -100, -100, -100, -100]])
    # overlapping 6-mers: runs of 2 and 1 tokens cover 7 and 6 bases; the second row's lone token 6
    assert masked_bases(labels, None, overlapping_k=6) == 7 + 6 + 6
    lengths = np.zeros(10, dtype=int)
    lengths[9] = 6
    assert masked_bases(labels, lengths) == 4 * 6


def test_tokenizer_folders_and_span_masks(tokenizers):
    overlapping = load_tokenizer(tokenizers / "kmer_overlapping")
    nonoverlapping = load_tokenizer(tokenizers / "kmer_nonoverlapping")
    assert len(overlapping) == 5 + 4096 and len(nonoverlapping) == 6 + 4096 + 5
    assert mask_span_for(overlapping) == 6 and mask_span_for(nonoverlapping) == 1
    assert token_lengths(nonoverlapping)[nonoverlapping.convert_tokens_to_ids("A")] == 1
    windows = [{"input_ids": [2] + list(range(5, 405)) + [3]}]
    labels = MaskedWindows(windows, overlapping, 0.15, seed=1, mask_span=6)[0]["labels"]
    runs = [len(list(run)) for masked, run in itertools.groupby(labels != -100) if masked]
    assert runs and min(runs[:-1]) >= 6


@pytest.mark.parametrize(
    "kind, config, model_type",
    [("kmer_overlapping", "dnabert-kmer6-small", "bert"), ("kmer_nonoverlapping", "nt-kmer6-small", "esm")],
)
def test_run_mlm_pretrains_a_comparator_and_reports_bits_per_base(tmp_path, tokenizers, kind, config, model_type):
    output = tmp_path / "run"
    metrics = run_mlm(
        [
            *("--config_name", str(ROOT / "train" / "configs" / f"{config}.json"), "--config_overrides", TINY),
            *("--tokenizer_name", str(tokenizers / kind), "--train_file", str(FIXTURE_FASTA)),
            *("--validation_split_percentage", "30", "--max_seq_length", "64", "--output_dir", str(output)),
            *("--cache_dir", str(tmp_path / "cache"), "--max_steps", "20", "--per_device_train_batch_size", "8"),
            *("--learning_rate", "3e-3", "--warmup_steps", "0", "--eval_steps", "20", "--save_steps", "20"),
            *("--max_eval_samples", "32", "--disable_tqdm", "True", "--logging_steps", "5"),
        ]
    )
    saved = json.loads((output / "config.json").read_text())
    assert saved["model_type"] == model_type and saved["num_hidden_layers"] == 2
    assert load_tokenizer(output).get_vocab() == load_tokenizer(tokenizers / kind).get_vocab()
    bits_per_token = metrics["eval_loss"] / math.log(2)
    # bases per masked token: 6 for non-overlapping 6-mers (a few single bases aside); for spans of 6 overlapping
    # 6-mers, 11 bases per 6 tokens (less where spans merge, more where the end cuts them)
    per_token = 6 if kind == "kmer_nonoverlapping" else 11 / 6
    assert metrics["eval_bits_per_base"] == pytest.approx(bits_per_token / per_token, rel=0.15)
