"""Speed and memory of the 117M architecture on this machine: ours vs the original design vs HF BERT.

Random weights, fp32, 2 threads; the three models run side by side in one process, interleaved. Workloads:
inference on uneven GUE-like batches (32 sequences of 20-128 tokens), fixed 128 tokens, long uneven batches
(4 sequences of 1024-2048 tokens), MLM training steps (forward + backward, 16 x 128, 15 % masked), peak memory for
one long sequence (subprocess per length), and the opt-in fast CPU inference paths (length grouping, dynamic int8,
torch.compile). Model FLOP utilisation is measured against a large fp32 matmul in the same run.

    python benchmarks/speed.py            # ~18 min on 2 cores; writes benchmarks/results/speed.{md,json,png}
    python benchmarks/speed.py --only_training_step True   # the MLM step's efficiency: speed_training_step.{md,json}
"""

import importlib.resources
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import BertConfig, BertForMaskedLM

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.benchmarks.measure.flops import Encoder, forward_flops, mlm_head_flops
from dnabert2.benchmarks.measure.original_design import dense_alibi, original_design_forward, original_design_mlm_loss
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.benchmarks.measure.training_step import matmul_peak, timed, training_step_lines, training_step_rows
from dnabert2.inference.loading import quantize_int8
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from modeling_dnabert2 import DNABert2ForMaskedLM

VOCAB = 4096
# (name, config file, windows per batch) of the training-step efficiency measurement
TRAINING_STEP_WORKLOADS = [
    ("shipped config (config.json)", str(packaged("model") / "config.json"), 32),
    ("117M architecture", str(importlib.resources.files("dnabert2.train") / "configs" / "dnabert2-117m.json"), 16),
]


@dataclass
class SpeedArguments:
    output_dir: str = field(default="benchmarks/results")
    threads: int = field(default=2)
    repeats: int = field(default=3)
    memory_lengths: str = field(default="1024,2048,4096,8192,16384")
    memory_long: int = field(default=32768, metadata={"help": "Also measured, with --memory_long_layers layers."})
    memory_long_layers: int = field(default=2)
    skip_compile: bool = field(default=False)
    seed: int = field(default=0)
    config_overrides: str = field(
        default="", metadata={"help": "e.g. 'hidden_size=64,num_hidden_layers=2' (smoke tests)."}
    )
    only_memory: bool = field(default=False, metadata={"help": "Re-measure memory only, keep the other results."})
    only_training_step: bool = field(
        default=False,
        metadata={
            "help": "Only the MLM training step's efficiency (its dense matmuls alone / the step) for the shipped "
            "config (32 x 128) and the 117M architecture (16 x 128): speed_training_step.{md,json}."
        },
    )
    training_step_repeats: int = field(default=5)
    omp_wait_policies: str = field(
        default="default,PASSIVE",
        metadata={
            "help": "The training step is measured once per OMP_WAIT_POLICY, each in a fresh process ('default': "
            "unset)."
        },
    )


def int8_matmul_speedup(repeats=5) -> dict:
    """GFLOP/s of a 2400 x 768 x 3072 linear layer in fp32 and as a dynamic int8 one (int8's gain on matmuls)."""
    layer, x = torch.nn.Linear(768, 3072), torch.randn(2400, 768)
    quantized = quantize_int8(torch.nn.Sequential(layer))
    flops = 2 * 2400 * 768 * 3072
    with torch.inference_mode():
        fp32, int8 = (flops / timed(lambda m=m: m(x), repeats) / 1e9 for m in (layer, quantized))
    return {"fp32_gflops": fp32, "int8_gflops": int8, "speedup": int8 / fp32}


def make_batch(lengths, generator):
    ids = torch.full((len(lengths), max(lengths)), 3, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(5, VOCAB, (length,), generator=generator)
        ids[row, 0], ids[row, length - 1] = 1, 2
        mask[row, :length] = 1
    return ids, mask


def build_models(seed, overrides=""):
    """Ours (117M architecture unless overridden) and an HF BERT of the same shape, random weights, eval mode."""
    torch.manual_seed(seed)
    config = DNABert2Config(attn_implementation="sdpa", hidden_dropout_prob=0.0)
    if overrides:
        config.update_from_string(overrides)
    ours = DNABert2ForMaskedLM(config).eval()
    hf_config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=4096,
        hidden_dropout_prob=0.0,
        attn_implementation="sdpa",
    )
    hf_mlm = BertForMaskedLM(hf_config).eval()
    return ours, hf_mlm


def architectures(config):
    """FLOPs facts of ours (gated MLP) and of HF BERT (plain MLP) at the benchmarked shape."""
    shape = (config.hidden_size, config.num_hidden_layers, config.intermediate_size)
    return Encoder("ours", *shape, True), Encoder("bert", *shape, False)


def inference_rows(name, lengths, ours, hf_mlm, repeats, peak, generator):
    """tokens/s and MFU of the three encoders (no head) on one batch."""
    ids, mask = make_batch(lengths, generator)
    real_tokens = sum(lengths)
    alibi = dense_alibi(ours.config.num_attention_heads, ids.shape[1])
    gated, plain = architectures(ours.config)
    runs = {
        "ours": (lambda: ours.bert(ids, mask), gated),
        "original design": (lambda: original_design_forward(ours.bert, ids, mask, alibi=alibi), gated),
        "fully padded": (lambda: original_design_forward(ours.bert, ids, mask, unpad=False, alibi=alibi), gated),
        "HF BertModel (sdpa)": (lambda: hf_mlm.bert(ids, attention_mask=mask), plain),
    }
    rows = []
    with torch.inference_mode():
        for model, (fn, arch) in runs.items():
            seconds = timed(fn, repeats)
            useful = sum(forward_flops(arch, length) for length in lengths)
            rows.append(
                {
                    "workload": name,
                    "model": model,
                    "seconds": seconds,
                    "tokens_per_s": real_tokens / seconds,
                    "gflops": useful / seconds / 1e9,
                    "mfu": useful / seconds / 1e9 / peak,
                }
            )
    return rows


def training_rows(ours, hf_mlm, repeats, peak, generator):
    """MLM training steps (forward + backward) at 16 x 128 with 15 % of tokens masked."""
    ids, mask = make_batch([128] * 16, generator)
    labels = torch.full_like(ids, -100)
    chosen = torch.rand(ids.shape, generator=generator) < 0.15
    labels[chosen] = ids[chosen]
    masked = int(chosen.sum())

    def step(loss_fn, model):
        model.zero_grad(set_to_none=True)
        loss_fn().backward()

    gated, plain = architectures(ours.config)
    runs = {
        "ours": (lambda: ours(ids, mask, labels=labels).loss, ours, gated, masked),
        "original design": (lambda: original_design_mlm_loss(ours, ids, mask, labels), ours, gated, masked),
        "HF BertForMaskedLM (sdpa)": (
            lambda: hf_mlm(ids, attention_mask=mask, labels=labels).loss,
            hf_mlm,
            plain,
            ids.numel(),
        ),
    }
    rows = []
    for name, (loss_fn, model, arch, head_tokens) in runs.items():
        model.train()
        seconds = timed(lambda: step(loss_fn, model), repeats)
        model.eval()
        useful = 3 * (16 * forward_flops(arch, 128) + mlm_head_flops(arch.hidden, VOCAB, head_tokens))
        rows.append(
            {
                "workload": "MLM training 16 x 128",
                "model": name,
                "seconds": seconds,
                "tokens_per_s": ids.numel() / seconds,
                "gflops": useful / seconds / 1e9,
                "mfu": useful / seconds / 1e9 / peak,
            }
        )
    return rows


MEMORY_PROBE = """
import sys, time, torch
from configuration_dnabert2 import DNABert2Config
from modeling_dnabert2 import DNABert2Model
torch.set_num_threads({threads})
config = DNABert2Config()
config.update_from_string({overrides!r} or "num_hidden_layers=12")
config.num_hidden_layers = {layers}
model = DNABert2Model(config, add_pooling_layer=False).eval()
ids = torch.randint(5, 4096, (1, {length}))
start = time.perf_counter()
with torch.inference_mode():
    model(ids)
seconds = time.perf_counter() - start
# VmHWM: this process's own peak (ru_maxrss would include the parent's size at fork time)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(seconds, peak_kb / 1024)
"""


def memory_row(length, layers, threads, overrides=""):
    """Peak RSS (MB) of a fresh process running one forward on one sequence of ``length`` tokens."""
    code = MEMORY_PROBE.format(threads=threads, layers=layers, length=length, overrides=overrides)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, peak_mb = map(float, result.stdout.split())
    return {"length": length, "layers": layers, "seconds": seconds, "peak_rss_mb": peak_mb}


def fast_inference_rows(ours, repeats, generator):
    """Opt-in CPU inference paths on 64 sequences of 20-128 tokens: length grouping and dynamic int8."""
    lengths = torch.randint(20, 129, (64,), generator=generator).tolist()
    ids, mask = make_batch(lengths, generator)

    def batches(grouped):
        ranked = sorted(range(64), key=lambda i: -lengths[i]) if grouped else list(range(64))  # longest first
        order = [ranked[i : i + 16] for i in range(0, 64, 16)]
        return [
            (index, ids[index, : max(lengths[i] for i in index)], mask[index, : max(lengths[i] for i in index)])
            for index in order
        ]

    def run(model, batch_list):
        """MLM logits of every sequence's real tokens, by sequence index."""
        out = {}
        for index, batch_ids, batch_mask in batch_list:
            logits = model(batch_ids, batch_mask).logits
            out.update({i: logits[row, : lengths[i]] for row, i in enumerate(index)})
        return out

    variants = {"fp32, batches in input order": (ours, False), "fp32, length-grouped batches": (ours, True)}
    variants["int8 dynamic linear layers, length-grouped"] = (quantize_int8(ours), True)
    rows = []
    with torch.inference_mode():
        reference = run(ours, batches(False))
        for name, (model, grouped) in variants.items():
            batch_list = batches(grouped)
            seconds = timed(lambda: run(model, batch_list), repeats)
            logits = run(model, batch_list)
            diff = max(float((logits[i] - reference[i]).abs().max()) for i in reference)
            rows.append(
                {
                    "variant": name,
                    "seconds": seconds,
                    "tokens_per_s": sum(lengths) / seconds,
                    "max_abs_logit_diff": diff,
                }
            )
    return rows


def compile_row(ours, repeats, generator):
    """torch.compile with static shapes against eager on one batch of 16 x 20-128 tokens (MLM logits).

    Static because each new shape recompiles and ``dynamic=True`` fails in inductor here; errors are reported.
    """
    lengths = torch.randint(20, 129, (16,), generator=generator).tolist()
    ids, mask = make_batch(lengths, generator)
    name = "torch.compile (static shapes), one 16 x 20-128 batch"
    with torch.inference_mode():
        try:
            compiled = torch.compile(ours, dynamic=False)
            start = time.perf_counter()
            logits = compiled(ids, mask).logits
            compile_seconds = time.perf_counter() - start
            seconds = timed(lambda: compiled(ids, mask), repeats)
        except Exception as error:  # reported, not hidden (e.g. no working C++ compiler on the machine)
            return {"variant": name, "error": f"{type(error).__name__}: {str(error)[:200]}"}
        eager_seconds = timed(lambda: ours(ids, mask), repeats)
        diff = float((logits - ours(ids, mask).logits).abs().max())
    return {
        "variant": name,
        "seconds": seconds,
        "tokens_per_s": sum(lengths) / seconds,
        "max_abs_logit_diff": diff,
        "eager_tokens_per_s": sum(lengths) / eager_seconds,
        "compile_seconds": compile_seconds,
    }


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(r["workload"] for r in results["throughput"]))
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    models = list(dict.fromkeys(r["model"] for r in results["throughput"]))
    width = 0.8 / len(models)
    for k, model in enumerate(models):
        values = [
            next((r["mfu"] * 100 for r in results["throughput"] if r["workload"] == w and r["model"] == model), 0)
            for w in workloads
        ]
        axes[0].bar([i + k * width for i in range(len(workloads))], values, width=width, label=model)
    axes[0].set_xticks([i + 0.4 - width / 2 for i in range(len(workloads))], workloads, rotation=15, fontsize=8)
    axes[0].set_ylabel("model FLOP utilisation (% of matmul peak)")
    axes[0].legend(fontsize=7)
    memory = results["memory"]
    axes[1].plot([m["length"] for m in memory], [m["peak_rss_mb"] / 1024 for m in memory], "o-")
    for m in memory:
        axes[1].annotate(f"{m['layers']} layers", (m["length"], m["peak_rss_mb"] / 1024), fontsize=7)
    axes[1].set_xscale("log", base=2)
    axes[1].set_xlabel("tokens in one sequence")
    axes[1].set_ylabel("peak RSS (GB), ours")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(results) -> str:
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"Measured fp32 matmul peak (4096x768x3072): {results['matmul_peak_gflops']:.1f} GFLOP/s, "
        f"{results['threads']} threads, torch {results['torch']}.",
        "",
        "| workload | model | tokens/s | GFLOP/s | MFU | vs original design |",
        "|---|---|---|---|---|---|",
    ]
    for row in results["throughput"]:
        base = next(
            r for r in results["throughput"] if r["workload"] == row["workload"] and r["model"] == "original design"
        )
        lines.append(
            f"| {row['workload']} | {row['model']} | {row['tokens_per_s']:.0f} | {row['gflops']:.0f} | "
            f"{row['mfu']:.0%} | "
            f"{row['tokens_per_s'] / base['tokens_per_s']:.2f}x |"
        )
    lines += ["", f"Memory re-measured by `{results['memory_command']}`." if "memory_command" in results else ""]
    lines += ["| one sequence (tokens) | layers | forward (s) | peak RSS (MB) |", "|---|---|---|---|"]
    lines += [
        f"| {m['length']} | {m['layers']} | {m['seconds']:.1f} | {m['peak_rss_mb']:.0f} |" for m in results["memory"]
    ]
    int8 = results["int8_linear"]
    lines += [
        "",
        f"One 2400 x 768 x 3072 linear layer: fp32 {int8['fp32_gflops']:.0f} GFLOP/s, "
        f"dynamic int8 {int8['int8_gflops']:.0f} "
        f"GFLOP/s ({int8['speedup']:.2f}x): what int8 gains on the model's matmuls here.",
    ]
    lines += [
        "",
        "| fast CPU inference (64 x 20-128 tokens, MLM logits) | tokens/s | max abs logit diff vs fp32 |",
        "|---|---|---|",
    ]
    for row in results["fast_inference"]:
        if "error" in row:
            lines.append(f"| {row['variant']} | failed: {row['error']} | |")
        elif "eager_tokens_per_s" in row:
            lines.append(
                f"| {row['variant']} | {row['tokens_per_s']:.0f} (eager on the same batch: "
                f"{row['eager_tokens_per_s']:.0f}; first call {row['compile_seconds']:.0f} s) "
                f"| {row['max_abs_logit_diff']:.3g} |"
            )
        else:
            lines.append(f"| {row['variant']} | {row['tokens_per_s']:.0f} | {row['max_abs_logit_diff']:.3g} |")
    return "\n".join(lines) + "\n"


def throughput_results(args, generator) -> dict:
    """Matmul peak, the three models on every workload, and the fast-inference variants."""
    steps = tqdm(total=6, desc="speed benchmark")
    results = {"matmul_peak_gflops": matmul_peak(), "int8_linear": int8_matmul_speedup()}
    peak = results["matmul_peak_gflops"]
    ours, hf_mlm = build_models(args.seed, args.config_overrides)
    steps.update()
    uneven = torch.randint(20, 129, (32,), generator=generator).tolist()
    throughput = inference_rows("inference, 32 x 20-128 tokens", uneven, ours, hf_mlm, args.repeats, peak, generator)
    steps.update()
    throughput += inference_rows("inference, 32 x 128 tokens", [128] * 32, ours, hf_mlm, args.repeats, peak, generator)
    steps.update()
    long = torch.randint(1024, 2049, (4,), generator=generator).tolist()
    throughput += inference_rows(
        "inference, 4 x 1024-2048 tokens", long, ours, hf_mlm, max(1, args.repeats - 2), peak, generator
    )
    steps.update()
    throughput += training_rows(ours, hf_mlm, args.repeats, peak, generator)
    results["throughput"] = throughput
    steps.update()
    results["fast_inference"] = fast_inference_rows(ours, args.repeats, generator)
    if not args.skip_compile:
        results["fast_inference"].append(compile_row(ours, args.repeats, generator))
    steps.update()
    steps.close()
    return results


TRAINING_STEP_PROBE = """
import json, torch
torch.set_num_threads({threads})
from dnabert2.benchmarks.speed import training_step_measurement
print(json.dumps(training_step_measurement({repeats})))
"""


def training_step_measurement(repeats: int) -> dict:
    """The training step's efficiency for both architectures, with the matmul peak and the load before and after."""
    measured = {"load_before": _load(), "matmul_peak_gflops": matmul_peak()}
    measured["rows"] = training_step_rows(TRAINING_STEP_WORKLOADS, repeats)
    return {**measured, "load_after": _load(), "matmul_peak_gflops_after": matmul_peak()}


def training_step_results(args, results) -> dict:
    """``training_step_measurement`` in a fresh process per OpenMP wait policy (libgomp reads it when it loads)."""
    runs = []
    for policy in args.omp_wait_policies.split(","):
        env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
        env.update({} if policy == "default" else {"OMP_WAIT_POLICY": policy})
        code = TRAINING_STEP_PROBE.format(threads=args.threads, repeats=args.training_step_repeats)
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        runs.append({"omp_wait_policy": policy, **json.loads(child.stdout.splitlines()[-1])})
    return {**results, "repeats": args.training_step_repeats, "runs": runs}


def _load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def main(argv=None):
    (args,) = command_parser(SpeedArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(argv)
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    results = {
        "command": " ".join(["python benchmarks/speed.py", *(sys.argv[1:] if argv is None else argv)]),
        "threads": args.threads,
        "torch": torch.__version__,
    }
    if args.only_training_step:
        results = training_step_results(args, results)
        write_report(args.output_dir, "speed_training_step", training_step_lines(results), results)
        return
    out = Path(args.output_dir)
    if args.only_memory:
        results = {**json.loads((out / "speed.json").read_text()), "memory_command": results["command"]}
    else:
        results.update(throughput_results(args, generator))
    lengths = [(int(n), 12) for n in args.memory_lengths.split(",")] + [(args.memory_long, args.memory_long_layers)]
    results["memory"] = [
        memory_row(n, layers, args.threads, args.config_overrides) for n, layers in tqdm(lengths, desc="memory")
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "speed.json").write_text(json.dumps(results, indent=2))
    write_results_markdown(out / "speed.md", markdown(results))
    plot(results, out / "speed.png")
    print(markdown(results))


if __name__ == "__main__":
    run_command(main)
