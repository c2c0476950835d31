"""How busy a command keeps the model, measured in the command's own process.

    python -m dnabert2.benchmarks.measure.forward_share REPORT.json dnabert2.train.embed --input reads.fq.gz ...

Runs the command line's ``main`` with the encoder's forward passes (``DNABert2Model.encode_packed``) timed and their
batches kept, then replays the same batches through the forward pass alone, and measures the matmul peak in the
same process. The share is forward-only time / (wall time - start-up), start-up being everything before the first
forward pass began (process start, imports, model loading, the first chunk read and tokenized): 1.0 would mean that
reading, tokenizing, pooling and writing cost nothing beside the model. Under a launcher each process writes
REPORT.json with its RANK appended.
"""

import importlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from dnabert2.benchmarks.measure.flops import Encoder, forward_flops
from dnabert2.benchmarks.measure.training_step import matmul_peak
from modeling_dnabert2 import DNABert2Model


def process_age() -> float:
    """Seconds since this process started (Linux: /proc/self/stat's start time against /proc/uptime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
    return float(Path("/proc/uptime").read_text().split()[0]) - started


def measure(module: str, argv: list[str]) -> dict:
    """Run ``module.main(argv)`` with its forward passes recorded; the timings and the replay, as a dict."""
    original, calls = DNABert2Model.encode_packed, []

    def recorded(self, *args, **kwargs):
        start = time.perf_counter()
        output = original(self, *args, **kwargs)
        calls.append((start, time.perf_counter() - start, self, args, kwargs))
        return output

    main = importlib.import_module(module).main
    begun = time.perf_counter() - process_age()  # the process's start on the perf_counter clock
    DNABert2Model.encode_packed = recorded
    try:
        main(argv)
    finally:
        DNABert2Model.encode_packed = original
    ended, ended_at = time.perf_counter(), time.time()
    if not calls:
        raise RuntimeError(f"{module} ran no forward pass")
    replay_start = time.perf_counter()
    with torch.no_grad():
        for _, _, model, args, kwargs in calls:
            original(model, *args, **kwargs)
    forward_only = time.perf_counter() - replay_start
    config = calls[0][2].config
    encoder = Encoder("run", config.hidden_size, config.num_hidden_layers, config.intermediate_size, True)
    flops = sum(
        forward_flops(encoder, int(length))
        for _, _, _, args, kwargs in calls
        for length in kwargs.get("attention_mask", args[1] if len(args) > 1 else None).sum(dim=1)
    )
    startup = calls[0][0] - begun
    return {
        "wall_s": ended - begun,
        "ended_at": ended_at,  # the wall clock when the command ended (before the replay)
        "startup_s": startup,
        "forward_in_run_s": sum(seconds for _, seconds, _, _, _ in calls),
        "forward_only_s": forward_only,
        "forward_calls": len(calls),
        "share": forward_only / (ended - begun - startup),
        "forward_gflops": flops / forward_only / 1e9,
        "matmul_peak_gflops": matmul_peak(),
        "threads": torch.get_num_threads(),
    }


def main():
    """REPORT.json MODULE ARGS...: measure MODULE's main on ARGS and write the report."""
    report, module, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    result = measure(module, argv)
    rank = os.environ.get("RANK")
    Path(report if rank is None else f"{report}.{rank}").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
