"""An MLM training step's efficiency: the time of its dense matmuls alone over the time of the whole step."""

import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset, DatasetDict
from torch.overrides import TorchFunctionMode
from transformers import DataCollatorForTokenClassification, Trainer

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from dnabert2.benchmarks.measure.flops import Encoder, linear_flops, mlm_head_flops, read_out_linear_flops
from dnabert2.benchmarks.measure.generated import random_dna
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.data.windows import tokenize_windows
from dnabert2.pretraining.arguments import MLMTrainingArguments
from dnabert2.pretraining.masking import MaskedWindows
from modeling_dnabert2 import DNABert2ForMaskedLM


def seconds(fn) -> float:
    """Wall time of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timed(fn, repeats):
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    return statistics.median(seconds(fn) for _ in range(repeats))


def matmul_peak(repeats=5) -> float:
    """GFLOP/s of a 4096 x 768 x 3072 fp32 matmul: the practical ceiling for these models here."""
    a, b = torch.randn(4096, 768), torch.randn(768, 3072)
    return 2 * 4096 * 768 * 3072 / timed(lambda: a @ b, repeats) / 1e9


def mlm_batch(tokenizer, batch_size: int, seq_len: int, seed: int = 0) -> dict:
    """One pretraining batch as run_mlm builds it: windows of ``seq_len`` tokens cut from one long random DNA record,
    15 % of tokens selected (seeded masks), padded by DataCollatorForTokenClassification."""
    record = random_dna(np.random.default_rng(seed), batch_size * seq_len * 8)  # > 4.9 bp per token: enough windows
    windows = tokenize_windows(DatasetDict(train=Dataset.from_dict({"sequence": [record]})), tokenizer, seq_len)[
        "train"
    ]
    masked = MaskedWindows(windows.select(range(batch_size)), tokenizer, 0.15, seed=seed)
    return DataCollatorForTokenClassification(tokenizer)([masked[i] for i in range(batch_size)])


def mlm_model(config_path: str, tokenizer, hidden_dropout_prob: float, seed: int = 0) -> DNABert2ForMaskedLM:
    """A new MLM model from a config file, as run_mlm builds one (vocabulary and padding id from the tokenizer)."""
    torch.manual_seed(seed)
    config = DNABert2Config.from_pretrained(config_path)
    config.hidden_dropout_prob = hidden_dropout_prob
    config.vocab_size, config.pad_token_id = len(tokenizer), tokenizer.pad_token_id
    return DNABert2ForMaskedLM(config).train()


def training_step(model, batch: dict):
    """A function doing one optimizer step as the Trainer of run_mlm does: forward, backward, gradient clipping to
    ``max_grad_norm``, the optimizer of run_mlm's defaults (AdamW, fused), zero_grad."""
    args = MLMTrainingArguments(output_dir=tempfile.gettempdir(), report_to=[], eval_strategy="no")
    optimizer = Trainer(model=model, args=args).create_optimizer()

    def step():
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


class LinearCalls(TorchFunctionMode):
    """Records (tokens, in, out) of every ``F.linear`` call (nn.Linear modules and direct calls on weight slices)."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            inputs, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            self.shapes.append((inputs.numel() // weight.shape[1], weight.shape[1], weight.shape[0]))
        return func(*args, **kwargs)


def linear_shapes(model, step) -> list[tuple[int, int, int]]:
    """(tokens, in, out) of every linear-layer call in one run of ``step``, the MLM decoder included."""
    with LinearCalls() as calls:
        step()
    return calls.shapes


def dense_matmuls(shapes):
    """A function running, for each (tokens, in, out), the three matmuls a linear layer costs in a training step:
    forward x W^T, grad input dY W, grad weight dY^T x (in the layouts autograd uses)."""
    operands = [(torch.randn(n, i), torch.randn(o, i), torch.randn(n, o)) for n, i, o in shapes]

    def run():
        for x, weight, grad_out in operands:
            torch.mm(x, weight.t())
            torch.mm(grad_out, weight)
            torch.mm(grad_out.t(), x)

    return run


def independent_linear_flops(config, batch) -> float:
    """FLOPs of the training step's linear layers counted from the architecture (flops.py), not from the hooks:
    3 x (encoder linear layers + the MLM head). With sparse_prediction the head and the last layer (but its keys and
    values) run at the labelled positions only, else everything at every real token."""
    encoder = Encoder("model", config.hidden_size, config.num_hidden_layers, config.intermediate_size, True)
    tokens = int(batch["attention_mask"].sum())
    if config.sparse_prediction:
        labelled = int((batch["labels"] != -100).sum())
        encoder_flops = read_out_linear_flops(encoder, tokens, labelled)
    else:
        labelled, encoder_flops = tokens, linear_flops(encoder, tokens)
    return 3 * (encoder_flops + mlm_head_flops(config.hidden_size, config.vocab_size, labelled))


def step_efficiency(model, batch, repeats: int) -> dict:
    """Step time against its dense matmuls alone, interleaved in this process (medians of ``repeats`` pairs)."""
    step = training_step(model, batch)
    shapes = linear_shapes(model, step)
    matmuls = dense_matmuls(shapes)
    step()
    matmuls()
    step_times, matmul_times = zip(*((seconds(step), seconds(matmuls)) for _ in range(repeats)))
    step_s, matmul_s = statistics.median(step_times), statistics.median(matmul_times)
    flops = sum(6 * n * i * o for n, i, o in shapes)
    tokens = int(batch["attention_mask"].sum())
    return {
        "step_ms": 1e3 * step_s,
        "matmul_ms": 1e3 * matmul_s,
        "efficiency": matmul_s / step_s,
        "tokens_per_s": tokens / step_s,
        "matmul_gflops": flops / matmul_s / 1e9,
        "linear_calls": len(shapes),
        "linear_flops": flops,
        "independent_linear_flops": independent_linear_flops(model.config, batch),
        "labelled_positions": int((batch["labels"] != -100).sum()),
        "tokens": tokens,
        "step_ms_runs": [1e3 * t for t in step_times],
        "matmul_ms_runs": [1e3 * t for t in matmul_times],
    }


def training_step_rows(workloads, repeats: int, dropouts=(0.1, 0.0)) -> list[dict]:
    """``step_efficiency`` of every (name, config file, batch size) workload at each hidden dropout (128 tokens)."""
    tokenizer = load_tokenizer(packaged("model"))
    rows = []
    for name, config_path, batch_size in workloads:
        batch = mlm_batch(tokenizer, batch_size, 128)
        for dropout in dropouts:
            model = mlm_model(config_path, tokenizer, dropout)
            rows.append(
                {
                    "workload": name,
                    "batch": f"{batch_size} x 128",
                    "hidden_dropout_prob": dropout,
                    **step_efficiency(model, batch, repeats),
                }
            )
    return rows


def training_step_lines(results) -> list[str]:
    """The markdown report of the training-step measurement: one table row per OpenMP wait policy and workload."""
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"{results['threads']} threads, torch {results['torch']}. Efficiency = time of the step's dense matmuls "
        f"alone / time of the whole step, medians of {results['repeats']} interleaved pairs in one process. Step: "
        "forward, backward, gradient clipping, AdamW as run_mlm configures it, zero_grad. Matmuls: for every "
        "nn.Linear call of the step (hooked), x W^T, dY W and dY^T x at its shape. The MLM decoder runs where the "
        "model computes it, only at the labelled positions (sparse_prediction), so the reference shrinks with the "
        "head's work; attention's own matmuls (inside SDPA) are not in the reference. Each OpenMP wait policy "
        "runs in a fresh process, with the fp32 matmul peak (4096x768x3072) and the load average measured in it.",
        "",
        "| OMP_WAIT_POLICY | model | batch | hidden dropout | step (ms) | matmuls alone (ms) | efficiency | "
        "tokens/s | matmul GFLOP/s | linear FLOPs (hooks / architecture) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        for row in run["rows"]:
            lines.append(
                f"| {run['omp_wait_policy']} | {row['workload']} | {row['batch']} | {row['hidden_dropout_prob']} "
                f"| {row['step_ms']:.0f} | {row['matmul_ms']:.0f} | **{row['efficiency']:.2f}** | "
                f"{row['tokens_per_s']:.0f} | {row['matmul_gflops']:.0f} | {row['linear_flops'] / 1e9:.1f} / "
                f"{row['independent_linear_flops'] / 1e9:.1f} GFLOP |"
            )
    lines.append("")
    lines += [
        f"- {run['omp_wait_policy']}: matmul peak {run['matmul_peak_gflops']:.0f} GFLOP/s before the steps, "
        f"{run['matmul_peak_gflops_after']:.0f} after; load average (1, 5, 15 min) {run['load_before']} before, "
        f"{run['load_after']} after."
        for run in results["runs"]
    ]
    return lines
