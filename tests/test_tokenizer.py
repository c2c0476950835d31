"""The shipped tokenizer (repo root) and the training script."""

import json

import pytest
from conftest import FIXTURE_FASTA, ROOT
from transformers import AutoTokenizer

from dnabert2.train.train_tokenizer import main as train_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(ROOT)


def test_special_token_ids_match_the_published_tokenizer(tokenizer):
    assert tokenizer.convert_tokens_to_ids(["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]", "A", "C", "G", "T"]) == list(
        range(9)
    )
    assert len(tokenizer) == 4096
    assert tokenizer.model_max_length >= 10**18  # ALiBi: no position limit, so no false "too long" warning


def test_long_sequences_tokenize_without_a_length_warning(tokenizer, caplog):
    with caplog.at_level("WARNING"):
        ids = tokenizer("ACGTTGCAAT" * 1000)["input_ids"]
    assert len(ids) > 512 and "longer than the specified maximum" not in caplog.text


def test_case_and_whitespace_insensitive_and_rna(tokenizer):
    ids = tokenizer(["acgtaccgttagc", "ACGTACCGTTAGC", "AC GT\nACCG TTAGC\n", "ACGUACCGUUAGC"])["input_ids"]
    assert ids[0] == ids[1] == ids[2] == ids[3]
    assert 0 not in ids[0]  # no [UNK]


def test_templates_pairs_padding_truncation_and_decoding(tokenizer):
    single = tokenizer("ACGTAGCTAGCTAGGATCGATCG")
    assert single["input_ids"][0] == 1 and single["input_ids"][-1] == 2
    pair = tokenizer("ACGTACGT", "TTTTGGGG")
    sep = pair["input_ids"].index(2)
    assert pair["token_type_ids"][: sep + 1] == [0] * (sep + 1)
    assert set(pair["token_type_ids"][sep + 1 :]) == {1} and pair["input_ids"][-1] == 2
    batch = tokenizer(["ACGT" * 50, "AC"], padding=True, truncation=True, max_length=16, return_tensors="pt")
    assert batch["input_ids"].shape[1] <= 16
    assert batch["input_ids"][1, -1].item() == 3 and batch["attention_mask"][1, -1].item() == 0
    sequence = "acgtttgacagatcgatttagggacccatag"
    assert tokenizer.decode(tokenizer(sequence)["input_ids"], skip_special_tokens=True) == sequence.upper()


def test_n_becomes_unk(tokenizer):
    ids = tokenizer("ACGTNNACGT", add_special_tokens=False)["input_ids"]
    assert ids.count(0) == 2


def test_training_script_writes_a_loadable_tokenizer(tmp_path):
    train_tokenizer(
        ["--fasta", str(FIXTURE_FASTA), "--output_dir", str(tmp_path), "--vocab_size", "300", "--held_out_percent", "0"]
    )
    trained = AutoTokenizer.from_pretrained(tmp_path)
    assert len(trained) == 300
    assert trained.convert_ids_to_tokens(list(range(9))) == [
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[PAD]",
        "[MASK]",
        "A",
        "C",
        "G",
        "T",
    ]
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert config["model_max_length"] >= 10**18 and config["mask_token"] == "[MASK]"
    ids = trained("gattaca")["input_ids"]
    assert trained.decode(ids, skip_special_tokens=True) == "GATTACA"
