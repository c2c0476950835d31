"""GUE as a Hub dataset (every task of ../shared/data/GUE), the GUE runner (settings-keyed results, early model checks,
collapsed runs, the from-scratch ablation and its comparison), unknown task names and wrong folder layouts."""

import csv
import json
import shutil

import numpy as np
import pytest
from conftest import SHARED, write_task
from datasets import load_dataset
from sklearn.metrics import matthews_corrcoef

from dnabert2.benchmarks import gue
from dnabert2.benchmarks.gue_runner import runs, store
from dnabert2.benchmarks.gue_runner.reports import write_comparison, write_reports
from dnabert2.benchmarks.gue_runner.settings import SETTINGS, GueArguments
from dnabert2.benchmarks.gue_runner.store import run_settings
from dnabert2.data.gue import build_gue_dataset, find_tasks, resolve_task

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


def test_runner_writes_tables_and_resumes(tmp_path, tiny_pretrained, monkeypatch, capsys):  # noqa: F811
    write_task(tmp_path / "GUE" / "tf" / "0")
    write_task(tmp_path / "GUE" / "prom" / "prom_core_tata")
    args = [
        "--model_name_or_path",
        str(tiny_pretrained),
        "--gue_dir",
        str(tmp_path / "GUE"),
        "--output_dir",
        str(tmp_path / "results"),
        "--max_steps",
        "4",
        "--learning_rate",
        "1e-3",
    ]
    gue.main(args)
    payload = json.loads((tmp_path / "results" / "results.json").read_text())
    assert set(payload["results"]) == {"tf_0", "prom_core_tata"}
    assert payload["settings"]["learning_rate"] == 1e-3 and payload["settings"]["model"] == tiny_pretrained.name
    table = (tmp_path / "results" / "results.md").read_text()
    assert "| TF-H |" in table and "70.10" in table and "| CPD |" in table
    assert "| tf_0 | TF-H | MCC |" in table and "F1 for covid" not in table
    assert 1000 < (tmp_path / "results" / "results.png").stat().st_size
    assert png_width(tmp_path / "results" / "results.png") < 800  # two tasks: no wide, two-thirds-empty figure
    printed = capsys.readouterr().out
    for name in ("results.json", "results.md", "results.csv", "results.png"):
        assert str(tmp_path / "results" / name) in printed
    regression = {"labels": np.array([0.3, 1.7]), "logits": np.array([[0.2], [1.1]])}
    store.save_predictions(regression, tmp_path / "regression", "tf_0", 42)  # classes only: nothing kept
    assert store.read_predictions(tmp_path / "regression", "tf_0", 42) is None
    for task, folder in (("tf_0", "tf/0"), ("prom_core_tata", "prom/prom_core_tata")):
        stored = store.read_predictions(tmp_path / "results", task, 42)  # each run's per-example test predictions
        truth = [int(row["label"]) for row in csv.DictReader(open(tmp_path / "GUE" / folder / "test.csv"))]
        assert stored["labels"].tolist() == truth
        assert matthews_corrcoef(truth, stored["predictions"]) == pytest.approx(
            payload["results"][task]["42"]["eval_matthews_correlation"], abs=1e-6
        )

    calls = []
    monkeypatch.setattr(runs, "run_task", lambda *a: calls.append(a) or {"eval_matthews_correlation": 0.5})
    gue.main(args)
    assert calls == []  # finished tasks are not rerun
    store.predictions_path(tmp_path / "results", "tf_0", 42).unlink()
    gue.main(args)  # a run without its stored predictions (from before runs kept them) is run again
    assert [(call[1], call[2]) for call in calls] == [("tf_0", 42)]
    calls.clear()
    gue.main(args + ["--seeds", "42,7"])
    assert sorted(call[1] for call in calls) == ["prom_core_tata", "tf_0"] and {call[2] for call in calls} == {7}


def png_width(path):
    from PIL import Image

    with Image.open(path) as image:
        return image.size[0]


def fake_run_task(calls, mcc=0.5):
    def run(args, task, seed, workdir):
        calls.append((args, task, seed))
        return {"eval_matthews_correlation": mcc, "eval_accuracy": 0.75, "eval_f1": 0.7}

    return run


def test_results_are_keyed_by_settings_and_bad_models_fail_before_training(tmp_path, tiny_pretrained, monkeypatch):  # noqa: F811
    import shutil

    write_task(tmp_path / "GUE" / "tf" / "0")
    calls = []
    monkeypatch.setattr(runs, "run_task", fake_run_task(calls))
    common = ["--gue_dir", str(tmp_path / "GUE"), "--max_steps", "4"]
    first = [
        "--model_name_or_path",
        str(tiny_pretrained),
        "--output_dir",
        str(tmp_path / "results"),
        "--learning_rate",
        "1e-3",
        *common,
    ]
    gue.main(first)
    assert len(calls) == 1
    other_model = shutil.copytree(tiny_pretrained, tmp_path / "other_model")
    refusals = [
        (["--model_name_or_path", str(other_model)], "model: .* there, .*other_model.* here"),
        (["--learning_rate", "2e-3"], "learning_rate: 0.001 there, 0.002 here"),
        (["--from_scratch", "True"], "from_scratch: False there, True here"),
        (["--use_lora", "True"], "use_lora"),
        (["--batch_size", "8"], "batch_size"),
        (["--epochs_scale", "0.5"], "epochs_scale"),
    ]
    for change, message in refusals:
        with pytest.raises(ValueError, match="holds results made with other settings.*" + message):
            gue.main(first + change)
    with pytest.raises(ValueError, match="max_steps: 4 there, 5 here"):
        gue.main(first + ["--max_steps", "5"])
    for model, message in (
        ("/nonexistent", "no such model folder"),
        (str(tmp_path / "GUE"), "this folder holds no config.json"),
    ):
        with pytest.raises(ValueError, match=f"--model_name_or_path {model}: {message}"):
            gue.main(["--model_name_or_path", model, "--output_dir", str(tmp_path / "results"), *common])
        with pytest.raises(ValueError, match=f"--model_name_or_path {model}: {message}"):
            gue.main(["--model_name_or_path", model, "--output_dir", str(tmp_path / "fresh"), *common])
    assert len(calls) == 1 and not (tmp_path / "fresh").exists()
    gue.main(first)  # the same settings: resumed, nothing rerun
    assert len(calls) == 1
    gue.main(
        [
            "--model_name_or_path",
            str(other_model),
            "--output_dir",
            str(tmp_path / "other"),
            "--learning_rate",
            "1e-3",
            *common,
        ]
    )  # another model in its own folder runs
    assert len(calls) == 2 and calls[-1][0].model_name_or_path == str(other_model)
    lora = ["--output_dir", str(tmp_path / "lora"), "--use_lora", "True", "--lora_alpha", "16"]
    gue.main([*first[:2], *common, *lora])  # LoRA's settings are recorded: another alpha is refused
    with pytest.raises(ValueError, match="lora: .*'alpha': 16.* there, .*'alpha': 32.* here"):
        gue.main([*first[:2], *common, *lora[:4]])


def test_lora_settings_reach_the_fine_tuning(tmp_path, monkeypatch):
    write_task(tmp_path / "GUE" / "tf" / "0")
    seen = []

    def stop(model_args, *_, **__):
        seen.append(model_args)
        raise KeyboardInterrupt  # the arguments are all this test needs

    monkeypatch.setattr(runs, "run_finetune", stop)
    with pytest.raises(KeyboardInterrupt):
        gue.main(
            [
                *("--gue_dir", str(tmp_path / "GUE"), "--max_steps", "4", "--output_dir", str(tmp_path / "out")),
                *("--use_lora", "True", "--lora_r", "4", "--lora_alpha", "16", "--lora_target_modules", "Wqkv"),
            ]
        )
    (model_args,) = seen
    assert (model_args.use_lora, model_args.lora_r, model_args.lora_alpha) == (True, 4, 16)
    assert model_args.lora_target_modules == "Wqkv"


def test_results_without_recorded_settings_are_keyed_by_their_command(tmp_path, monkeypatch):
    write_task(tmp_path / "GUE" / "tf" / "0")
    (tmp_path / "old").mkdir()
    command = f"python benchmarks/gue.py --gue_dir {tmp_path / 'GUE'} --output_dir {tmp_path / 'old'} --max_steps 300"
    metrics = {"eval_matthews_correlation": 0.0, "eval_accuracy": 0.4997, "eval_f1": 0.33}  # the old mouse_4 run
    (tmp_path / "old" / "results.json").write_text(
        json.dumps({"command": command, "results": {"tf_0": {"42": metrics}}})
    )
    calls = []
    monkeypatch.setattr(runs, "run_task", fake_run_task(calls))
    args = ["--gue_dir", str(tmp_path / "GUE"), "--output_dir", str(tmp_path / "old")]
    with pytest.raises(ValueError, match="max_steps: 300 there, None here"):
        gue.main(args)
    gue.main(args + ["--max_steps", "300"])
    assert calls == []
    payload = json.loads((tmp_path / "old" / "results.json").read_text())
    assert payload["settings"]["max_steps"] == 300 and payload["summary"][0]["status"] == "collapsed"
    assert "| tf_0 | TF-H | MCC | collapsed | 42 | 1/1 (seed 42) |" in (tmp_path / "old" / "results.md").read_text()


def fake_finetune(predict):
    """run_finetune stand-in: real test labels, predictions from predict(labels), the real GUE metrics."""
    import numpy as np

    from dnabert2.finetuning.trainer import PREDICTIONS_FILE, load_task, metrics_function
    from dnabert2.finetuning.trainer import results_folder as run_folder

    def run(model_args, data_args, training_args):
        data, info = load_task(data_args)
        labels = np.array(data["test"]["labels"])
        logits = np.eye(info.num_labels)[predict(labels)]
        run_folder(training_args).mkdir(parents=True)  # the per-example arrays, where run_finetune leaves them
        np.savez(run_folder(training_args) / PREDICTIONS_FILE, labels=labels, logits=logits)
        return {f"eval_{k}": v for k, v in metrics_function(info)((logits, labels)).items()}

    return run


def test_collapsed_runs_are_flagged_not_scored(tmp_path, monkeypatch):
    write_task(tmp_path / "GUE" / "tf" / "0", rows_per_split=(16, 8, 10), labels=lambda i: int(i % 5 == 0))
    args = ["--gue_dir", str(tmp_path / "GUE"), "--output_dir", str(tmp_path / "out"), "--seeds", "1,2,3"]
    predictions = {1: lambda labels: labels * 0 + 1, 2: lambda labels: labels, 3: lambda labels: 1 - labels}
    monkeypatch.setattr(runs, "run_finetune", lambda m, d, t: fake_finetune(predictions[t.seed])(m, d, t))
    gue.main(args)  # seed 1: every prediction the minority class; 2: perfect; 3: every one wrong (MCC -1)
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    by_seed = payload["results"]["tf_0"]
    assert by_seed["1"]["collapsed"] and by_seed["1"]["eval_matthews_correlation"] == 0.0
    assert by_seed["1"]["test_class_shares"] == [0.8, 0.2] and by_seed["1"]["eval_accuracy"] == 0.2
    assert not by_seed["2"]["collapsed"] and not by_seed["3"]["collapsed"]
    summary = payload["summary"][0]
    assert summary["collapsed_seeds"] == ["1"] and summary["scores"] == {"2": 100.0, "3": -100.0}
    assert (
        "| tf_0 | TF-H | MCC | 0.00 ± 141.42 | 1, 2, 3 | 1/3 (seed 1) |"
        in (tmp_path / "out" / "results.md").read_text()
    )
    assert png_width(tmp_path / "out" / "results.png") < 600  # one task: the figure is narrow


def results_folder(folder, results, **settings):
    folder.mkdir(parents=True)
    write_reports(results, folder, "test", {name: settings.get(name) for name in SETTINGS})
    return folder


def scores(mccs, key="eval_matthews_correlation"):
    return {
        str(seed): {key: mcc, "eval_matthews_correlation": mcc, "eval_accuracy": 0.8, "test_class_shares": [0.5, 0.5]}
        for seed, mcc in enumerate(mccs, start=1)
    }


def test_comparison_table_has_every_side_paired_tests_and_both_kinds_of_means(tmp_path):
    collapsed = {"eval_matthews_correlation": 0.0, "eval_accuracy": 0.5, "test_class_shares": [0.5, 0.5]}
    pretrained = {
        "tf_0": scores([0.50, 0.52, 0.48]),
        "tf_1": scores([0.50, 0.60, 0.40]),
        "virus_covid": scores([0.70, 0.72, 0.68], key="eval_f1"),
        "tf_2": scores([0.5, 0.5, 0.5]),
        "tf_3": scores([0.4]),
    }
    scratch = {
        "tf_0": {**scores([0.30, 0.31, 0.29]), "3": collapsed},
        "tf_1": scores([0.45, 0.55, 0.50]),
        "virus_covid": scores([0.40, 0.42, 0.41], key="eval_f1"),
        "tf_2": {s: collapsed for s in "123"},
        "tf_4": scores([0.1]),
    }
    for metrics in scratch["virus_covid"].values():
        metrics["eval_matthews_correlation"] = 0.3
    write_comparison(
        {
            "pretrained": results_folder(tmp_path / "p", pretrained),
            "from_scratch": results_folder(tmp_path / "s", scratch),
        },
        tmp_path,
    )
    report = json.loads((tmp_path / "comparison.json").read_text())
    rows = {row["task"]: row for row in report["tasks"]}
    assert set(rows) == {"tf_0", "tf_1", "tf_2", "virus_covid"} and report["tasks_on_one_side_only"] == ["tf_3", "tf_4"]
    tests = {task: row["tests"]["pretrained - from_scratch"] for task, row in rows.items()}
    assert tests["tf_0"]["differences"] == pytest.approx([20, 21, 48])  # seed 3 collapsed: scored as MCC 0
    assert rows["tf_0"]["from_scratch"]["mean_as_scored"] == pytest.approx(61 / 3)
    assert rows["tf_0"]["from_scratch"]["mean"] == pytest.approx(30.5) and rows["tf_0"]["from_scratch"][
        "collapsed_seeds"
    ] == ["3"]
    assert tests["tf_1"]["mean"] == pytest.approx(0) and tests["tf_1"]["p"] == pytest.approx(1)
    assert rows["virus_covid"]["metric"] == "F1" and tests["virus_covid"]["differences"] == pytest.approx([30, 30, 27])
    assert rows["tf_2"]["from_scratch"]["status"] == "collapsed" and tests["tf_2"]["p"] is None
    family = {f["family"]: f for f in report["families"]}["TF-H"]
    assert family["tasks"] == 3 and family["tasks_without_collapse"] == 2
    assert family["as_scored"] == pytest.approx({"pretrained": 50, "from_scratch": (61 / 3 + 50 + 0) / 3})
    assert family["collapsed_left_out"] == pytest.approx({"pretrained": 50, "from_scratch": (30.5 + 50) / 2})
    # the family test: each seed's difference averaged over tf_0, tf_1 and tf_2
    assert family["tests"]["pretrained - from_scratch"]["differences"] == pytest.approx(
        [25, (52 + 60 + 50 - 31 - 55) / 3, (48 + 40 + 50 - 50) / 3]
    )
    assert "within seed noise" not in json.dumps(report) and "noise_rule" not in report
    table = (tmp_path / "comparison.md").read_text()
    assert "| task | family | metric | seeds | pretrained | from scratch | pretrained - from scratch |" in table
    assert (
        "| tf_0 | TF-H | MCC | 1, 2, 3 | 50.00 ± 2.00 | 20.33 ± 17.62; 30.50 ± 0.71 without collapsed seed 3 | "
        "+29.67 [-9.8, 69.1], p=0.084 |"
    ) in table
    assert "| tf_1 | TF-H | MCC | 1, 2, 3 | 50.00 ± 10.00 | 50.00 ± 5.00 | +0.00 [-21.5, 21.5], p=1 |" in table
    assert (
        "| tf_2 | TF-H | MCC | 1, 2, 3 | 50.00 ± 0.00 | 0.00 ± 0.00; every seed collapsed | "
        "+50.00 (same difference on every seed: no test) |"
    ) in table
    assert "| virus_covid | CVC | F1 | 1, 2, 3 | 70.00 ± 2.00 | 41.00 ± 1.00 | +29.00 [24.7, 33.3], p=0.0012 |" in table
    assert "| TF-H | 3 | 50.00 | 23.44 | +26.56 [20.6, 32.5], p=0.0027 |" in table  # headline: as scored
    assert "| TF-H | 2 | 50.00 | 40.25 | +9.75 |" in table  # collapsed runs left out
    assert table.index("every run as scored (a collapsed run counts with its MCC of 0): the headline") < table.index(
        "Averages with collapsed runs left out"
    )
    assert (tmp_path / "comparison.png").stat().st_size > 1000


def test_strand_table_shows_test_time_averaging_and_augmentation_over_shared_seeds(tmp_path):
    def with_averages(plain, averaged):
        results = scores(plain)
        for metrics, value in zip(results.values(), averaged):
            metrics["eval_rc_average_matthews_correlation"] = value
        return results

    pretrained = {"tf_0": with_averages([0.50, 0.52, 0.48], [0.54, 0.56, 0.52]), "tf_1": with_averages([0.3], [0.4])}
    augmented = {"tf_0": with_averages([0.60, 0.62], [0.61, 0.63]), "tf_1": with_averages([0.2], [0.1])}
    scratch = {"tf_0": scores([0.1, 0.1, 0.1]), "tf_1": scores([0.1])}
    cnn = {"tf_0": scores([0.2, 0.2, 0.2]), "tf_1": scores([0.3])}
    folders = [
        results_folder(tmp_path / name, results)
        for name, results in (("p", pretrained), ("s", scratch), ("a", augmented), ("c", cnn))
    ]
    assert (
        "| tf_0 | TF-H | MCC | 50.00 ± 2.00 | 1, 2, 3 | - | 54.00 ± 2.00 |"
        in (tmp_path / "p" / "results.md").read_text()
    )
    assert "strands averaged at test" not in (tmp_path / "s" / "results.md").read_text()  # not recorded there
    table = write_comparison(
        {"pretrained": folders[0], "from_scratch": folders[1], "cnn": folders[3]}, tmp_path, augmented_dir=folders[2]
    )
    assert (
        "| task | metric | pretrained | strands averaged at test | fine-tuned on both strands | both strands, "
        "averaged at test |"
    ) in table
    # tf_0: seeds 1-3 on the plain sides, the augmented run has seeds 1 and 2 only
    assert "| tf_0 | MCC | 50.00 ± 2.00 | 54.00 ± 2.00 | 61.00 ± 1.41 | 62.00 ± 1.41 |" in table
    assert "| tf_1 | MCC | 30.00 | 40.00 | 20.00 | 10.00 |" in table
    assert "| mean over tasks | | 40.00 | 47.00 | 40.50 | 36.00 |" in table
    assert (
        "Seeds: pretrained 1, 2, 3; strands averaged at test 1, 2, 3; fine-tuned on both strands 1, 2; "
        "both strands, averaged at test 1, 2."
    ) in table
    assert (
        "| all tasks | 2 | 40.00 | 10.00 | 25.00 | +30.00 (tasks run with different seeds: no test) | "
        "+15.00 (tasks run with different seeds: no test) |"
    ) in table
    strands = json.loads((tmp_path / "comparison.json").read_text())["tasks"][0]["strands"]
    assert strands["augmented"]["scores"] == {"1": 60.0, "2": 62.0}


def test_from_scratch_results_do_not_depend_on_the_folder_weights(tmp_path, tiny_pretrained):  # noqa: F811
    model = tmp_path / "model"
    shutil.copytree(tiny_pretrained, model)
    settings = {
        flags: run_settings(GueArguments(model_name_or_path=str(model), from_scratch=flags[0], architecture=flags[1]))
        for flags in ((False, "dnabert2"), (True, "dnabert2"), (False, "cnn"))
    }
    (model / "model.safetensors").write_bytes(b"other weights")
    again = {
        flags: run_settings(GueArguments(model_name_or_path=str(model), from_scratch=flags[0], architecture=flags[1]))
        for flags in settings
    }
    assert again[(False, "dnabert2")]["model_weights"] != settings[(False, "dnabert2")]["model_weights"]
    assert (
        again[(True, "dnabert2")] == settings[(True, "dnabert2")]
        and settings[(True, "dnabert2")]["model_weights"] is None
    )
    assert again[(False, "cnn")] == settings[(False, "cnn")]


def test_ablation_fine_tunes_random_weights_of_the_same_config(tmp_path, tiny_pretrained, monkeypatch, capsys):  # noqa: F811
    import torch
    from safetensors.torch import load_file

    from dnabert2.finetuning import trainer as finetuning

    write_task(tmp_path / "GUE" / "tf" / "0", rows_per_split=(32, 16, 16))
    built, build_model = [], finetuning.build_model

    def spy(model_args, info):
        model = build_model(model_args, info)
        built.append((model_args.from_scratch, {k: v.detach().clone() for k, v in model.bert.state_dict().items()}))
        return model

    monkeypatch.setattr(finetuning, "build_model", spy)
    out = tmp_path / "ablation"
    args = [
        "--model_name_or_path",
        str(tiny_pretrained),
        "--gue_dir",
        str(tmp_path / "GUE"),
        "--tasks",
        "tf_0",
        "--output_dir",
        str(out),
        "--max_steps",
        "2",
        "--learning_rate",
        "1e-3",
        "--batch_size",
        "16",
    ]
    gue.main(args + ["--ablation", "True"])
    saved = {k.removeprefix("bert."): v for k, v in load_file(tiny_pretrained / "model.safetensors").items()}
    (pretrained_flag, pretrained), (augmented_flag, _), (scratch_flag, scratch) = built
    assert (pretrained_flag, augmented_flag, scratch_flag) == (False, False, True)
    name = "embeddings.word_embeddings.weight"
    assert torch.equal(pretrained[name], saved[name].float())
    assert scratch[name].shape == saved[name].shape and not torch.allclose(scratch[name], saved[name].float())
    assert abs(scratch[name].std().item() - 0.02) < 0.002  # the model's own init (initializer_range)
    assert set(scratch) == set(pretrained)  # the same architecture and config
    for side, flag, both_strands in (
        ("pretrained", False, False),
        ("pretrained_rc_augment", False, True),
        ("from_scratch", True, False),
    ):
        settings = json.loads((out / side / "results.json").read_text())["settings"]
        assert settings["from_scratch"] is flag and settings["rc_augment"] is both_strands
    report = json.loads((out / "comparison.json").read_text())
    row = report["tasks"][0]
    assert row["task"] == "tf_0" and row["seeds"] == ["42"]
    test = row["tests"]["pretrained - from_scratch"]
    assert test["mean"] == pytest.approx(row["pretrained"]["mean_as_scored"] - row["from_scratch"]["mean_as_scored"])
    assert test["no_test"] == "1 seed" and test["p"] is None
    bootstrap = row["bootstrap"]["pretrained - from_scratch"]  # one seed: the bootstrap over test examples still tests
    assert bootstrap["mean"] == pytest.approx(test["mean"]) and bootstrap["replicates"] == 2000
    assert bootstrap["ci95"][0] <= test["mean"] <= bootstrap["ci95"][1]
    assert (
        "| pretrained | from scratch | CNN baseline | composition baseline | pretrained - from scratch |"
        in (out / "comparison.md").read_text()
    )
    cnn = json.loads((out / "cnn" / "results.json").read_text())  # the third side: the one-hot CNN baseline
    assert cnn["settings"]["architecture"] == "cnn" and "CNN baseline" in (out / "comparison.md").read_text()
    cnn_mcc = cnn["results"]["tf_0"]["42"]["eval_matthews_correlation"] * 100
    assert row["cnn"]["mean_as_scored"] == pytest.approx(cnn_mcc)
    composition = json.loads((out / "composition" / "results.json").read_text())  # the fourth: base composition
    assert composition["settings"]["architecture"] == "composition" and composition["settings"]["model_weights"] is None
    composition_mcc = composition["results"]["tf_0"]["42"]["eval_matthews_correlation"] * 100
    assert row["composition"]["mean_as_scored"] == pytest.approx(composition_mcc)
    assert "| pretrained - composition baseline |" in (out / "comparison.md").read_text()
    printed = capsys.readouterr().out
    for path in (out / "pretrained" / "results.json", out / "from_scratch" / "results.md", out / "comparison.png"):
        assert str(path) in printed

    # --compare_with: the same comparison from two finished folders, nothing rerun
    gue.main(
        args[:-6]
        + [
            "--output_dir",
            str(out / "from_scratch"),
            "--from_scratch",
            "True",
            "--max_steps",
            "2",
            "--learning_rate",
            "1e-3",
            "--batch_size",
            "16",
            "--compare_with",
            str(out / "pretrained"),
        ]
    )
    assert len(built) == 3
    again = json.loads((out / "from_scratch" / "comparison.json").read_text())
    no_augmented = {"augmented": None, "augmented_averaged_at_test": None}
    assert again["tasks"] == [
        {
            **r,
            "cnn": None,
            "composition": None,
            "strands": {**r["strands"], **no_augmented},  # neither named here
            "tests": {"pretrained - from_scratch": r["tests"]["pretrained - from_scratch"]},
            "bootstrap": {"pretrained - from_scratch": r["bootstrap"]["pretrained - from_scratch"]},
            "clean": {name: r["clean"][name] for name in ("pretrained", "from_scratch")},
        }
        for r in report["tasks"]
    ]
    monkeypatch.setattr(runs, "run_task", lambda *a: pytest.fail("--report_only ran a task"))
    (out / "comparison.json").unlink()
    gue.main(args + ["--ablation", "True", "--report_only", "True"])  # the comparison again, from the stored results
    assert json.loads((out / "comparison.json").read_text())["tasks"] == report["tasks"]
    with pytest.raises(ValueError, match="both runs have from_scratch=False"):
        gue.main(
            args[:-6]
            + [
                "--output_dir",
                str(out / "pretrained"),
                "--max_steps",
                "2",
                "--learning_rate",
                "1e-3",
                "--batch_size",
                "16",
                "--compare_with",
                str(out / "pretrained"),
            ]
        )
    with pytest.raises(ValueError, match="other settings there .*learning_rate"):
        gue.main(
            args[:-6]
            + [
                "--output_dir",
                str(tmp_path / "x"),
                "--from_scratch",
                "True",
                "--max_steps",
                "2",
                "--learning_rate",
                "2e-3",
                "--batch_size",
                "16",
                "--compare_with",
                str(out / "pretrained"),
            ]
        )


def test_builder_refuses_a_folder_in_another_layout(tmp_path):
    from dnabert2.train.build_gue_dataset import main as build

    write_task(tmp_path / "GUE" / "tf" / "0")
    (tmp_path / "empty").mkdir()
    layout = r"expected <family>/<task>/\{train,dev,test\}.csv"
    cases = [
        (tmp_path / "empty", ""),
        (tmp_path / "GUE" / "tf" / "0", "one task folder"),
        (tmp_path / "GUE" / "tf", "one family folder"),
        (tmp_path, f"one level deeper: pass {tmp_path / 'GUE'}"),
    ]
    for folder, hint in cases:
        with pytest.raises(ValueError, match=f"{folder}: no GUE task folders here \\({layout}.*\\).*{hint}"):
            build_gue_dataset(folder, tmp_path / "hub", progress=lambda message: None)
        with pytest.raises(ValueError, match=layout):
            build(["--gue_dir", str(folder), "--output_dir", str(tmp_path / "hub")])
    assert not (tmp_path / "hub").exists()  # nothing written


def test_finetune_from_a_built_dataset_folder(tmp_path, tiny_pretrained):  # noqa: F811
    from dnabert2.train.finetune import main as finetune

    write_task(tmp_path / "GUE" / "tf" / "1")
    build_gue_dataset(tmp_path / "GUE", tmp_path / "hub", progress=lambda message: None)
    results = finetune(
        [
            "--model_name_or_path",
            str(tiny_pretrained),
            "--dataset_name",
            str(tmp_path / "hub"),
            "--dataset_config_name",
            "tf_1",
            "--output_dir",
            str(tmp_path / "out"),
            "--max_steps",
            "3",
            "--run_name",
            "hub",
            "--model_max_length",
            "24",
        ]
    )
    assert "eval_matthews_correlation" in results
