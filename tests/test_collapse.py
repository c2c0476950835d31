"""Collapse: the end-of-run warning of fine-tuning (a model that gives every scored example one class) and the
GUE runner's rule, which is the same code."""

import logging

import numpy as np
import torch
from conftest import write_task

from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
from dnabert2.finetuning.collapse import class_shares, collapse_warning, is_collapsed
from dnabert2.finetuning.trainer import run_finetune


class ConstantClassifier(torch.nn.Module):
    """Logits that ignore the input: class 0 always wins (a collapsed model), trainable so the Trainer runs."""

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.tensor([5.0, 0.0]))

    def forward(self, input_ids=None, labels=None, **kwargs):
        logits = self.bias.expand(input_ids.shape[0], 2)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


def test_a_run_that_predicts_one_class_ends_with_a_warning_naming_the_causes(tmp_path, tiny_pretrained, caplog):
    task = write_task(tmp_path / "task")
    training = FinetuneTrainingArguments(
        output_dir=str(tmp_path / "out"),
        learning_rate=1e-9,
        max_steps=3,
        warmup_steps=10,
        per_device_train_batch_size=16,
        model_max_length=24,
        eval_strategy="no",
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
    )
    with caplog.at_level(logging.WARNING):
        metrics = run_finetune(
            ModelArguments(str(tiny_pretrained)),
            DataArguments(data_path=str(task)),
            training,
            make_model=lambda info: ConstantClassifier(),
        )
    assert metrics["eval_matthews_correlation"] == 0.0
    (warning,) = [r.getMessage() for r in caplog.records if "predicts one class" in r.getMessage()]
    assert "'0', for every 32 test example(s)" in warning
    assert "--learning_rate, now 1e-09" in warning and "3 run" in warning and "--warmup_steps, now 10" in warning
    shares = class_shares(np.load(tmp_path / "out" / "results" / "run" / "predictions.npz")["labels"], 2)
    assert is_collapsed({**metrics, "test_class_shares": shares})  # the GUE runner's rule agrees


def test_the_warning_fires_for_nearly_one_class_only():
    names = ["a", "b", "c"]
    assert collapse_warning(np.array([1] * 99 + [0]), names, "test", 3e-5, 10, 0).startswith(
        "The model predicts one class, 'b', for 99.0% of the 100 test example(s)"
    )
    assert collapse_warning(np.array([1] * 98 + [0, 2]), names, "test", 3e-5, 10, 0) is None
    assert collapse_warning(np.array([], dtype=int), names, "test", 3e-5, 10, 0) is None


def test_gue_rule_from_metrics_alone():
    assert class_shares([0, 1, 1, 1], 3) == [0.25, 0.75, 0.0]
    one_class = {"eval_matthews_correlation": 0.0, "eval_accuracy": 0.75, "test_class_shares": [0.25, 0.75]}
    assert is_collapsed(one_class)
    assert not is_collapsed({**one_class, "eval_accuracy": 0.5})  # MCC 0 from mixed predictions
    assert not is_collapsed({**one_class, "eval_matthews_correlation": 0.1})
    assert is_collapsed({"eval_matthews_correlation": 0.0})  # stored without shares: MCC 0 counts
