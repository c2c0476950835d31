"""The tokenizer study end to end at smoke size: equal pretraining FLOPs, GUE through the runner, the comparison
against BPE 4096, and a rerun that redoes nothing."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from comparator_models import write_gc_task
from conftest import FIXTURE_FASTA

from dnabert2.benchmarks import tokenization
from dnabert2.benchmarks.tokenization import PRETRAINING_FACTS, mcc, planned
from dnabert2.benchmarks.tokenization import main as study
from dnabert2.runtime.errors import InputError
from dnabert2.runtime.weights import weights_digest

pytestmark = pytest.mark.usefixtures("one_thread")
TINY = "hidden_size=32,num_hidden_layers=2,num_attention_heads=2,intermediate_size=64,hidden_dropout_prob=0.0"
KEYS = {"name", "tokenizer", "vocab_size", "parameters", "pretraining_flops", "gue_mean", "tasks", "seeds"}


def test_study_smoke_run_compares_tokenizers_at_equal_flops(tmp_path, monkeypatch):
    records = FIXTURE_FASTA.read_text().split(">")[1:]
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "train_species.fa").write_text("".join(">" + r for r in records[:5]))
    (tmp_path / "corpus" / "held_species.fa").write_text("".join(">" + r for r in records[5:]))
    write_gc_task(tmp_path / "GUE" / "tf" / "0", sizes=(96, 32, 32))
    flops = 1e9
    command = [
        *("--corpus", str(tmp_path / "corpus" / "*.fa"), "--validation_species", "held_species*"),
        *("--models", "bpe_4096,kmer_overlapping,kmer_nonoverlapping", "--pretraining_flops", str(flops)),
        *("--max_seq_length", "64", "--batch_size", "8", "--tokenizer_train_bp", "50000"),
        *("--config_overrides", TINY, "--gue_dir", str(tmp_path / "GUE"), "--tasks", "tf_0", "--seeds", "1,2"),
        *("--gue_max_steps", "40", "--gue_learning_rate", "1e-3", "--bootstrap", "20", "--references", ""),
        *("--work_dir", str(tmp_path / "work"), "--output_dir", str(tmp_path / "out")),
    ]
    report = study(command)
    stored = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert [m["name"] for m in stored["models"]] == ["bpe_4096", "kmer_overlapping", "kmer_nonoverlapping"]
    models = {m["name"]: m for m in stored["models"]}
    assert all(KEYS <= set(m) for m in stored["models"])
    assert models["kmer_overlapping"]["vocab_size"] == 4101 and models["kmer_nonoverlapping"]["vocab_size"] == 4107
    for m in stored["models"]:  # equal compute: each model's steps fill the budget to within one step
        per_step = m["pretraining_flops"] / m["pretraining_steps"]
        assert flops - per_step < m["pretraining_flops"] <= flops
        assert m["tasks"] == 1 and m["seeds"] == ["1", "2"] and m["held_out_bits_per_base"] > 0
        results = json.loads((Path(m["folder"]) / "all_results.json").read_text())  # same masks, so same ratio
        ratio = m["held_out_composition_bits_per_base"] / m["held_out_bits_per_base"]
        assert ratio == pytest.approx(results["eval_composition_loss"] / results["eval_loss"])
    # the same windows of tokens hold 6x fewer bases as overlapping 6-mers than as non-overlapping ones
    ratio = (
        models["kmer_nonoverlapping"]["bp_seen_in_pretraining"] / models["kmer_overlapping"]["bp_seen_in_pretraining"]
    )
    assert ratio == pytest.approx(6, rel=0.05)
    test = models["kmer_overlapping"]["vs_bpe_4096"]["paired_t_over_seeds"]
    assert test["mean"] == pytest.approx(models["kmer_overlapping"]["gue_mean"] - models["bpe_4096"]["gue_mean"])
    assert "bpe_4096" in (tmp_path / "out" / "comparison.md").read_text()
    # the DNABERT-style model fine-tuned again from random weights (--no_pretraining's default): a reference tested
    # against its pretrained self
    (without,) = stored["references"]
    assert without["name"] == "no pretraining (kmer_overlapping)" and without["pretrained"] == "kmer_overlapping"
    assert json.loads((Path(without["folder"]) / "results.json").read_text())["settings"]["from_scratch"] is True
    gain = without["pretraining_gain"]["paired_t_over_seeds"]["mean"]
    assert gain == pytest.approx(models["kmer_overlapping"]["gue_mean"] - without["gue_mean"])
    assert stored["complete"] and "What pretraining buys" in (tmp_path / "out" / "comparison.md").read_text()
    # ... fine-tuned from the same config as the pretrained model (but for what training sets aside: use_cache)
    untrained = json.loads((tmp_path / "work" / "untrained" / "kmer_overlapping" / "config.json").read_text())
    pretrained = json.loads((Path(models["kmer_overlapping"]["folder"]) / "config.json").read_text())
    assert untrained | {"use_cache": None} == pretrained | {"use_cache": None}
    assert (tmp_path / "out" / "comparison.png").stat().st_size > 0
    done = (tmp_path / "work" / "models" / "bpe_4096" / "all_results.json").stat().st_mtime_ns
    # a rerun redoes nothing; a reference (here a copy of BPE 4096's own GUE runs) is scored beside, not ranked
    shutil.copytree(tmp_path / "out" / "gue" / "bpe_4096", tmp_path / "copy")
    rerun = study([*command, "--references", f"copy of bpe 4096={tmp_path / 'copy'}"])
    assert rerun["models"][0]["gue_mean"] == report["models"][0]["gue_mean"]
    assert (tmp_path / "work" / "models" / "bpe_4096" / "all_results.json").stat().st_mtime_ns == done
    reference = next(r for r in rerun["references"] if r["name"] == "copy of bpe 4096")
    assert reference["gue_mean"] == rerun["models"][0]["gue_mean"] and "first" not in reference
    assert reference["vs_bpe_4096"]["paired_t_over_seeds"]["mean"] == 0
    assert reference["vs_bpe_4096"]["bootstrap_over_test_examples"]["ci95"] == [0, 0]
    assert "copy of bpe 4096" in (tmp_path / "out" / "comparison.md").read_text()
    settings = json.loads((tmp_path / "copy" / "results.json").read_text())
    settings["settings"]["learning_rate"] *= 2
    (tmp_path / "copy" / "results.json").write_text(json.dumps(settings))
    with pytest.raises(InputError, match="learning_rate"):  # a reference fine-tuned otherwise is refused
        study([*command, "--references", f"copy={tmp_path / 'copy'}"])
    # a new machine, its work folder empty: the committed results resume the study without pretraining again
    shutil.rmtree(tmp_path / "work")
    resumed = study(command)
    assert not (tmp_path / "work" / "models").exists()
    for before, after in zip(report["models"], resumed["models"]):
        assert {k: after[k] for k in PRETRAINING_FACTS} == {k: before[k] for k in PRETRAINING_FACTS}
        assert after["gue_mean"] == before["gue_mean"]
    assert resumed["references"][0]["gue_mean"] == report["references"][0]["gue_mean"]
    # a model with unfinished GUE runs, its machine lost: pretrained again here, its runs of other weights set aside
    # and redone (pretraining is reproducible on one machine: the scores come out the same); stopped midway, the
    # study leaves the comparison of every committed model in place
    stored_runs = tmp_path / "out" / "gue" / "kmer_overlapping" / "results.json"
    runs = json.loads(stored_runs.read_text())
    del runs["results"]["tf_0"]["2"]
    runs["settings"]["model_weights"] = "0" * 16
    stored_runs.write_text(json.dumps(runs))
    shutil.rmtree(tmp_path / "work")

    def session_ends(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(tokenization, "fine_tune_on_gue", session_ends)
        study(command)
    stored = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert [m["name"] for m in stored["models"]] == ["bpe_4096", "kmer_overlapping", "kmer_nonoverlapping"]
    assert (tmp_path / "work" / "superseded" / f"kmer_overlapping-{'0' * 16}" / "results.json").exists()
    redone = study(command)
    assert sorted(p.name for p in (tmp_path / "work" / "models").iterdir()) == ["kmer_overlapping"]
    runs = json.loads(stored_runs.read_text())
    assert runs["settings"]["model_weights"] == weights_digest(tmp_path / "work" / "models" / "kmer_overlapping")
    assert sorted(runs["results"]["tf_0"]) == ["1", "2"]
    assert [m["gue_mean"] for m in redone["models"]] == [m["gue_mean"] for m in report["models"]]
    with pytest.raises(InputError, match="bpe_256 not in --models"):
        study([*command, "--no_pretraining", "bpe_256"])


def test_models_pretrained_on_this_machine_come_right_after_the_baseline(tmp_path):
    (tmp_path / "models" / "bpe_1024").mkdir(parents=True)
    args = SimpleNamespace(
        models="bpe_256,kmer_overlapping,bpe_4096,bpe_1024", no_pretraining="kmer_overlapping", work_dir=tmp_path
    )
    assert planned(args) == (["bpe_4096", "bpe_1024", "bpe_256", "kmer_overlapping"], ["kmer_overlapping"])


def test_mcc_matches_scikit_learn():
    import numpy as np
    from sklearn.metrics import matthews_corrcoef

    rng = np.random.default_rng(0)
    for classes in (2, 3, 5):
        labels, predictions = rng.integers(classes, size=200), rng.integers(classes, size=200)
        predictions[:120] = labels[:120]
        assert mcc(labels, predictions) == pytest.approx(matthews_corrcoef(labels, predictions))
    assert mcc(np.array([0, 1, 1]), np.array([1, 1, 1])) == 0.0  # one predicted class: undefined, 0


def test_a_missing_reference_stops_the_study_before_any_pretraining(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default references are relative to the repository root
    command = ["--corpus", str(FIXTURE_FASTA), "--gue_dir", str(tmp_path), "--work_dir", str(tmp_path / "work")]
    with pytest.raises(InputError, match="benchmarks/results/gue_ablation/pretrained.*relative to .*repository root"):
        study(command)
    assert not (tmp_path / "work").exists()
