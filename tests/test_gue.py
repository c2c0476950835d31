"""GUE as a Hub dataset (every task of ../shared/data/GUE), the GUE runner, and unknown task names."""

import csv
import json

import pytest
from conftest import SHARED
from datasets import load_dataset
from test_finetune import write_task, tiny_pretrained  # noqa: F401 (fixture)

from dnabert2.benchmarks import gue
from dnabert2.train.gue_dataset import build_gue_dataset, find_tasks, resolve_task

GUE = SHARED / "GUE"


def csv_rows(path):
    with open(path) as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


@pytest.mark.skipif(not GUE.is_dir(), reason=f"GUE not found at {GUE}")
def test_builder_folder_loads_every_task_with_matching_row_counts(tmp_path):
    sizes = build_gue_dataset(GUE, tmp_path, progress=lambda message: None)
    tasks = find_tasks(GUE)
    assert len(sizes) == len(tasks) == 27
    card = (tmp_path / "README.md").read_text()
    assert "configs:" in card and "missing train.csv" in card and "@inproceedings" in card
    for task in tasks:
        data = load_dataset(str(tmp_path), task.config_name)
        for split, file_name in (("train", "train.csv"), ("validation", "dev.csv"), ("test", "test.csv")):
            if (task.folder / file_name).exists():
                assert data[split].num_rows == csv_rows(task.folder / file_name), (task.config_name, split)
            else:
                assert split not in data
        assert data["test"].features["label"].num_classes >= 2


def test_unknown_task_is_refused_with_the_known_names(tmp_path):
    write_task(tmp_path / "GUE" / "tf" / "0")
    with pytest.raises(ValueError, match="Unknown GUE task 'tf_9'; known tasks: tf_0"):
        resolve_task(tmp_path / "GUE", "tf_9")


def test_runner_writes_tables_and_resumes(tmp_path, tiny_pretrained, monkeypatch):  # noqa: F811
    write_task(tmp_path / "GUE" / "tf" / "0")
    write_task(tmp_path / "GUE" / "prom" / "prom_core_tata")
    args = ["--model_name_or_path", str(tiny_pretrained), "--gue_dir", str(tmp_path / "GUE"),
            "--output_dir", str(tmp_path / "results"), "--max_steps", "4", "--learning_rate", "1e-3"]
    gue.main(args)
    results = json.loads((tmp_path / "results" / "results.json").read_text())["results"]
    assert set(results) == {"tf_0", "prom_core_tata"}
    table = (tmp_path / "results" / "results.md").read_text()
    assert "| TF-H |" in table and "70.10" in table and "| CPD |" in table
    assert (tmp_path / "results" / "results.png").stat().st_size > 1000

    calls = []
    monkeypatch.setattr(gue, "run_task", lambda *a: calls.append(a) or {"eval_matthews_correlation": 0.5})
    gue.main(args)
    assert calls == []  # finished tasks are not rerun
    gue.main(args[:-4] + ["--seeds", "42,7"])
    assert sorted(call[1] for call in calls) == ["prom_core_tata", "tf_0"] and {call[2] for call in calls} == {7}


def test_finetune_from_a_built_dataset_folder(tmp_path, tiny_pretrained):  # noqa: F811
    from dnabert2.train.finetune import main as finetune

    write_task(tmp_path / "GUE" / "tf" / "1")
    build_gue_dataset(tmp_path / "GUE", tmp_path / "hub", progress=lambda message: None)
    results = finetune(["--model_name_or_path", str(tiny_pretrained), "--dataset_name", str(tmp_path / "hub"),
                        "--dataset_config_name", "tf_1", "--output_dir", str(tmp_path / "out"), "--max_steps", "3",
                        "--run_name", "hub", "--model_max_length", "24"])
    assert "eval_matthews_correlation" in results
