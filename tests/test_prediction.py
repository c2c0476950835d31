"""Prediction on long inputs: whole sequences by default, windows, cut/refuse with a word, token-budget batches,
streamed .npy embeddings; each checked against the model's direct forward."""

import csv
import logging
import warnings

import numpy as np
import pytest
import torch
from conftest import ROOT

import dnabert2
from configuration_dnabert2 import DNABert2Config
from dnabert2.data.alphabet import reverse_complement
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.batching import token_budget_batches
from dnabert2.inference.heads import outputs_of
from dnabert2.inference.inputs import Piece, sliding_windows
from dnabert2.inference.loading import UntrainedHeadError, load_classifier
from dnabert2.inference.prediction import predict_logits
from dnabert2.inference.writers import NpyRowWriter
from dnabert2.train.predict import main as predict_main
from modeling_dnabert2 import DNABert2ForSequenceClassification, DNABert2Model


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A small random classifier with a head (as if fine-tuned) and the shipped tokenizer."""
    folder = tmp_path_factory.mktemp("classifier")
    config = DNABert2Config(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label={0: "promoter", 1: "enhancer", 2: "other"},
        label2id={"promoter": 0, "enhancer": 1, "other": 2},
        hidden_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    DNABert2ForSequenceClassification(config).save_pretrained(folder)
    load_tokenizer(ROOT).save_pretrained(folder)
    return folder


def random_dna(length, seed):
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), length))


def direct_probabilities(folder, sequence):
    model, tokenizer = load_classifier(folder), load_tokenizer(folder)
    with torch.no_grad():
        logits = model(**tokenizer([sequence], return_tensors="pt")).logits[0]
    return torch.softmax(logits, -1).numpy()


def read_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def probabilities(row):
    return np.array([float(row[f"prob_{name}"]) for name in ("promoter", "enhancer", "other")])


def test_whole_10kb_record_equals_the_direct_forward(tmp_path, classifier):
    long, short = random_dna(10_000, 1), random_dna(300, 2)
    (tmp_path / "in.fa").write_text(f">long\n{long}\n>short\n{short}\n")
    predict_main(
        [
            "--model",
            str(classifier),
            "--input",
            str(tmp_path / "in.fa"),
            "--output",
            str(tmp_path / "p.csv"),
            "--embeddings",
            str(tmp_path / "e.npy"),
            "--max_tokens_per_batch",
            "512",
        ]
    )
    rows = read_rows(tmp_path / "p.csv")
    assert [(r["name"], r["start"], r["end"]) for r in rows] == [("long", "0", "10000"), ("short", "0", "300")]
    for row, sequence in zip(rows, (long, short)):
        np.testing.assert_allclose(probabilities(row), direct_probabilities(classifier, sequence), atol=1e-5)
        assert row["prediction"] in ("promoter", "enhancer", "other")  # the config's class names
    embeddings = np.load(tmp_path / "e.npy")
    _, expected = predict_logits(
        load_classifier(classifier),
        load_tokenizer(classifier),
        [(long,), (short,)],
        with_embeddings=True,
        progress=False,
    )
    np.testing.assert_allclose(embeddings, expected, atol=1e-5)


def test_60kb_record_in_windows_with_a_record_mean(tmp_path, classifier):
    sequence = random_dna(60_000, 3)
    (tmp_path / "in.fa").write_text(f">chr\n{sequence}\n")
    predict_main(
        [
            "--model",
            str(classifier),
            "--input",
            str(tmp_path / "in.fa"),
            "--output",
            str(tmp_path / "p.csv"),
            "--window",
            "25000",
            "--stride",
            "20000",
            "--aggregate",
            "mean",
        ]
    )
    rows = read_rows(tmp_path / "p.csv")
    spans = [(int(r["start"]), int(r["end"])) for r in rows]
    assert spans == [(0, 25000), (20000, 45000), (35000, 60000), (0, 60000)]  # last window ends at the end
    for row, (start, end) in zip(rows[:3], spans):
        np.testing.assert_allclose(probabilities(row), direct_probabilities(classifier, sequence[start:end]), atol=1e-5)


def test_long_inputs_are_cut_with_a_warning_or_refused(tmp_path, classifier, caplog):
    (tmp_path / "in.fa").write_text(f">long\n{random_dna(2_000, 4)}\n>short\n{random_dna(50, 5)}\n")
    arguments = [
        "--model",
        str(classifier),
        "--input",
        str(tmp_path / "in.fa"),
        "--output",
        str(tmp_path / "p.csv"),
        "--max_length",
        "64",
    ]
    with caplog.at_level(logging.WARNING):
        predict_main(arguments)
    assert "1 input(s) were longer than --max_length 64 tokens and were cut" in caplog.text
    with pytest.raises(ValueError, match="'long' is .* tokens long, over --max_length 64"):
        predict_main(arguments + ["--long_inputs", "refuse"])


def lora_adapter(folder, base_folder, with_head):
    """A LoRA adapter on an MLM checkpoint with trained-looking (random) LoRA and head weights, saved with its
    config as fine-tuning saves it; ``with_head=False`` saves the LoRA matrices only. Returns the live model."""
    from peft import LoraConfig, TaskType, get_peft_model

    from dnabert2.finetuning.lora import DEFAULT_LORA_TARGETS

    torch.manual_seed(1)
    base = DNABert2ForSequenceClassification.from_pretrained(base_folder, num_labels=2)
    task = dict(task_type=TaskType.SEQ_CLS, modules_to_save=["classifier", "pooler"]) if with_head else {}
    model = get_peft_model(base, LoraConfig(target_modules=DEFAULT_LORA_TARGETS.split(","), **task))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                parameter.normal_(0, 0.1)
    model.save_pretrained(folder)
    base.config.save_pretrained(folder)
    return model.eval()


def test_lora_adapter_loads_quietly_and_refuses_an_adapter_without_head(tmp_path, tiny_pretrained, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("transformers"), "propagate", True)  # else caplog never sees its reports
    ids = torch.randint(5, 4096, (3, 17))
    adapter = lora_adapter(tmp_path / "adapter", tiny_pretrained, with_head=True)
    with torch.no_grad():
        expected = adapter(input_ids=ids).logits
    caplog.clear()
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_classifier(tmp_path / "adapter")
    assert "LOAD REPORT" not in caplog.text and "classifier" not in caplog.text  # the adapter holds the head
    assert not [w for w in caught if "newly initialised" in str(w.message)]
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-5)

    lora_adapter(tmp_path / "headless", tiny_pretrained, with_head=False)
    with pytest.raises(UntrainedHeadError, match="no trained classification head"):
        load_classifier(tmp_path / "headless")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_classifier(tmp_path / "headless", allow_untrained_head=True)
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'headless'} has no trained classification head: its class outputs are random."
    ]


def test_token_budget_batches():
    lengths = [5, 300, 40, 40, 1000, 7, 39]
    batches = token_budget_batches(lengths, 100)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= 100
        assert lengths[batch[0]] == longest  # longest first


def test_npy_rows_written_as_they_come(tmp_path):
    rows = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    writer = NpyRowWriter(tmp_path / "x.npy")
    for row in rows:
        writer.write(row)
    writer.close()
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), rows)


def test_the_embed_api_embeds_a_long_sequence_whole_and_in_windows(classifier):
    encoder = DNABert2Model.from_pretrained(classifier).eval()
    tokenizer = load_tokenizer(classifier)
    sequence = random_dna(5_000, 6)
    whole = dnabert2.embed([sequence], model=str(classifier))
    assert whole.shape == (1, 32) and whole.dtype == np.float32
    with torch.no_grad():
        expected = encoder.embed(**tokenizer([sequence], return_tensors="pt"))
        in_windows = [
            encoder.embed(**tokenizer([sequence[s : s + 2000]], return_tensors="pt")) for s in (0, 1500, 3000)
        ]
    np.testing.assert_allclose(whole, expected.numpy(), atol=1e-5)
    windows = dnabert2.embed([sequence], model=str(classifier), window=2_000, stride=1_500)
    np.testing.assert_allclose(windows, torch.cat(in_windows).numpy(), atol=1e-5)  # windows at 0, 1500, 3000


def test_reverse_complement():
    assert reverse_complement("ACGTN") == "NACGT"
    assert reverse_complement("RYKMSWBDHV") == "BDHVWSKMRY"
    assert reverse_complement(reverse_complement("GATTACANNRY")) == "GATTACANNRY"


def test_rc_average_is_the_mean_of_both_strands_and_strand_symmetric(classifier):
    model, tokenizer = load_classifier(classifier), load_tokenizer(classifier)
    sequences = [random_dna(n, 10 + n) for n in (50, 333, 1200)]
    both, _ = predict_logits(model, tokenizer, [(s,) for s in sequences], rc_average=True, progress=False)
    forward, _ = predict_logits(model, tokenizer, [(s,) for s in sequences], progress=False)
    reverse, _ = predict_logits(model, tokenizer, [(reverse_complement(s),) for s in sequences], progress=False)
    np.testing.assert_allclose(both, (forward + reverse) / 2, atol=1e-6)
    flipped, _ = predict_logits(
        model, tokenizer, [(reverse_complement(s),) for s in sequences], rc_average=True, progress=False
    )
    np.testing.assert_allclose(flipped, both, atol=1e-5)  # a sequence and its other strand get one answer


def test_plain_strings_windows_and_strand_policies(classifier):
    model, tokenizer = load_classifier(classifier), load_tokenizer(classifier)
    strings, _ = predict_logits(model, tokenizer, ["ACGTACGTAA", "GATTACAGATTACA"], progress=False)
    tuples, _ = predict_logits(model, tokenizer, [("ACGTACGTAA",), ("GATTACAGATTACA",)], progress=False)
    np.testing.assert_array_equal(strings, tuples)  # a plain string is one sequence, not its letters
    with pytest.raises(ValueError, match="stride <= window"):
        list(sliding_windows([Piece("x", ("A" * 100,), 0, 100)], 10, 20))
    with pytest.raises(ValueError, match="mix two different regions"):
        predict_logits(model, tokenizer, ["ACGT" * 100], max_length=20, rc_average=True, progress=False)


def test_outputs_of_each_head_type():
    from types import SimpleNamespace

    logits = np.array([[2.0, 0.0], [0.0, 0.0]])
    softmax = outputs_of(logits, SimpleNamespace(problem_type="single_label_classification"))
    np.testing.assert_allclose(softmax[0], [np.e**2 / (np.e**2 + 1), 1 / (np.e**2 + 1)])
    np.testing.assert_allclose(
        outputs_of(logits, SimpleNamespace(problem_type="multi_label_classification"))[1], [0.5, 0.5]
    )
    np.testing.assert_array_equal(outputs_of(logits[:, :1], SimpleNamespace(problem_type="regression")), logits[:, :1])


def test_adjacent_records_sharing_a_name_get_their_own_record_means(tmp_path, classifier):
    a, b = random_dna(900, 11), random_dna(900, 12)
    (tmp_path / "dup.fa").write_text(f">dup first\n{a}\n>dup second\n{b}\n")
    predict_main(
        [
            "--model",
            str(classifier),
            "--input",
            str(tmp_path / "dup.fa"),
            "--output",
            str(tmp_path / "p.csv"),
            "--window",
            "500",
            "--aggregate",
            "mean",
        ]
    )
    rows = read_rows(tmp_path / "p.csv")
    whole = [row for row in rows if row["start"] == "0" and row["end"] == "900"]
    assert [row["name"] for row in rows].count("dup") == 6 and len(whole) == 2  # 2 windows + 1 mean per record
    model, tokenizer = load_classifier(classifier), load_tokenizer(classifier)
    for record, row in zip((a, b), whole):  # each mean is of its own record's windows only (logits averaged)
        with torch.no_grad():
            logits = [model(**tokenizer([record[s : s + 500]], return_tensors="pt")).logits[0] for s in (0, 400)]
        expected = torch.softmax(torch.stack(logits).mean(0), -1).numpy()
        np.testing.assert_allclose(probabilities(row), expected, atol=1e-5)


def test_an_interrupted_prediction_leaves_no_output_that_looks_finished(tmp_path, classifier, monkeypatch):
    from dnabert2.inference import prediction as command

    (tmp_path / "in.fa").write_text("".join(f">r{i}\n{random_dna(80, i)}\n" for i in range(6)))
    real = command.predict_stream

    def dies_after_two(*args, **kwargs):
        for number, item in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise KeyboardInterrupt  # as a kill or Ctrl-C mid-run
            yield item

    monkeypatch.setattr(command, "predict_stream", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        predict_main(
            [
                "--model",
                str(classifier),
                "--input",
                str(tmp_path / "in.fa"),
                "--output",
                str(tmp_path / "p.csv"),
                "--embeddings",
                str(tmp_path / "e.npy"),
            ]
        )
    # neither output nor a temporary file; only the resumable parts folder, with no hidden leftovers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fa", "p.csv.parts"]
    left = sorted(p.name for p in (tmp_path / "p.csv.parts").iterdir())
    assert ".manifest.json" in left and not [name for name in left if ".tmp-" in name]
    monkeypatch.setattr(command, "predict_stream", real)
    predict_main(
        [
            "--model",
            str(classifier),
            "--input",
            str(tmp_path / "in.fa"),
            "--output",
            str(tmp_path / "p.csv"),
            "--embeddings",
            str(tmp_path / "e.npy"),
        ]
    )
    assert len(read_rows(tmp_path / "p.csv")) == 6 and np.load(tmp_path / "e.npy").shape[0] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.npy", "in.fa", "p.csv"]  # the parts go once merged


def test_ambiguity_codes_are_read_everywhere_and_counted(tmp_path, classifier, caplog):
    from dnabert2.data.tasks import load_csv_task

    sequence = random_dna(60, 5)
    iupac = sequence[:30] + "r" + sequence[31:]  # lower case R: a purine, upper-cased like any base
    (tmp_path / "in.fa").write_text(f">a some description\n{iupac}\n>b\n{sequence}\n")
    with caplog.at_level(logging.INFO):
        predict_main(
            ["--model", str(classifier), "--input", str(tmp_path / "in.fa"), "--output", str(tmp_path / "p.csv")]
        )
    rows = read_rows(tmp_path / "p.csv")
    assert [row["name"] for row in rows] == ["a", "b"]  # the ID is the header's first word
    np.testing.assert_allclose(probabilities(rows[0]), direct_probabilities(classifier, iupac.upper()), atol=1e-5)
    assert "Bases: 1 of 120 (0.83%) in 1 of 2 sequences were N or another ambiguity code" in caplog.text
    task = tmp_path / "task"
    task.mkdir()
    (task / "train.csv").write_text(f"sequence,label\n{iupac},0\n{sequence},1\n")
    data, _ = load_csv_task(task)  # the same base in a fine-tuning CSV: read as in FASTA, not refused
    assert data["train"]["sequence"][0] == iupac.upper()
