"""GUE statistics against hand computations: the paired t-test over seeds, means with collapsed runs scored and left
out; model names in results; contamination counts on a corpus built to know the answer."""

import json
import math
import random
import shutil

import pytest
from conftest import ROOT, write_task

from dnabert2.benchmarks import gue
from dnabert2.benchmarks.gue_runner import runs, store
from dnabert2.benchmarks.gue_runner.settings import GueArguments
from dnabert2.benchmarks.gue_runner.statistics import group_summary, paired_test, side_summary
from dnabert2.runtime.weights import weights_digest


def t_test_with_two_degrees_of_freedom(differences):
    """(mean, 95 % interval, t, two-sided p) of three paired differences, from the closed forms of Student's t with
    2 degrees of freedom: CDF(t) = 1/2 + t / (2 sqrt(2 + t^2)); its 0.975 quantile is 0.95 / sqrt(2 * 0.975 * 0.025)."""
    n = len(differences)
    assert n == 3
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    p = 1 - abs(t) / math.sqrt(2 + t * t)
    quantile = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    return mean, (mean - quantile * sd / math.sqrt(n), mean + quantile * sd / math.sqrt(n)), t, p


def test_paired_test_matches_the_t_formula_by_hand():
    first, second = {"1": 3.0, "2": 5.0, "3": 7.0, "9": 1.0}, {"1": 2.0, "2": 3.0, "3": 4.0}  # seed 9: one side only
    result = paired_test(first, second)
    mean, (low, high), t, p = t_test_with_two_degrees_of_freedom([1.0, 2.0, 3.0])
    assert (mean, t) == pytest.approx((2.0, 2 * math.sqrt(3)))
    assert result["seeds"] == ["1", "2", "3"] and result["differences"] == [1.0, 2.0, 3.0]
    assert result["mean"] == pytest.approx(mean) and result["t"] == pytest.approx(t) and result["df"] == 2
    assert result["ci95"] == pytest.approx([low, high]) and result["p"] == pytest.approx(p)
    assert p == pytest.approx(0.0742, abs=1e-4) and (low, high) == pytest.approx((-0.484, 4.484), abs=1e-3)
    negative = paired_test({"1": -1.0, "2": 0.5, "3": -4.0}, {"1": 0.0, "2": 2.0, "3": 0.0})
    mean, (low, high), t, p = t_test_with_two_degrees_of_freedom([-1.0, -1.5, -4.0])
    assert (negative["mean"], negative["t"], negative["p"]) == pytest.approx((mean, t, p))
    assert negative["ci95"] == pytest.approx([low, high])


def test_no_test_with_one_seed_or_identical_differences():
    one = paired_test({"1": 5.0, "2": 6.0}, {"1": 4.0})
    assert one["mean"] == 1.0 and one["p"] is None and one["ci95"] is None and one["no_test"] == "1 seed"
    same = paired_test({"1": 5.0, "2": 6.0}, {"1": 4.0, "2": 5.0})
    assert same["mean"] == 1.0 and same["p"] is None and same["no_test"] == "same difference on every seed"
    assert paired_test({"1": 5.0}, {"2": 4.0}) is None


def run(mcc, collapsed=False):
    """Stored metrics of one run."""
    return {
        "eval_matthews_correlation": mcc,
        "eval_accuracy": 0.5 if collapsed else 0.7,
        "test_class_shares": [0.5, 0.5],
        "collapsed": collapsed,
    }


def test_collapsed_runs_count_as_mcc_0_in_one_mean_and_are_left_out_of_the_other():
    by_seed = {"1": run(0.0, collapsed=True), "2": run(0.30), "3": run(0.50), "4": run(0.0, collapsed=True)}
    summary = side_summary("tf_0", by_seed)
    assert summary["scores_as_scored"] == {"1": 0.0, "2": 30.0, "3": 50.0, "4": 0.0}
    assert summary["mean_as_scored"] == pytest.approx(20.0) and summary["collapsed_seeds"] == ["1", "4"]
    assert summary["std_as_scored"] == pytest.approx(math.sqrt((400 + 100 + 900 + 400) / 3))
    assert summary["mean"] == pytest.approx(40.0) and summary["std"] == pytest.approx(math.sqrt(200))


def test_group_averages_count_collapsed_runs_and_test_the_per_seed_averages():
    def row(task, pretrained, scratch):
        sides = {"pretrained": side_summary(task, pretrained), "from_scratch": side_summary(task, scratch), "cnn": None}
        return {
            **sides,
            "tests": {
                "pretrained - from_scratch": paired_test(
                    sides["pretrained"]["scores_as_scored"], sides["from_scratch"]["scores_as_scored"]
                )
            },
        }

    rows = [
        row(
            "tf_0",
            {"1": run(0.5), "2": run(0.6), "3": run(0.4)},
            {"1": run(0.0, collapsed=True), "2": run(0.2), "3": run(0.3)},
        ),
        row(
            "tf_1",
            {"1": run(0.2), "2": run(0.3), "3": run(0.1)},
            {"1": run(0.0, collapsed=True), "2": run(0.0, collapsed=True), "3": run(0.0, collapsed=True)},
        ),
    ]
    group = group_summary("TF-H", rows, ["pretrained", "from_scratch"])
    assert group["as_scored"] == pytest.approx({"pretrained": (50 + 20) / 2, "from_scratch": (50 / 3 + 0) / 2})
    # tf_1 collapsed on every seed of one side: left out of every side's average
    assert group["tasks"] == 2 and group["tasks_without_collapse"] == 1
    assert group["collapsed_left_out"] == pytest.approx({"pretrained": 50, "from_scratch": 25})
    assert group["collapsed_left_out_differences"]["pretrained - from_scratch"] == pytest.approx(25)
    # seed by seed, the difference averaged over the two tasks: seed 1 (50 - 0 + 20 - 0) / 2, ...
    per_seed = [(50 + 20) / 2, (40 + 30) / 2, (10 + 10) / 2]
    mean, (low, high), t, p = t_test_with_two_degrees_of_freedom(per_seed)
    test = group["tests"]["pretrained - from_scratch"]
    assert test["differences"] == pytest.approx(per_seed) and (test["mean"], test["t"], test["p"]) == pytest.approx(
        (mean, t, p)
    )
    assert test["ci95"] == pytest.approx([low, high])


def test_results_name_the_model_relative_to_the_repository_or_by_folder_name(tmp_path, tiny_pretrained, monkeypatch):  # noqa: F811
    shipped = store.run_settings(GueArguments())
    assert shipped["model"] == "." and shipped["model_weights"] == weights_digest(ROOT)
    assert store.run_settings(GueArguments(model_name_or_path=str(ROOT / "train" / "..")))["model"] == "."
    outside = store.run_settings(GueArguments(model_name_or_path=str(tiny_pretrained)))
    assert outside["model"] == tiny_pretrained.name and not outside["model"].startswith("/")
    monkeypatch.setattr(store, "packaged", lambda name: tmp_path.resolve())  # a repository root holding a model
    inside = shutil.copytree(tiny_pretrained, tmp_path / "runs" / "further")
    assert store.run_settings(GueArguments(model_name_or_path=str(inside)))["model"] == "runs/further"


def test_results_recorded_with_an_absolute_model_path_resume_by_weights_digest(tmp_path, tiny_pretrained, monkeypatch):  # noqa: F811
    write_task(tmp_path / "GUE" / "tf" / "0")
    out = tmp_path / "old"
    out.mkdir()
    args = ["--model_name_or_path", str(tiny_pretrained), "--gue_dir", str(tmp_path / "GUE"), "--output_dir", str(out)]
    settings = {
        **store.run_settings(GueArguments(model_name_or_path=str(tiny_pretrained))),
        "model": "/elsewhere/on/another/machine",
    }  # as written before models were named
    metrics = {"eval_matthews_correlation": 0.5, "eval_accuracy": 0.75, "collapsed": False}
    (out / "results.json").write_text(
        json.dumps({"command": "x", "settings": settings, "results": {"tf_0": {"42": metrics}}})
    )
    calls = []
    monkeypatch.setattr(runs, "run_task", lambda *a: calls.append(a) or metrics)
    gue.main(args)
    assert calls == []  # the same weights: the finished pair is skipped
    assert json.loads((out / "results.json").read_text())["settings"]["model"] == tiny_pretrained.name
    (out / "results.json").write_text(
        json.dumps(
            {"command": "x", "settings": {**settings, "model_weights": "0" * 16}, "results": {"tf_0": {"42": metrics}}}
        )
    )
    with pytest.raises(ValueError, match="model_weights: '0000000000000000' there"):
        gue.main(args)


def test_contamination_counts_on_a_corpus_built_to_know_the_answer(tmp_path):
    from dnabert2.benchmarks.gue_contamination import main as contamination
    from dnabert2.data.alphabet import reverse_complement

    rng = random.Random(7)

    def bases(n):
        return "".join(rng.choice("ACGT") for _ in range(n))

    record, repeat = bases(3000), bases(60)
    corpus = {
        "chr1": record[:1500].lower() + "N" * 5 + record[1500:],  # soft-masked, with a gap
        "chr2": bases(500) + "CA" * 40 + bases(500) + (bases(20) + repeat) * 12,
    }  # a microsatellite, a repeat
    (tmp_path / "genomes").mkdir()
    (tmp_path / "genomes" / "corpus.fa").write_text("".join(f">{name} test\n{seq}\n" for name, seq in corpus.items()))
    tests = [
        record[100:180],  # 0: exact match
        reverse_complement(record[2000:2090]),  # 1: exact match of the other strand
        bases(30) + record[700:755] + bases(30),  # 2: shares a 55-bp stretch (six 50-mers)
        bases(35) + "CA" * 30 + bases(35),  # 3: shares only low-complexity 50-mers: clean
        bases(100),  # 4: clean
        bases(25) + reverse_complement(repeat[:52]) + bases(25),  # 5: shares a 12-copy repeat only
        record[1480:1560],  # 6: spans the corpus gap: shares 50-mers, no exact match
    ]
    folder = tmp_path / "GUE" / "tf" / "0"
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.csv").write_text(
            "sequence,label\n" + "".join(f"{seq},{i % 2}\n" for i, seq in enumerate(tests))
        )
    contamination(
        [
            "--gue_dir",
            str(tmp_path / "GUE"),
            "--corpus",
            str(tmp_path / "genomes" / "*.fa"),
            "--output",
            str(tmp_path / "out" / "contamination"),
        ]
    )
    report = json.loads((tmp_path / "out" / "contamination.json").read_text())
    counts = report["tasks"]["tf_0"]
    assert counts["exact_indices"] == [0, 1] and counts["clean_indices"] == [3, 4]
    assert (
        counts["test_sequences"],
        counts["exact"],
        counts["shared_kmer"],
        counts["shared_only_repeat_kmers"],
        counts["clean"],
    ) == (7, 2, 5, 1, 2)
    assert report["corpus"]["bases"] == sum(len(seq) for seq in corpus.values()) - 5
    markdown = (tmp_path / "out" / "contamination.md").read_text()
    assert "| tf_0 | 7 | 2 | 5 | 1 | 2 (28.6 %) |" in markdown
    # the comparison shows the counts per task (not the indices)
    from dnabert2.benchmarks.gue_runner.reports import write_comparison, write_reports

    for side, mcc in (("p", 0.5), ("s", 0.3)):
        (tmp_path / side).mkdir()
        write_reports({"tf_0": {"1": run(mcc)}}, tmp_path / side, "test", {})
    table = write_comparison(
        {"pretrained": tmp_path / "p", "from_scratch": tmp_path / "s"},
        tmp_path,
        contamination_file=tmp_path / "out" / "contamination.json",
    )
    assert "test sequences in the pretraining corpus (exact; sharing a 50-mer; clean) |" in table
    assert table.splitlines()[4].endswith("| +20.00 (1 seed: no test) | 2; 5; 2 of 7 |")
    row = json.loads((tmp_path / "comparison.json").read_text())["tasks"][0]
    assert row["contamination"]["shared_kmer"] == 5 and "clean_indices" not in row["contamination"]


def test_ablation_runs_a_further_pretrained_side_and_tests_it_against_pretrained(
    tmp_path, tiny_pretrained, monkeypatch
):  # noqa: F811
    write_task(tmp_path / "GUE" / "tf" / "0")
    further = shutil.copytree(tiny_pretrained, tmp_path / "further_model")
    (further / "model.safetensors").write_bytes((further / "model.safetensors").read_bytes() + b" ")  # other weights
    mccs = {"pretrained": 0.40, "further": 0.45}  # per seed s: + s/100 on the further side, + 0 on pretrained

    def fake(args, task, seed, workdir):
        side = "further" if args.model_name_or_path == str(further) else "pretrained"
        mcc = (
            mccs[side] + (seed / 100 if side == "further" else 0)
            if args.architecture == "dnabert2" and not args.from_scratch
            else 0.1 * seed
        )
        return {"eval_matthews_correlation": mcc, "eval_accuracy": 0.7, "collapsed": False}

    calls = []
    monkeypatch.setattr(runs, "run_task", lambda *a: calls.append(a) or fake(*a))
    out = tmp_path / "ablation"
    args = [
        "--model_name_or_path",
        str(tiny_pretrained),
        "--gue_dir",
        str(tmp_path / "GUE"),
        "--output_dir",
        str(out),
        "--seeds",
        "1,2,3",
        "--max_steps",
        "2",
    ]
    with pytest.raises(ValueError, match="--further_pretrained_model is a side of the ablation"):
        gue.main(args + ["--further_pretrained_model", str(further)])
    with pytest.raises(ValueError, match="no such model folder"):
        gue.main(args + ["--ablation", "True", "--further_pretrained_model", str(tmp_path / "missing")])
    assert calls == []
    gue.main(args + ["--ablation", "True", "--further_pretrained_model", str(further)])
    further_calls = [call for call in calls if call[0].model_name_or_path == str(further)]
    assert sorted(call[2] for call in further_calls) == [1, 2, 3] and len(calls) == 18  # six sides x three seeds
    assert all(call[0].max_steps == 2 and not call[0].from_scratch for call in further_calls)
    settings = json.loads((out / "further_pretrained" / "results.json").read_text())["settings"]
    assert settings["model"] == "further_model" and settings["model_weights"] == weights_digest(further)
    report = json.loads((out / "comparison.json").read_text())
    assert report["sides"] == ["pretrained", "further_pretrained", "from_scratch", "cnn", "composition"]
    test = report["tasks"][0]["tests"]["further_pretrained - pretrained"]
    assert test["differences"] == pytest.approx([6, 7, 8])  # (0.45 + s/100 - 0.40) x 100
    mean, (low, high), t, p = t_test_with_two_degrees_of_freedom([6, 7, 8])
    assert (test["mean"], test["t"], test["p"]) == pytest.approx((mean, t, p)) and test["ci95"] == pytest.approx(
        [low, high]
    )
    assert report["all_tasks"]["as_scored"]["further_pretrained"] == pytest.approx(47)
    table = (out / "comparison.md").read_text()
    assert (
        "| task | family | metric | seeds | pretrained | further pretrained | from scratch | CNN baseline | "
        "composition baseline | pretrained - from scratch | pretrained - CNN baseline | pretrained - composition "
        "baseline | further pretrained - pretrained |"
    ) in table
    assert (
        "| tf_0 | TF-H | MCC | 1, 2, 3 | 40.00 ± 0.00 | 47.00 ± 1.00 | 20.00 ± 10.00 | 20.00 ± 10.00 | 20.00 ± 10.00 |"
        in table
    )
    assert (out / "comparison.png").stat().st_size > 1000
    gue.main(args + ["--ablation", "True", "--further_pretrained_model", str(further)])
    assert len(calls) == 18  # resumed: nothing rerun
