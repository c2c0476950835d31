"""The GPU paths verified in one run on the first CUDA GPU this project is lent: the Triton kernel against a plain
fp32 attention at real shapes (fp16, bf16, fp32; forward and gradients), the model with attn_implementation="triton"
against SDPA, MLM training steps (bf16 autocast, both attentions), dnabert2-embed on CUDA against the CPU, and the
exact pseudo-log-likelihood of dnabert2-score against one masked position per forward pass (times and agreement).

    bash benchmarks/gpu_check.sh      # this check, then the kernel speed table; under 8 minutes on one GPU

Writes benchmarks/results/gpu_check.{md,json}; exits 1 if any check fails (the table says which).
"""

import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command
from modeling_dnabert2 import DNABert2ForMaskedLM, DNABert2Model, alibi_bias, alibi_slopes

# Largest elementwise error against the fp32 reference that each input precision may show (attention outputs
# are O(1)): 1e-4 for IEEE fp32, a few ulps of each half format accumulated over head_dim.
TOLERANCE = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 6e-2}


@dataclass
class GpuCheckArguments:
    lengths: str = field(default="37,128,513,1000,2048", metadata={"help": "Sequence lengths of the packed batch."})
    heads: int = field(default=12)
    head_dim: int = field(default=64)
    train_steps: int = field(default=20, metadata={"help": "MLM steps timed per attention implementation."})
    dtypes: str = field(default="float32,float16,bfloat16", metadata={"help": "Kernel input precisions checked."})
    autocast: str = field(default="bfloat16", metadata={"help": "Autocast precision of the model checks."})
    train_batch: str = field(default="16x128", metadata={"help": "Sequences x tokens of the timed MLM steps."})
    config_overrides: str = field(default="", metadata={"help": "e.g. 'num_hidden_layers=2' (smoke tests)."})
    likelihood_sequences: int = field(default=7, metadata={"help": "Sequences of the PLL check (at most 7)."})
    likelihood_length: int = field(default=1000, metadata={"help": "bp per sequence of the PLL check."})
    device: str = field(
        default="cuda", metadata={"help": "'cpu' runs the same checks under TRITON_INTERPRET=1 (tests)."}
    )
    output_dir: str = field(default="benchmarks/results")


def reference_attention(q, k, v, lengths, slopes):
    """Per-sequence fp32 attention with an explicit ALiBi bias: the reference the kernel must match."""
    out, start = [], 0
    for length in lengths:
        qs, ks, vs = (t[start : start + length].float().transpose(0, 1) for t in (q, k, v))
        positions = torch.arange(length, device=q.device)
        scores = qs @ ks.transpose(1, 2) / math.sqrt(q.shape[-1]) + alibi_bias(slopes, positions, positions)
        out.append((scores.softmax(-1) @ vs).transpose(0, 1))
        start += length
    return torch.cat(out)


def kernel_rows(args) -> list[dict]:
    """Forward and gradient errors of the Triton kernel against ``reference_attention`` per dtype."""
    from bert_layers_triton import flash_attn_varlen_alibi

    lengths = [int(n) for n in args.lengths.split(",")]
    cu = torch.tensor([0, *np.cumsum(lengths)], device=args.device, dtype=torch.int32)
    slopes = alibi_slopes(args.heads, args.device)
    rows = []
    for dtype in args.dtypes.split(","):
        torch.manual_seed(0)
        q, k, v = (
            torch.randn(
                sum(lengths),
                args.heads,
                args.head_dim,
                device=args.device,
                dtype=getattr(torch, dtype),
                requires_grad=True,
            )
            for _ in range(3)
        )
        grad = torch.randn_like(q)
        out = flash_attn_varlen_alibi(q, k, v, cu, max(lengths), slopes)
        ours = torch.autograd.grad(out, (q, k, v), grad)
        reference_inputs = [t.detach().float().requires_grad_() for t in (q, k, v)]
        expected = reference_attention(*reference_inputs, lengths, slopes)
        theirs = torch.autograd.grad(expected, reference_inputs, grad.float())
        errors = {"output": (out.float() - expected).abs().max().item()}
        errors.update(
            {
                f"d{name}": ((a.float() - b).abs().max() / b.abs().max()).item()
                for name, a, b in zip("qkv", ours, theirs)
            }
        )
        worst = max(errors.values())
        rows.append(
            {
                "check": f"kernel {dtype}",
                "lengths": lengths,
                **errors,
                "tolerance": TOLERANCE[dtype],
                "passed": worst <= TOLERANCE[dtype],
            }
        )
    return rows


def model_rows(args) -> list[dict]:
    """The 117M architecture (random weights) on the device: triton vs SDPA logits, and MLM training steps."""
    rows, device = [], args.device
    config = DNABert2Config(attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0)
    if args.config_overrides:
        config.update_from_string(args.config_overrides)
    torch.manual_seed(0)
    model = DNABert2ForMaskedLM(config).to(device).eval()
    lengths = [int(n) for n in args.lengths.split(",")]
    ids = torch.randint(5, config.vocab_size, (len(lengths), max(lengths)), device=device)
    mask = (torch.arange(max(lengths), device=device)[None] < torch.tensor(lengths, device=device)[:, None]).long()
    logits = {}
    for name in ("sdpa", "triton"):
        model.config._attn_implementation = name
        with torch.no_grad(), torch.autocast(device, dtype=getattr(torch, args.autocast)):
            logits[name] = model(input_ids=ids, attention_mask=mask).logits.float()[mask.bool()]
    difference = (logits["triton"] - logits["sdpa"]).abs().max().item()
    rows.append(
        {
            "check": f"model logits, triton vs sdpa ({args.autocast} autocast)",
            "max_abs_difference": difference,
            "tolerance": 0.1,
            "passed": difference <= 0.1,
        }
    )
    sequences, tokens = (int(n) for n in args.train_batch.split("x"))
    batch = torch.randint(5, config.vocab_size, (sequences, tokens), device=device)
    labels = torch.where(torch.rand(batch.shape, device=device) < 0.15, batch, -100)
    for name in ("sdpa", "triton"):
        torch.manual_seed(0)
        model = DNABert2ForMaskedLM(config).to(device).train()
        model.config._attn_implementation = name
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        losses = []
        synchronize(device)
        start = time.perf_counter()
        for _ in range(args.train_steps):
            with torch.autocast(device, dtype=getattr(torch, args.autocast)):
                loss = model(input_ids=batch, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
        synchronize(device)
        seconds = (time.perf_counter() - start) / args.train_steps
        finite = all(math.isfinite(x) for x in losses)
        rows.append(
            {
                "check": f"MLM training, {name} ({sequences} x {tokens}, {args.autocast} autocast, AdamW)",
                "first_loss": losses[0],
                "last_loss": losses[-1],
                "step_ms": 1000 * seconds,
                "tokens_per_s": sequences * tokens / seconds,
                "passed": finite and losses[-1] < losses[0],
            }
        )
    return rows


def synchronize(device: str):
    """Wait for the device's queued work (timings on a GPU)."""
    if device == "cuda":
        torch.cuda.synchronize()


def embed_rows() -> list[dict]:
    """dnabert2-embed with the shipped model (on CUDA when there is one) against DNABert2Model.embed() on the CPU."""
    import pyarrow.parquet as pq

    from dnabert2.train.embed import main as embed

    fasta = Path(__file__).resolve().parent / "data" / "multispecies_mini.fa"  # package data
    with tempfile.TemporaryDirectory() as work:
        start = time.perf_counter()
        embed(["--input", str(fasta), "--output_dir", work, "--window", "1000"])
        seconds = time.perf_counter() - start
        table = pq.read_table(sorted(Path(work).glob("*.parquet"))).to_pylist()
    from dnabert2.data.fasta import read_fasta

    sequences = {r.name: r.sequence for r in read_fasta(fasta)}
    tokenizer, encoder = load_tokenizer(packaged("model")), DNABert2Model.from_pretrained(packaged("model")).eval()
    sample = table[:: max(1, len(table) // 20)]
    with torch.no_grad():
        expected = [
            encoder.embed(**tokenizer([sequences[r["name"]][r["start"] : r["end"]]], return_tensors="pt"))[0]
            for r in sample
        ]
    difference = max(float(np.abs(np.array(r["embedding"]) - e.numpy()).max()) for r, e in zip(sample, expected))
    return [
        {
            "check": "dnabert2-embed (on CUDA when there is one) vs embed() on CPU (1-kb windows)",
            "windows": len(table),
            "seconds": seconds,
            "max_abs_difference": difference,
            "tolerance": 1e-3,
            "passed": difference <= 1e-3,
        }
    ]


def likelihood_rows(args) -> list[dict]:
    """The exact pseudo-log-likelihood as dnabert2-score computes it (masked copies batched, read out at the masked
    position) against the published benchmark's method (one masked position per forward pass, full logits): the
    shipped model on the device, the first ``likelihood_length`` bp of each record of the package's FASTA. On a GPU
    a lone sequence leaves the device mostly idle, so batching the copies should gain far more than on CPU."""
    from dnabert2.benchmarks.likelihood import one_position_per_forward
    from dnabert2.data.fasta import read_fasta
    from dnabert2.inference.likelihood import load_scorer, token_log_likelihoods

    fasta = Path(__file__).resolve().parent / "data" / "multispecies_mini.fa"  # package data
    sequences = [r.sequence[: args.likelihood_length] for r in read_fasta(fasta)][: args.likelihood_sequences]
    model, tokenizer = load_scorer(packaged("model"), args.device)
    token_log_likelihoods(model, tokenizer, sequences[:1])  # warm-up
    synchronize(args.device)
    start = time.perf_counter()
    published = [one_position_per_forward(model, tokenizer, sequence) for sequence in sequences]
    synchronize(args.device)
    published_s = time.perf_counter() - start
    exact = token_log_likelihoods(model, tokenizer, sequences)
    synchronize(args.device)
    exact_s = time.perf_counter() - start - published_s
    difference = max(float(np.abs(score.log_probs - values).max()) for score, values in zip(exact, published))
    return [
        {
            "check": f"exact PLL (dnabert2-score) vs one position per forward, full logits (shipped model, "
            f"{args.likelihood_length} bp)",
            "sequences": len(sequences),
            "published_s_per_sequence": published_s / len(sequences),
            "exact_s_per_sequence": exact_s / len(sequences),
            "speedup": published_s / exact_s,
            "max_token_difference": difference,
            "tolerance": 1e-3,
            "passed": difference <= 1e-3,
        }
    ]


def main(argv=None):
    """Run every check on CUDA, write the report, exit 1 if one failed."""
    parser = command_parser(
        GpuCheckArguments, usage="python benchmarks/gpu_check.py [options]", description=__doc__.split("\n\n")[0]
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError("The GPU check needs a CUDA GPU; none is visible.")
    rows = []
    checks = {
        "kernel": lambda: kernel_rows(args),
        "model": lambda: model_rows(args),
        "embed": embed_rows,
        "likelihood": lambda: likelihood_rows(args),
    }
    for name, check in checks.items():
        try:
            rows += check()
        except Exception as error:  # one broken check must not hide the others' results on a rare GPU lease
            rows.append({"check": f"{name} checks", "error": f"{type(error).__name__}: {error}", "passed": False})
    device = torch.cuda.get_device_name() if args.device == "cuda" else "CPU (Triton interpreter)"
    lines = [
        f"GPU check on {device}, torch {torch.__version__}: `python benchmarks/gpu_check.py`",
        "",
        "| check | result | passed |",
        "|---|---|---|",
    ]
    for row in rows:
        details = ", ".join(
            f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in row.items()
            if k not in ("check", "passed")
        )
        lines.append(f"| {row['check']} | {details} | {'yes' if row['passed'] else 'NO'} |")
    write_report(args.output_dir, "gpu_check", lines, {"device": device, "rows": rows})
    if not all(row["passed"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    run_command(main)
