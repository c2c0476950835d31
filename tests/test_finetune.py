"""Fine-tuning end to end with the original command line (LoRA and full), reload, prediction; bad CSV inputs."""

import csv
import json
import logging
import warnings

import numpy as np
import pytest
import torch
from conftest import ROOT, write_task
from sklearn import metrics
from transformers import HfArgumentParser

from dnabert2.data.tasks import TaskDataError, load_csv_task
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments, legacy_argv
from dnabert2.finetuning.trainer import METRICS
from dnabert2.inference.inputs import read_inputs
from dnabert2.inference.loading import UntrainedHeadError, load_classifier
from dnabert2.inference.prediction import predict_logits
from dnabert2.train.finetune import main as finetune


def original_command(model, data, output, extra=()):
    return [
        "--model_name_or_path",
        str(model),
        "--data_path",
        str(data),
        "--kmer",
        "-1",
        "--run_name",
        "run",
        "--model_max_length",
        "24",
        "--per_device_train_batch_size",
        "16",
        "--per_device_eval_batch_size",
        "16",
        "--gradient_accumulation_steps",
        "1",
        "--learning_rate",
        "1e-3",
        "--num_train_epochs",
        "2",
        "--fp16",
        "--save_steps",
        "200",
        "--output_dir",
        str(output),
        "--evaluation_strategy",
        "epoch",
        "--warmup_steps",
        "5",
        "--logging_steps",
        "100000",
        "--overwrite_output_dir",
        "True",
        "--log_level",
        "info",
        "--seed",
        "42",
        "--find_unused_parameters",
        "False",
        "--save_model",
        "True",
        "--eval_and_save_results",
        "True",
        *extra,
    ]


@pytest.mark.parametrize("lora", [True, False])
def test_original_command_line_trains_saves_reloads_and_predicts(tmp_path, tiny_pretrained, lora):
    data = write_task(tmp_path / "task")
    output = tmp_path / "out"
    extra = ["--use_lora", "--lora_r", "4", "--lora_alpha", "8", "--lora_dropout", "0.05"] if lora else []
    with pytest.warns(UserWarning, match="fp16"):
        finetune(original_command(tiny_pretrained, data, output, extra))
    results = json.loads((output / "results" / "run" / "eval_results.json").read_text())
    assert (output / ("adapter_config.json" if lora else "model.safetensors")).exists()

    model = load_classifier(output)
    _, sequences = read_inputs(data / "test.csv")
    logits, embeddings = predict_logits(
        model,
        load_tokenizer(output),
        sequences,
        max_tokens_per_batch=7 * 24,
        max_length=24,
        with_embeddings=True,
        progress=False,
    )
    truth = np.array([int(row["label"]) for row in csv.DictReader(open(data / "test.csv"))])
    predicted = logits.argmax(-1)
    # the reported metrics, recomputed from the reloaded model's predictions with scikit-learn
    expected = {
        "eval_accuracy": metrics.accuracy_score(truth, predicted),
        "eval_f1": metrics.f1_score(truth, predicted, average="macro"),
        "eval_matthews_correlation": metrics.matthews_corrcoef(truth, predicted),
        "eval_precision": metrics.precision_score(truth, predicted, average="macro", zero_division=0),
        "eval_recall": metrics.recall_score(truth, predicted, average="macro"),
    }
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, abs=1e-6), key
    assert embeddings.shape == (32, 32) and np.isfinite(embeddings).all()
    with np.load(output / "results" / "run" / "predictions.npz") as stored:  # the scored examples, in file order
        np.testing.assert_array_equal(stored["labels"], truth)
        np.testing.assert_allclose(stored["logits"], logits, atol=1e-4)


def test_regression_and_pairs(tmp_path, tiny_pretrained, caplog):
    data = write_task(tmp_path / "reg", pairs=True, labels=lambda i: 0.25 + 0.5 * (i % 2))
    dataset, info = load_csv_task(data)
    assert info.problem_type == "regression" and info.sequence_columns == ("sequence1", "sequence2")
    output = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        finetune(original_command(tiny_pretrained, data, output))
    results = json.loads((output / "results" / "run" / "eval_results.json").read_text())
    assert {"eval_pearson", "eval_spearman", "eval_mse"} <= set(results)
    # two 60-bp sequences take more than --model_max_length 24 tokens: the pairs cut are counted and said
    tokenizer = load_tokenizer(tiny_pretrained)
    pairs = [
        (r["sequence1"], r["sequence2"])
        for f in ("train", "dev", "test")
        for r in csv.DictReader(open(data / f"{f}.csv"))
    ]
    over = sum(len(tokenizer(a, b)["input_ids"]) > 24 for a, b in pairs)
    assert over > 0 and results["examples_cut"] == over
    assert f"{over} of {len(pairs)} examples (all splits) are over --model_max_length 24 tokens" in caplog.text


@pytest.mark.parametrize(
    "predictions, references, constant",
    [
        ([0.5, 0.5, 0.5, 0.5], [0.1, 0.7, 0.3, 0.9], "the predictions are constant"),
        ([0.2, 0.1, 0.8, 0.4], [1.0, 1.0, 1.0, 1.0], "the references are constant"),
        ([0.2, 0.1, 0.8, 0.4], [0.3, 0.7, 0.5, 0.1], None),
    ],
)
def test_regression_correlations_are_nan_with_one_warning_for_constant_inputs(predictions, references, constant):
    import evaluate

    metric = evaluate.load(str(METRICS / "regression"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = metric.compute(predictions=predictions, references=references)
    messages = [str(w.message) for w in caught if "constant" in str(w.message).lower()]
    assert results["mse"] == pytest.approx(np.mean((np.array(predictions) - np.array(references)) ** 2))
    if constant:
        assert np.isnan(results["pearson"]) and np.isnan(results["spearman"])
        assert len(messages) == 1 and constant in messages[0], messages
    else:
        ranks = [np.argsort(np.argsort(values)) for values in (predictions, references)]  # no ties here
        assert results["pearson"] == pytest.approx(np.corrcoef(predictions, references)[0, 1])
        assert results["spearman"] == pytest.approx(np.corrcoef(*ranks)[0, 1])
        assert messages == []


def test_pairs_keep_segment_ids(tiny_pretrained, tmp_path):
    from dnabert2.data.tasks import tokenize_task

    dataset, info = load_csv_task(write_task(tmp_path / "pairs", pairs=True))
    encoded = tokenize_task(dataset, info, load_tokenizer(tiny_pretrained), 64)
    assert set(encoded["train"][0]["token_type_ids"]) == {0, 1}


@pytest.mark.parametrize(
    "content, message",
    [
        ("seq,label\nACGT,1\n", "needs a 'sequence' column"),
        ("sequence,label\nACGT,1\nACGT,yes\n", ":3: label 'label' is not a number"),
        ("sequence,label\nACGT,1\n,0\n", ":3: empty sequence"),
        ("sequence,label\nACGT,1\nACXT,0\n", ":3: sequence has characters that are not nucleotides: 'X'"),
        ("sequence\nACGT\n", "no label column"),
    ],
)
def test_bad_csv_names_file_and_row(tmp_path, content, message):
    (tmp_path / "train.csv").write_text(content)
    with pytest.raises(TaskDataError, match=message) as error:
        load_csv_task(tmp_path)
    assert "train.csv" in str(error.value)


def test_kmer_other_than_bpe_is_refused(tmp_path, tiny_pretrained):
    with pytest.raises(ValueError, match="kmer"):
        finetune(
            [
                "--model_name_or_path",
                str(tiny_pretrained),
                "--data_path",
                str(tmp_path),
                "--kmer",
                "6",
                "--output_dir",
                str(tmp_path / "o"),
            ]
        )


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "epoch"),
        (["--evaluation_strategy", "steps", "--eval_steps", "5"], "steps"),
        (["--eval_strategy", "steps", "--save_strategy", "no", "--load_best_model_at_end", "False"], "no"),
    ],
)
def test_save_strategy_follows_eval_strategy_unless_given(tmp_path, flags, expected):
    parser = HfArgumentParser((ModelArguments, DataArguments, FinetuneTrainingArguments))
    *_, training_args = parser.parse_args_into_dataclasses(legacy_argv(["--output_dir", str(tmp_path), *flags]))
    assert training_args.save_strategy == expected


def test_save_steps_follow_eval_steps_unless_given(tmp_path):
    parser = HfArgumentParser((ModelArguments, DataArguments, FinetuneTrainingArguments))
    *_, follows = parser.parse_args_into_dataclasses(
        ["--output_dir", str(tmp_path), "--eval_strategy", "steps", "--eval_steps", "400"]
    )
    *_, given = parser.parse_args_into_dataclasses(
        ["--output_dir", str(tmp_path), "--eval_strategy", "steps", "--eval_steps", "400", "--save_steps", "800"]
    )
    assert (follows.save_steps, given.save_steps) == (400, 800)  # load_best_model_at_end needs a multiple


@pytest.mark.parametrize(
    ("flags", "metric", "greater_is_better"),
    [
        ([], "eval_loss", False),
        (["--metric_for_best_model", "matthews_correlation"], "eval_matthews_correlation", True),
    ],
)
def test_kept_checkpoint_is_chosen_by_validation_loss_unless_a_metric_is_named(
    tmp_path, flags, metric, greater_is_better
):
    parser = HfArgumentParser((ModelArguments, DataArguments, FinetuneTrainingArguments))
    *_, training_args = parser.parse_args_into_dataclasses(["--output_dir", str(tmp_path), *flags])
    assert training_args.load_best_model_at_end
    assert (f"eval_{training_args.metric_for_best_model}", training_args.greater_is_better) == (
        metric,
        greater_is_better,
    )


def test_lora_adapter_from_a_relative_base_loads_from_anywhere(tmp_path, tiny_pretrained, monkeypatch):
    data = write_task(tmp_path / "task")
    monkeypatch.chdir(tiny_pretrained)
    finetune(original_command(".", data, tmp_path / "out", ["--use_lora"]))
    monkeypatch.chdir(tmp_path)
    model = load_classifier(tmp_path / "out")  # the adapter recorded the base's absolute path
    assert model.config.id2label == {0: "0", 1: "1"}  # the CSV's labels, not LABEL_0 / LABEL_1
    with pytest.raises(UntrainedHeadError, match="no trained classification head"):
        load_classifier(tiny_pretrained)


def test_plain_peft_round_trip_is_exact(tmp_path, tiny_pretrained):
    from peft import AutoPeftModelForSequenceClassification, LoraConfig, TaskType, get_peft_model

    from dnabert2.finetuning.lora import DEFAULT_LORA_TARGETS
    from modeling_dnabert2 import DNABert2ForSequenceClassification

    base = DNABert2ForSequenceClassification.from_pretrained(tiny_pretrained, num_labels=2)
    again = DNABert2ForSequenceClassification.from_pretrained(tiny_pretrained, num_labels=2)
    assert torch.equal(base.bert.pooler.dense.weight, again.bert.pooler.dense.weight)  # loading is deterministic
    lora = LoraConfig(task_type=TaskType.SEQ_CLS, target_modules=DEFAULT_LORA_TARGETS.split(","))
    model = get_peft_model(base, lora)
    torch.manual_seed(0)
    with torch.no_grad():  # a trained adapter: non-zero LoRA B matrices
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)
    model.eval()
    ids = torch.randint(5, 4096, (3, 17))
    expected = model(input_ids=ids).logits
    model.save_pretrained(tmp_path / "adapter")
    reloaded = AutoPeftModelForSequenceClassification.from_pretrained(tmp_path / "adapter").eval()
    torch.testing.assert_close(reloaded(input_ids=ids).logits, expected, atol=0, rtol=0)


def test_reverse_complement_training_and_test_time_averaging(tmp_path, tiny_pretrained):
    data = write_task(tmp_path / "task")
    output = tmp_path / "out"
    results = finetune(
        original_command(tiny_pretrained, data, output, ["--rc_augment", "True", "--rc_average", "True"])
    )
    model, tokenizer = load_classifier(output), load_tokenizer(output)
    _, sequences = read_inputs(data / "test.csv")
    truth = np.array([int(row["label"]) for row in csv.DictReader(open(data / "test.csv"))])
    for key, rc_average in (("eval_matthews_correlation", False), ("eval_rc_average_matthews_correlation", True)):
        logits, _ = predict_logits(model, tokenizer, sequences, max_length=24, rc_average=rc_average, progress=False)
        assert results[key] == pytest.approx(metrics.matthews_corrcoef(truth, logits.argmax(-1)), abs=1e-6), key


def test_random_strand_collator_picks_each_strand_about_half_the_time():
    from transformers import DataCollatorWithPadding

    from dnabert2.data.tasks import RandomStrandCollator

    tokenizer = load_tokenizer(ROOT)
    forward, reverse = tokenizer("AACCGGTTTA")["input_ids"], tokenizer("TAAACCGGTT")["input_ids"]
    features = [
        {
            "input_ids": forward,
            "attention_mask": [1] * len(forward),
            "labels": i % 2,
            "rc_input_ids": reverse,
            "rc_attention_mask": [1] * len(reverse),
            "rc_key": i,
        }
        for i in range(400)
    ]
    batch = RandomStrandCollator(DataCollatorWithPadding(tokenizer), seed=0)(features)
    picked_reverse = [row[: len(reverse)].tolist() == reverse for row in batch["input_ids"]]
    assert 0.4 < np.mean(picked_reverse) < 0.6 and batch["labels"].tolist() == [i % 2 for i in range(400)]
    assert "rc_input_ids" not in batch


def test_cnn_baseline_learns_the_task_and_ignores_padding(tmp_path):
    from dnabert2.benchmarks.gue_runner.cnn import OneHotCNN, cnn_for_task, encode_bases, encode_columns
    from dnabert2.finetuning.trainer import run_finetune

    data = write_task(tmp_path / "task")
    (model_args, data_args, training_args) = HfArgumentParser(
        (ModelArguments, DataArguments, FinetuneTrainingArguments)
    ).parse_args_into_dataclasses(
        [
            "--data_path",
            str(data),
            "--output_dir",
            str(tmp_path / "out"),
            "--max_steps",
            "30",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "1e-3",
            "--eval_strategy",
            "no",
            "--disable_tqdm",
            "True",
            "--seed",
            "0",
        ]
    )
    results = run_finetune(model_args, data_args, training_args, make_model=cnn_for_task, encode=encode_columns)
    assert results["eval_matthews_correlation"] > 0.5  # label 1 sequences carry a TATAAA box
    model = OneHotCNN(2, "single_label_classification").eval()
    encoded = encode_bases(["ACGTTAGCAGGCATCGATCGATCAG", "ACGTN" * 20])
    ids = torch.tensor([row + [3] * (100 - len(row)) for row in encoded["input_ids"]])
    mask = torch.tensor([row + [0] * (100 - len(row)) for row in encoded["attention_mask"]])
    alone = model(ids[:1, :25], mask[:1, :25]).logits
    torch.testing.assert_close(model(ids, mask).logits[:1], alone, atol=1e-6, rtol=1e-6)
    model.train()  # in training too: the per-position norm never sees padding (dropout off for the comparison)
    model.dropout.p = 0.0
    torch.testing.assert_close(
        model(ids, mask).logits[:1], model(ids[:1, :25], mask[:1, :25]).logits, atol=1e-5, rtol=1e-5
    )


def write_labels(folder, labels_by_split):
    """A task folder whose CSV labels are written exactly as given (strings)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, labels in labels_by_split.items():
        rows = "".join(f"{'ACGT' * (3 + i % 4)},{label}\n" for i, label in enumerate(labels))
        (folder / f"{split}.csv").write_text("sequence,label\n" + rows)
    return folder


@pytest.mark.parametrize(
    "written, classes, ids",
    [
        (["0.0", "1.0", "1.0", "0.0"], ["0", "1"], [0, 1, 1, 0]),  # as pandas writes integer labels after a NaN
        (["1", "2", "2", "1"], ["1", "2"], [0, 1, 1, 0]),  # no never-seen class 0
        (["-1", "1", "1", "-1"], ["-1", "1"], [0, 1, 1, 0]),
    ],
)
def test_whole_number_labels_are_classes_named_as_written(tmp_path, written, classes, ids):
    data, info = load_csv_task(write_labels(tmp_path / "t", {"train": written, "dev": written[:2]}))
    assert info.problem_type == "single_label_classification" and info.num_labels == len(classes)
    assert info.label_names == classes and data["train"]["labels"] == ids and data["validation"]["labels"] == ids[:2]


def test_regression_only_for_fractions_or_when_asked(tmp_path):
    _, info = load_csv_task(write_labels(tmp_path / "a", {"train": ["0.37", "1", "2.5"]}))
    assert info.problem_type == "regression"
    data, info = load_csv_task(write_labels(tmp_path / "b", {"train": ["0", "1", "3"]}), problem_type="regression")
    assert info.problem_type == "regression" and data["train"]["labels"] == [0.0, 1.0, 3.0]


def test_a_test_label_that_train_lacks_is_an_error(tmp_path):
    folder = write_labels(tmp_path / "t", {"train": ["0", "1"], "test": ["0", "2"]})
    with pytest.raises(TaskDataError, match=r"test\.csv:3: label '2' does not occur in train\.csv"):
        load_csv_task(folder)


@pytest.mark.parametrize("label", ["", "nan", "inf"])
def test_missing_labels_are_named(tmp_path, label):
    with pytest.raises(TaskDataError, match=r"train\.csv:3: label 'label' is not a number"):
        load_csv_task(write_labels(tmp_path / "t", {"train": ["0", label]}))


def test_strands_are_a_function_of_seed_epoch_and_example_not_of_call_order(tiny_pretrained):
    from transformers import DataCollatorWithPadding

    from dnabert2.data.tasks import RandomStrandCollator

    tokenizer = load_tokenizer(tiny_pretrained)
    rng = np.random.default_rng(0)
    features = []
    for i in range(200):
        forward = [1, *rng.integers(5, 4096, 6).tolist(), 2]
        features.append(
            {
                "input_ids": forward,
                "attention_mask": [1] * 8,
                "rc_input_ids": forward[::-1],
                "rc_attention_mask": [1] * 8,
                "labels": i % 2,
                "rc_key": i,
            }
        )

    def strands(collator, order):
        picked = {}
        for start in range(0, len(order), 16):  # batches as a worker would see them
            batch = collator([features[i] for i in order[start : start + 16]])
            for i, row in zip(order[start : start + 16], batch["input_ids"].tolist()):
                picked[i] = row != features[i]["input_ids"]
        return picked

    one = RandomStrandCollator(DataCollatorWithPadding(tokenizer), seed=3)
    other = RandomStrandCollator(DataCollatorWithPadding(tokenizer), seed=3)  # another worker, or a resumed run
    first = strands(one, list(range(200)))
    assert first == strands(other, rng.permutation(200).tolist()) and 60 < sum(first.values()) < 140
    other.epoch = 1
    assert strands(other, list(range(200))) != first  # a new draw each epoch
