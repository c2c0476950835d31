"""Benchmark building blocks against hand-computed values and the model itself."""

import pytest
import torch
from conftest import uneven_batch

from dnabert2.benchmarks.measure.flops import DNABERT2, Encoder, forward_flops, token_counts
from dnabert2.benchmarks.measure.original_design import original_design_forward, original_design_mlm_loss
from modeling_dnabert2 import DNABert2ForMaskedLM


def test_forward_flops_by_hand():
    tiny = Encoder("tiny", hidden=2, layers=3, intermediate=4, gated_mlp=True)
    # per token: 2 * (2*6 + 2*2 + 2*8 + 4*2) = 80 matmul FLOPs, attention 4 * L * hidden = 4*5*2 = 40
    assert forward_flops(tiny, 5) == 3 * 5 * (80 + 40)
    # 117M, 128 tokens: 2 * 9,437,184 per token and layer + attention
    assert forward_flops(DNABERT2, 128) == 12 * 128 * (2 * 9_437_184 + 4 * 128 * 768)


def test_token_counts_of_the_compared_tokenizations():
    counts = token_counts(300, 60)
    assert counts == {"DNABERT-2 117M": 62, "DNABERT (6-mer)": 297, "NT-2500M-multi": 51}


def test_original_design_baselines_compute_the_same_model(tiny_config):
    torch.manual_seed(0)
    model = DNABert2ForMaskedLM(tiny_config).eval()
    ids, mask, types = uneven_batch([19, 4, 11])
    ours = model.bert(ids, mask).last_hidden_state
    torch.testing.assert_close(original_design_forward(model.bert, ids, mask), ours, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(original_design_forward(model.bert, ids, mask, unpad=False), ours, atol=1e-5, rtol=1e-5)
    labels = ids.masked_fill(mask == 0, -100)
    torch.testing.assert_close(original_design_mlm_loss(model, ids, mask, labels), model(ids, mask, labels=labels).loss)


def test_learning_curve_reuses_rows_of_the_same_checkpoint_weights_and_held_out_sets(tmp_path):
    import json

    from dnabert2.benchmarks.pretraining_curve import earlier_rows

    baselines = {"set A": {"composition_loss": 7.1, "masked_tokens": 10}}
    rows = [{"step": 500, "weights": "aaa", "set": "set A", "loss": 7.2}, {"step": 1000, "set": "set A", "loss": 7.0}]
    report = tmp_path / "pretraining_curve.json"
    assert earlier_rows(report, baselines) == {}  # no earlier report
    report.write_text(json.dumps({"run": "runs/x", "rows": rows, "baselines": baselines}))
    assert earlier_rows(report, baselines) == {(500, "aaa", "set A"): rows[0], (1000, None, "set A"): rows[1]}
    assert earlier_rows(report, {"set A": {"composition_loss": 7.0, "masked_tokens": 10}}) == {}  # other sets


def test_gpu_check_runs_its_checks_on_the_cpu_interpreter(tmp_path):
    # the same script the first GPU runs, at tiny shapes on the Triton interpreter (fp16: the interpreter cannot do
    # bf16 dots): every check runs and passes, and the report is written
    import json

    from dnabert2.benchmarks.gpu_check import main as gpu_check

    gpu_check(
        [
            "--device",
            "cpu",
            "--dtypes",
            "float32,float16",
            "--lengths",
            "5,17,33",
            "--heads",
            "2",
            "--head_dim",
            "16",
            "--train_steps",
            "3",
            "--train_batch",
            "2x16",
            "--autocast",
            "float16",
            "--output_dir",
            str(tmp_path),
            "--config_overrides",
            "num_hidden_layers=2,hidden_size=32,num_attention_heads=2,intermediate_size=64",
            "--likelihood_sequences",
            "2",
            "--likelihood_length",
            "120",
        ]
    )
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["rows"]
    assert [row["check"].split(",")[0] for row in rows][:2] == ["kernel float32", "kernel float16"]
    assert all(row["passed"] for row in rows) and len(rows) == 7
    assert rows[-1]["check"].startswith("exact PLL") and rows[-1]["max_token_difference"] < 1e-4


def test_gpu_check_reports_a_crashed_check_and_keeps_the_others(tmp_path, monkeypatch):
    # a lease on a GPU is rare: one check that breaks (a missing package there, a device mix-up) must not lose the rest
    import json

    from dnabert2.benchmarks import gpu_check

    def broken():
        raise RuntimeError("index is on cpu")

    monkeypatch.setattr(gpu_check, "kernel_rows", lambda args: [{"check": "kernel float32", "passed": True}])
    monkeypatch.setattr(gpu_check, "model_rows", lambda args: [{"check": "model", "passed": True}])
    monkeypatch.setattr(gpu_check, "embed_rows", broken)
    monkeypatch.setattr(gpu_check, "likelihood_rows", lambda args: [{"check": "exact PLL", "passed": True}])
    with pytest.raises(SystemExit) as stopped:
        gpu_check.main(["--device", "cpu", "--output_dir", str(tmp_path)])
    assert stopped.value.code == 1
    rows = json.loads((tmp_path / "gpu_check.json").read_text())["rows"]
    assert [row["check"] for row in rows] == ["kernel float32", "model", "embed checks", "exact PLL"]
    assert rows[2] == {"check": "embed checks", "error": "RuntimeError: index is on cpu", "passed": False}
    assert "| embed checks | error RuntimeError: index is on cpu | NO |" in (tmp_path / "gpu_check.md").read_text()
