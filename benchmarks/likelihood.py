"""Pseudo-log-likelihood speed and agreement: the exact PLL as dnabert2-score computes it (masked copies batched by a
token budget, the last layer and the MLM head run only at the masked position) against the published benchmark's
method (one masked position per forward pass, full logits), with --mask_stride beside, on 1-kb windows of a genome
held out of pretraining, for the shipped model and the 117M architecture (random weights: timing only), FLOPs beside
the times.

    nice -n 10 python benchmarks/likelihood.py      # about 10 minutes on 2 CPU cores

Checks before anything is reported: the exact PLL's per-token log-probabilities equal the one-position-per-forward
loop's, and the linear FLOPs counted from the architecture equal those of the F.linear calls the runs make.
Writes benchmarks/results/likelihood.{md,json}.
"""

import os
import random
import shlex
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from configuration_dnabert2 import DNABert2Config
from dnabert2 import packaged
from dnabert2.benchmarks.measure.flops import (
    Encoder,
    forward_flops,
    linear_flops,
    mlm_head_flops,
    read_out_forward_flops,
    read_out_linear_flops,
)
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.benchmarks.measure.training_step import LinearCalls
from dnabert2.data.alphabet import is_acgt
from dnabert2.data.fasta import read_fasta
from dnabert2.inference.likelihood import load_scorer, mask_groups, token_log_likelihoods
from dnabert2.pretraining.arguments import HELD_OUT_SPECIES
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command
from modeling_dnabert2 import DNABert2ForMaskedLM

GENOMES = "../shared/data/genomes"
HELD_OUT_FILES = [f"{name}.fa.gz" for name in HELD_OUT_SPECIES]


@dataclass
class LikelihoodArguments:
    genome: str = field(
        default=f"{GENOMES}/plant_Arabidopsis_arenosa_chr1_chr2.fa.gz",
        metadata={"help": "FASTA of a genome held out of pretraining (the validation species)."},
    )
    length: int = field(default=1000, metadata={"help": "bp per sequence."})
    timed_sequences: int = field(default=2, metadata={"help": "Sequences timed by every method (shipped model)."})
    agreement_sequences: int = field(default=12, metadata={"help": "Sequences for exact vs --mask_stride agreement."})
    large_sequences: int = field(default=1, metadata={"help": "Sequences timed with the 117M architecture."})
    large_config: str = field(default="train/configs/dnabert2-117m.json")
    strides: str = field(default="2,4,8", metadata={"help": "--mask_stride values beside the exact PLL."})
    max_tokens_per_batch: int = field(default=16384)
    seed: int = field(default=0)
    output_dir: str = field(default="benchmarks/results")


def sample_windows(path, length: int, count: int, seed: int) -> list[str]:
    """``count`` windows of ``length`` bp at random non-overlapping places of the genome, A/C/G/T only."""
    records = [r.sequence for r in read_fasta(path)]
    slots = [(r, start) for r, sequence in enumerate(records) for start in range(0, len(sequence) - length, length)]
    random.Random(seed).shuffle(slots)
    windows = (records[r][start : start + length] for r, start in slots)
    chosen = [w for w in windows if is_acgt(w)][:count]
    if len(chosen) < count:
        raise InputError(f"{path}: only {len(chosen)} N-free windows of {length} bp.")
    return chosen


@torch.no_grad()
def one_position_per_forward(model, tokenizer, sequence: str) -> np.ndarray:
    """The published benchmark's method: for each token, one forward pass of the sequence with that token masked,
    full logits, the true token's log-probability read at its position."""
    ids = torch.tensor([tokenizer(sequence)["input_ids"]], device=model.device)
    values = []
    for position in range(1, ids.shape[1] - 1):  # between [CLS] and [SEP]; the windows hold no N, so no [UNK]
        masked = ids.clone()
        masked[0, position] = tokenizer.mask_token_id
        logits = model(input_ids=masked).logits[0, position]
        values.append(torch.log_softmax(logits.double(), dim=-1)[ids[0, position]].item())
    return np.array(values)


def method_flops(encoder: Encoder, vocab: int, tokens: int, stride: int | None, published: bool = False) -> float:
    """Matmul FLOPs of one sequence of ``tokens`` tokens (with [CLS]/[SEP]): one full forward and full logits per
    scored token (``published``), else one read-out forward per masked copy (``mask_groups``)."""
    scored = tokens - 2
    if published:
        return scored * (forward_flops(encoder, tokens) + mlm_head_flops(encoder.hidden, vocab, tokens))
    return sum(
        read_out_forward_flops(encoder, tokens, len(group)) + mlm_head_flops(encoder.hidden, vocab, len(group))
        for group in mask_groups(scored, stride)
    )


def linear_flop_check(model, tokenizer, encoder: Encoder, vocab: int, sequence: str) -> dict:
    """Linear FLOPs of one sequence's exact PLL and of one published-method forward pass, from the F.linear calls
    made (``LinearCalls``) and from the architecture (flops.py): they must agree."""
    tokens = len(tokenizer(sequence)["input_ids"])
    with LinearCalls() as ours:
        token_log_likelihoods(model, tokenizer, [sequence])
    masked = torch.tensor([tokenizer(sequence)["input_ids"]], device=model.device)
    masked[0, 1] = tokenizer.mask_token_id
    with LinearCalls() as published, torch.no_grad():
        model(input_ids=masked)
    counted = [2.0 * sum(n * i * o for n, i, o in calls.shapes) for calls in (ours, published)]
    architecture = [
        (tokens - 2) * (read_out_linear_flops(encoder, tokens, 1) + mlm_head_flops(encoder.hidden, vocab, 1)),
        linear_flops(encoder, tokens) + mlm_head_flops(encoder.hidden, vocab, tokens),
    ]
    return {
        "exact_pll_linear_flops": {"calls": counted[0], "architecture": architecture[0]},
        "published_forward_linear_flops": {"calls": counted[1], "architecture": architecture[1]},
        "agree": all(abs(a - b) <= 1e-9 * b for a, b in zip(counted, architecture)),
    }


def timed(function):
    """(result, seconds) of ``function()``."""
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def model_rows(name, model, tokenizer, sequences, strides, budget) -> tuple[list[dict], dict]:
    """Each method's time and FLOPs per sequence on ``sequences``; the exact PLL checked against the published
    method's; and the linear-FLOP check."""
    config = model.config
    encoder = Encoder(name, config.hidden_size, config.num_hidden_layers, config.intermediate_size, True)
    tokens = [len(ids) for ids in tokenizer(sequences)["input_ids"]]
    published, published_s = timed(lambda: [one_position_per_forward(model, tokenizer, s) for s in sequences])
    rows = [
        {
            "model": name,
            "method": "one position per forward, full logits (published)",
            "seconds": published_s,
            "flops": sum(method_flops(encoder, config.vocab_size, n, None, published=True) for n in tokens),
            "plls": [float(v.sum()) for v in published],
        }
    ]
    for stride in [None, *strides]:
        scores, seconds = timed(
            lambda: token_log_likelihoods(model, tokenizer, sequences, stride, max_tokens_per_batch=budget)
        )
        row = {
            "model": name,
            "method": "exact (dnabert2-score)" if stride is None else f"--mask_stride {stride}",
            "seconds": seconds,
            "flops": sum(method_flops(encoder, config.vocab_size, n, stride) for n in tokens),
            "plls": [s.pll for s in scores],
        }
        if stride is None:
            row["max_token_difference_vs_published"] = max(
                float(np.abs(s.log_probs - p).max()) for s, p in zip(scores, published)
            )
        rows.append(row)
    for row in rows:
        row |= {
            "sequences": len(sequences),
            "seconds_per_sequence": row["seconds"] / len(sequences),
            "speedup": rows[0]["seconds"] / row["seconds"],
            "gflop_per_sequence": row["flops"] / len(sequences) / 1e9,
            "flop_ratio": rows[0]["flops"] / row["flops"],
            "mean_abs_pll_difference_vs_published": float(np.mean(np.abs(np.subtract(row["plls"], rows[0]["plls"])))),
        }
    return rows, linear_flop_check(model, tokenizer, encoder, config.vocab_size, sequences[0][:200])


def agreement(model, tokenizer, sequences, strides, budget) -> list[dict]:
    """Exact PLL against each --mask_stride on ``sequences``: correlations and mean absolute differences, per
    sequence and per token."""
    exact = token_log_likelihoods(model, tokenizer, sequences, max_tokens_per_batch=budget)
    exact_plls = np.array([s.pll for s in exact])
    exact_tokens = np.concatenate([s.log_probs for s in exact])
    rows = []
    for stride in strides:
        approximate = token_log_likelihoods(model, tokenizer, sequences, stride, max_tokens_per_batch=budget)
        plls = np.array([s.pll for s in approximate])
        token_values = np.concatenate([s.log_probs for s in approximate])
        rows.append(
            {
                "mask_stride": stride,
                "sequences": len(sequences),
                "pearson_pll": float(np.corrcoef(exact_plls, plls)[0, 1]),
                "spearman_pll": float(np.corrcoef(rank(exact_plls), rank(plls))[0, 1]),
                "mean_abs_pll_difference": float(np.mean(np.abs(plls - exact_plls))),
                "mean_pll_difference": float(np.mean(plls - exact_plls)),
                "mean_abs_difference_per_bp": float(np.mean(np.abs(plls - exact_plls) / [len(s) for s in sequences])),
                "exact_pll_sd": float(np.std(exact_plls)),
                "pearson_token": float(np.corrcoef(exact_tokens, token_values)[0, 1]),
                "mean_abs_token_difference": float(np.mean(np.abs(token_values - exact_tokens))),
            }
        )
    return rows


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 (no ties expected among float PLLs)."""
    return np.argsort(np.argsort(values)).astype(float)


def report_lines(results: dict) -> list[str]:
    """The markdown report."""
    lines = [
        f"Command: `{results['command']}`",
        "",
        f"{results['length']}-bp windows of {results['genome']}"
        f"{' (held out of pretraining)' if results['genome'] in HELD_OUT_FILES else ''}, "
        f"{results['threads']} CPU threads, device {results.get('device', 'cpu')}, torch {results['torch']}; "
        f"load average {results['load_before']} before, {results['load_after']} "
        "after (a shared machine: compare the rows of one run). FLOPs: matrix multiplications counted from the "
        "architecture (benchmarks/measure/flops.py), encoder and MLM head.",
        "",
        "| model | method | sequences | s / sequence | speedup | GFLOP / sequence | FLOP ratio | "
        "mean abs PLL diff. vs published |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["speed"]:
        lines.append(
            f"| {row['model']} | {row['method']} | {row['sequences']} | {row['seconds_per_sequence']:.2f} | "
            f"**{row['speedup']:.1f}x** | {row['gflop_per_sequence']:.1f} | {row['flop_ratio']:.2f}x | "
            f"{row['mean_abs_pll_difference_vs_published']:.2g} |"
        )
    lines += ["", "Checks:"]
    for name, check in results["checks"].items():
        lines.append(
            f"- {name}: exact PLL per-token log-probabilities against the published method's, max abs difference "
            f"{check['max_token_difference']:.2g}; linear FLOPs from the F.linear calls "
            f"{check['flops']['exact_pll_linear_flops']['calls'] / 1e9:.2f} GFLOP (exact PLL of the first sequence's "
            f"first 200 bp) and "
            f"{check['flops']['published_forward_linear_flops']['calls'] / 1e9:.3f} GFLOP (one published forward) "
            f"against the architecture's count: {'equal' if check['flops']['agree'] else 'DIFFERENT'}."
        )
    lines += [
        "",
        f"Exact PLL against `--mask_stride` ({results['shipped']}, {results['agreement'][0]['sequences']} sequences):",
        "",
        "| mask_stride | Pearson r (PLL) | Spearman (PLL) | mean abs PLL diff. (nats) | mean diff. | per bp | SD of "
        "exact PLL | Pearson r (tokens) | mean abs token diff. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["agreement"]:
        lines.append(
            f"| {row['mask_stride']} | {row['pearson_pll']:.4f} | {row['spearman_pll']:.4f} | "
            f"{row['mean_abs_pll_difference']:.2f} | {row['mean_pll_difference']:+.2f} | "
            f"{row['mean_abs_difference_per_bp']:.4f} | {row['exact_pll_sd']:.1f} | {row['pearson_token']:.4f} | "
            f"{row['mean_abs_token_difference']:.3f} |"
        )
    return lines


def main(argv=None):
    """Time every method on both models, check, measure the agreement, write the report."""
    parser = command_parser(
        LikelihoodArguments, usage="python benchmarks/likelihood.py [options]", description=__doc__.split("\n\n")[0]
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    strides = [int(k) for k in args.strides.split(",")]
    count = max(args.timed_sequences, args.agreement_sequences, args.large_sequences)
    sequences = sample_windows(args.genome, args.length, count, args.seed)
    load_before = os.getloadavg()
    shipped, tokenizer = load_scorer(packaged("model"))
    speed, checks = [], {}
    rows, flops = model_rows(
        "shipped model", shipped, tokenizer, sequences[: args.timed_sequences], strides, args.max_tokens_per_batch
    )
    speed += rows
    checks["shipped model"] = {"max_token_difference": rows[1]["max_token_difference_vs_published"], "flops": flops}
    torch.manual_seed(args.seed)
    large = DNABert2ForMaskedLM(DNABert2Config.from_json_file(args.large_config)).eval().to(shipped.device)
    rows, flops = model_rows(
        "117M (random weights)",
        large,
        tokenizer,
        sequences[: args.large_sequences],
        strides[-1:],
        args.max_tokens_per_batch,
    )
    speed += rows
    checks["117M (random weights)"] = {
        "max_token_difference": rows[1]["max_token_difference_vs_published"],
        "flops": flops,
    }
    results = {
        "command": shlex.join(["python", "benchmarks/likelihood.py", *(sys.argv[1:] if argv is None else argv)]),
        "device": str(shipped.device) if shipped.device.type == "cpu" else torch.cuda.get_device_name(shipped.device),
        "genome": os.path.basename(args.genome),
        "length": args.length,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "shipped": "shipped model",
        "speed": speed,
        "checks": checks,
        "agreement": agreement(
            shipped, tokenizer, sequences[: args.agreement_sequences], strides, args.max_tokens_per_batch
        ),
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
    }
    write_report(args.output_dir, "likelihood", report_lines(results), results)
    exact_rows = [row for row in speed if row["method"].startswith("exact")]
    if any(row["max_token_difference_vs_published"] > 1e-4 for row in exact_rows) or not all(
        check["flops"]["agree"] for check in checks.values()
    ):
        raise RuntimeError("A check failed: see the report.")


if __name__ == "__main__":
    run_command(main)
