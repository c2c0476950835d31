"""GPU benchmark of the Triton varlen ALiBi FlashAttention kernel (needs CUDA).

Forward and forward+backward TFLOP/s for L = 128 .. 8192 (batch sized to ~16k tokens, 12 heads, head_dim 64, bf16)
against PyTorch SDPA with a dense (B, H, L, L) ALiBi bias and, when installed, flash-attn's ``alibi_slopes``.

    python benchmarks/kernel.py          # writes benchmarks/results/kernel.{md,json}
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from bert_layers_triton import flash_attn_varlen_alibi, triton_unavailable_reason
from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command
from modeling_dnabert2 import alibi_bias, alibi_slopes


@dataclass
class KernelArguments:
    lengths: str = field(default="128,256,512,1024,2048,4096,8192")
    tokens: int = field(default=16384, metadata={"help": "Tokens per batch (batch = tokens // L)."})
    heads: int = field(default=12)
    head_dim: int = field(default=64)
    dtype: str = field(default="bfloat16")
    output_dir: str = field(default="benchmarks/results")


def attention_flops(batch, heads, length, head_dim, backward=False):
    """4 * B * H * L^2 * D forward (QK^T and PV); forward + backward is 3.5x that (backward: 5 matmuls vs 2)."""
    forward = 4 * batch * heads * length * length * head_dim
    return forward * (3.5 if backward else 1.0)


def bench(fn):
    from triton.testing import do_bench

    return do_bench(fn) / 1e3  # seconds


def main(argv=None):
    (args,) = command_parser(KernelArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(argv)
    if not torch.cuda.is_available() or triton_unavailable_reason():
        raise InputError(
            f"This benchmark needs a CUDA GPU and triton ({triton_unavailable_reason() or 'no CUDA device'})."
        )
    try:
        from flash_attn import flash_attn_varlen_func
    except ImportError:
        flash_attn_varlen_func = None
    dtype = getattr(torch, args.dtype)
    slopes = alibi_slopes(args.heads, "cuda")
    rows = []
    for length in [int(n) for n in args.lengths.split(",")]:
        batch = max(1, args.tokens // length)
        q, k, v = (
            torch.randn(batch * length, args.heads, args.head_dim, device="cuda", dtype=dtype, requires_grad=True)
            for _ in range(3)
        )
        cu = torch.arange(0, (batch + 1) * length, length, device="cuda", dtype=torch.int32)
        positions = torch.arange(length, device="cuda")
        bias = alibi_bias(slopes, positions, positions).to(dtype)[None].expand(batch, -1, -1, -1)
        padded = [t.view(batch, length, args.heads, -1).transpose(1, 2) for t in (q, k, v)]
        candidates = {
            "triton (ours)": lambda: flash_attn_varlen_alibi(q, k, v, cu, length, slopes),
            "SDPA + dense bias": lambda: F.scaled_dot_product_attention(*padded, attn_mask=bias),
        }
        if flash_attn_varlen_func is not None:
            candidates["flash-attn alibi_slopes"] = lambda: flash_attn_varlen_func(
                q, k, v, cu, cu, length, length, alibi_slopes=slopes
            )
        for name, fn in candidates.items():
            try:
                forward = bench(fn)
                grad = torch.randn_like(fn())
                both = bench(lambda: fn().backward(grad))
            except torch.OutOfMemoryError:
                rows.append({"L": length, "batch": batch, "method": name, "error": "out of memory"})
                continue
            rows.append(
                {
                    "L": length,
                    "batch": batch,
                    "method": name,
                    "fwd_tflops": attention_flops(batch, args.heads, length, args.head_dim) / forward / 1e12,
                    "fwd_bwd_tflops": attention_flops(batch, args.heads, length, args.head_dim, True) / both / 1e12,
                }
            )
            print(rows[-1])
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.cuda.get_device_name()
    (out / "kernel.json").write_text(json.dumps({"device": device, "args": vars(args), "rows": rows}, indent=2))
    lines = [
        f"Command: `python benchmarks/kernel.py {' '.join(sys.argv[1:] if argv is None else argv)}` on {device}",
        "",
        "| L | batch | method | fwd TFLOP/s | fwd+bwd TFLOP/s |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['L']} | {r['batch']} | {r['method']} | "
            + (f"{r['fwd_tflops']:.1f} | {r['fwd_bwd_tflops']:.1f} |" if "error" not in r else f"{r['error']} | |")
        )
    write_results_markdown(out / "kernel.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    run_command(main)
