"""The paper's comparators in this harness: DNABERT (k-mer BERT) and Nucleotide Transformer (ESM) checkpoints in their
official layouts, fine-tuned with the release's own command lines, reloaded for prediction and embedding."""

import csv
import json

import numpy as np
import pytest
import torch
from comparator_models import write_dnabert_checkpoint, write_gc_task, write_nt_checkpoint
from conftest import ROOT
from safetensors.torch import load_file
from sklearn.metrics import matthews_corrcoef

from dnabert2.data.tokenizer import DNATokenizer, kmer_words, load_tokenizer, train_bpe, vocabulary_kmer_length
from dnabert2.finetuning.lora import lora_targets
from dnabert2.inference.loading import load_classifier
from dnabert2.inference.prediction import predict_logits
from dnabert2.runtime.errors import InputError
from dnabert2.train.finetune import main as finetune

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is 30x faster here


@pytest.fixture(scope="module")
def dnabert(tmp_path_factory):
    return write_dnabert_checkpoint(tmp_path_factory.mktemp("dnabert6"))


@pytest.fixture(scope="module")
def nt(tmp_path_factory):
    return write_nt_checkpoint(tmp_path_factory.mktemp("nt"))


@pytest.fixture(scope="module")
def gc_task(tmp_path_factory):
    return write_gc_task(tmp_path_factory.mktemp("gc_task"))


def release_command(model, data, output, kmer, max_length, learning_rate, extra=()):
    """The release's run_dnabert1.sh / run_nt.sh command line (tf settings), a local folder for the Hub id. The
    tiny random models need a higher learning rate than the release's 3e-5 / 1e-4 to learn in 150 steps (at those
    they stay at MCC 0 and 0.17), and --save_model True keeps the model for the reload checks."""
    return [
        *("--model_name_or_path", str(model), "--data_path", str(data), "--kmer", str(kmer)),
        *("--run_name", "run", "--model_max_length", str(max_length), *extra),
        *("--per_device_train_batch_size", "8", "--per_device_eval_batch_size", "64"),
        *("--gradient_accumulation_steps", "1", "--learning_rate", learning_rate, "--num_train_epochs", "3"),
        *("--fp16", "--save_steps", "200", "--output_dir", str(output), "--evaluation_strategy", "steps"),
        *("--eval_steps", "200", "--warmup_steps", "30", "--logging_steps", "100000", "--overwrite_output_dir"),
        *("True", "--log_level", "info", "--seed", "42", "--find_unused_parameters", "False", "--save_model", "True"),
    ]


def test_kmer_words_and_vocabulary_detection(dnabert, nt):
    assert kmer_words("ACGTACG", 6) == "ACGTAC CGTACG"
    assert len(kmer_words("A" * 100, 6).split()) == 95
    assert kmer_words("ACG", 6) == ""
    assert vocabulary_kmer_length((dnabert / "vocab.txt").read_text().split()) == 6
    assert vocabulary_kmer_length((nt / "vocab.txt").read_text().split()) is None  # 6-mers and single bases
    assert vocabulary_kmer_length(load_tokenizer(ROOT).get_vocab()) is None  # BPE


def test_dnabert_tokenizer_reads_overlapping_kmers(dnabert):
    tokenizer = load_tokenizer(dnabert)
    assert isinstance(tokenizer, DNATokenizer) and tokenizer.kmer == 6
    vocab = (dnabert / "vocab.txt").read_text().split()
    sequence = "ACGTTGCAAC"
    encoded = tokenizer([sequence])
    expected = [vocab.index("[CLS]")] + [vocab.index(sequence[i : i + 6]) for i in range(5)] + [vocab.index("[SEP]")]
    assert encoded["input_ids"] == [expected] and encoded["token_type_ids"] == [[0] * 7]
    assert load_tokenizer(dnabert, kmer=6)([sequence])["input_ids"] == [expected]
    with pytest.raises(InputError, match="pass --kmer 6"):
        load_tokenizer(dnabert, kmer=-1)
    with pytest.raises(InputError, match="pass --kmer 6"):
        load_tokenizer(dnabert, kmer=4)
    with pytest.raises(InputError, match="pooling"):
        tokenizer([sequence], return_offsets_mapping=True)


def test_nt_tokenizer_reads_nonoverlapping_6mers_then_single_bases(nt):
    tokenizer = load_tokenizer(nt, kmer=-1)
    vocab = (nt / "vocab.txt").read_text().split()
    sequence = "ACGTTGCAACGGTA"  # two 6-mers, then two single bases
    ids = tokenizer([sequence])["input_ids"][0]
    words = ["ACGTTG", "CAACGG", "T", "A"]
    assert ids[0] == vocab.index("<cls>") and ids[1:5] == [vocab.index(w) for w in words]
    assert set(ids[5:]) <= {vocab.index("<eos>")}
    with pytest.raises(InputError, match="pass --kmer -1"):
        load_tokenizer(nt, kmer=6)


def test_shipped_bpe_tokenizer_is_returned_as_is():
    from transformers import PreTrainedTokenizerFast

    assert type(load_tokenizer(ROOT)) is PreTrainedTokenizerFast
    with pytest.raises(InputError, match="pass --kmer -1 or leave it out"):
        load_tokenizer(ROOT, kmer=6)


def test_lora_targets_follow_the_architecture(dnabert, nt, tiny_pretrained):
    from transformers import AutoModelForSequenceClassification

    from modeling_dnabert2 import DNABert2ForSequenceClassification

    bert = AutoModelForSequenceClassification.from_pretrained(dnabert)
    esm = AutoModelForSequenceClassification.from_pretrained(nt)
    ours = DNABert2ForSequenceClassification.from_pretrained(tiny_pretrained)
    assert lora_targets(bert, None) == lora_targets(esm, None) == ["query", "key", "value", "dense"]
    assert lora_targets(ours, None) == ["Wqkv", "attention.output.dense", "gated_layers", "wo"]
    with pytest.raises(InputError, match="no linear layer named Wqkv; its linear layers are .*query"):
        lora_targets(bert, "Wqkv,query")


def mcc_of(output):
    with np.load(output / "results" / "run" / "predictions.npz") as arrays:
        return matthews_corrcoef(arrays["labels"], arrays["logits"].argmax(-1)), arrays["logits"]


def test_release_dnabert_command_line_learns_gc_content_and_reloads(dnabert, gc_task, tmp_path):
    output = tmp_path / "out"
    with pytest.warns(UserWarning, match="fp16"):
        results = finetune(release_command(dnabert, gc_task, output, 6, 110, "1e-3"))
    mcc, logits = mcc_of(output)
    assert mcc > 0.8 and results["eval_matthews_correlation"] == pytest.approx(mcc)
    # the saved classifier, reloaded for prediction, gives the scored logits again
    model, tokenizer = load_classifier(output), load_tokenizer(output)
    test = [line.split(",")[0] for line in (gc_task / "test.csv").read_text().split()[1:]]
    predicted, embeddings = predict_logits(model, tokenizer, test, with_embeddings=True, progress=False)
    np.testing.assert_allclose(predicted, logits, atol=1e-4)
    # embeddings: the mean of the BERT's last hidden state over [CLS], the k-mers and [SEP]
    from transformers import BertModel

    bert = BertModel.from_pretrained(output).eval()
    ids = torch.tensor(tokenizer([test[0]])["input_ids"])
    with torch.no_grad():
        reference = bert(ids).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(embeddings[0], reference, atol=1e-5)


def test_release_nt_command_line_trains_lora_and_reloads(nt, gc_task, tmp_path):
    output = tmp_path / "out"
    lora = ("--use_lora", "--lora_target_modules", "query,value,key,dense", "--lora_alpha", "16")
    with pytest.warns(UserWarning, match="fp16"):
        finetune(release_command(nt, gc_task, output, -1, 30, "1e-3", lora))
    mcc, logits = mcc_of(output)
    assert mcc > 0.2  # a tiny random ESM with LoRA learns GC content only partly (0.42 measured)
    adapter = json.loads((output / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == {"query", "key", "value", "dense"}
    model, tokenizer = load_classifier(output), load_tokenizer(output)
    test = [line.split(",")[0] for line in (gc_task / "test.csv").read_text().split()[1:]]
    predicted, _ = predict_logits(model, tokenizer, test, progress=False)
    np.testing.assert_allclose(predicted, logits, atol=1e-4)


def test_nt_fine_tuned_in_full_ends_as_its_best_checkpoint(nt, gc_task, tmp_path):
    """transformers 5 saves ESM's LayerNorms as gamma/beta, which the Trainer's own reload of the best checkpoint
    does not map back: the model kept would mix the best checkpoint with the last step's LayerNorms."""
    output = tmp_path / "out"
    finetune(
        [
            *("--model_name_or_path", str(nt), "--data_path", str(gc_task), "--model_max_length", "30"),
            *("--per_device_train_batch_size", "8", "--learning_rate", "1e-2", "--max_steps", "70"),
            *("--eval_strategy", "steps", "--eval_steps", "10", "--seed", "1", "--run_name", "run"),
            *("--output_dir", str(output), "--save_model", "True"),
        ]
    )
    (best,) = output.glob("checkpoint-*")  # the best, kept: at step 50 of 70 here (validation loss 0.50)
    assert best.name != "checkpoint-70"
    kept, saved = load_file(best / "model.safetensors"), load_file(output / "model.safetensors")
    assert set(kept) == set(saved) and any("LayerNorm" in key for key in saved)
    assert all(torch.equal(kept[key], saved[key]) for key in kept)


def test_embed_command_line_embeds_with_a_pretrained_nt_encoder(nt, tmp_path):
    import pyarrow.parquet as pq
    from transformers import EsmModel

    from dnabert2.train.embed import main as embed

    sequences = ["ACGTTGCAACGGTACCAT", "GGGCCCAAATTTACGTACGTAGGC"]
    (tmp_path / "reads.fa").write_text("".join(f">r{i}\n{s}\n" for i, s in enumerate(sequences)))
    embed(
        ["--input", str(tmp_path / "reads.fa"), "--output_dir", str(tmp_path / "out"), "--model_name_or_path", str(nt)]
    )
    table = pq.read_table(next((tmp_path / "out").glob("*.parquet"))).to_pylist()
    encoder, tokenizer = EsmModel.from_pretrained(nt).eval(), load_tokenizer(nt)
    for row in table:  # the mean of the ESM's last hidden state over its tokens
        ids = torch.tensor(tokenizer([sequences[row["index"]]])["input_ids"])
        with torch.no_grad():
            expected = encoder(ids).last_hidden_state[0].mean(0).numpy()
        np.testing.assert_allclose(row["embedding"], expected, atol=1e-5)
    with pytest.raises(InputError, match="pooling"):
        embed(
            ["--input", str(tmp_path / "reads.fa"), "--output_dir", str(tmp_path / "tok"), "--model_name_or_path"]
            + [str(nt), "--pooling", "token"]
        )


def test_wrong_lora_target_on_a_comparator_is_an_input_error(dnabert, gc_task, tmp_path):
    command = release_command(
        dnabert, gc_task, tmp_path, 6, 110, "3e-5", ("--use_lora", "--lora_target_modules", "Wqkv")
    )
    with pytest.raises(InputError, match="its linear layers are .*query"):
        finetune(command)


def test_gue_runner_takes_a_comparator_as_a_side(dnabert, nt, gc_task, tmp_path, tiny_pretrained):
    import shutil

    from dnabert2.benchmarks.gue import main as gue
    from dnabert2.benchmarks.gue_runner.runs import max_length_for
    from dnabert2.benchmarks.gue_runner.settings import GueArguments
    from dnabert2.finetuning.arguments import DataArguments

    data = DataArguments(data_path=str(gc_task))
    sequences = [
        row["sequence"] for split in ("train", "dev", "test") for row in csv.DictReader(open(gc_task / f"{split}.csv"))
    ]
    # the longest example in each model's tokens: 100 bp = 95 6-mers (+[CLS], [SEP]); 16 6-mers and 4 bases (+<cls>,
    # and <eos> if the tokenizer adds it)
    nt_length = len(load_tokenizer(nt)(["A" * 100])["input_ids"][0])
    assert nt_length in (21, 22)
    assert max_length_for(GueArguments(model_name_or_path=str(dnabert)), "tf_0", data) == 97
    assert max_length_for(GueArguments(model_name_or_path=str(nt)), "tf_0", data) == nt_length
    # this project's model with the paper's vocabulary keeps the paper's 30 for tf tasks ...
    assert max_length_for(GueArguments(model_name_or_path=str(tiny_pretrained)), "tf_0", data) == 30
    # ... but with another vocabulary (a BPE of 16 tokens: about 2 bp each) it gets its longest example
    other_vocabulary = tmp_path / "bpe_16"
    shutil.copytree(tiny_pretrained, other_vocabulary)
    small = train_bpe(sequences, 16, show_progress=False)
    small.save_pretrained(other_vocabulary)
    longest = max(len(ids) for ids in small(sequences)["input_ids"])
    assert longest > 30
    assert max_length_for(GueArguments(model_name_or_path=str(other_vocabulary)), "tf_0", data) == longest
    gue_dir = tmp_path / "GUE"
    shutil.copytree(gc_task, gue_dir / "tf" / "0")
    output = tmp_path / "results"
    command = ["--model_name_or_path", str(dnabert), "--kmer", "6", "--gue_dir", str(gue_dir), "--tasks", "tf_0"]
    gue([*command, "--seeds", "1", "--max_steps", "60", "--learning_rate", "1e-3", "--output_dir", str(output)])
    stored = json.loads((output / "results.json").read_text())
    assert stored["settings"]["kmer"] == 6 and stored["settings"]["model"] == dnabert.name
    assert stored["results"]["tf_0"]["1"]["eval_matthews_correlation"] > 0.5
    with np.load(output / "predictions" / "tf_0_seed1.npz") as arrays:
        assert len(arrays["labels"]) == 100
