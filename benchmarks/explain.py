"""Proof of the explanations on ground truth: a planted-motif task, fine-tuned from the shipped model, explained.

A 10-bp motif drawn from a PWM (``PLANTED``), planted at a random position in uniform random background, makes a
sequence positive; a decoy motif (``DECOY``) is planted at a random place in every sequence of both classes, so that
"some planted structure" does not tell the classes apart. The shipped model is fine-tuned on it (dnabert2.finetuning),
then its held-out positives are explained end to end by the command lines (dnabert2-explain ism / ig / attention,
dnabert2-motifs), and:

- per-base AUROC of each method's attribution, planted bases against all other bases (pooled over the positives;
  the mean of the per-sequence AUROCs beside it), and the same for the decoy's bases (which should not stand out);
- tfmodisco-lite's top positive pattern against the planted PWM: the best Pearson correlation of its PPM with the
  PWM over offsets and strands;
- ism time per kb and per 1,000 sequences of 100-300 bp, on this machine's CPU threads.

    nice -n 10 python benchmarks/explain.py      # ~10 min on 2 cores; writes benchmarks/results/explain/
"""

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from sklearn.metrics import roc_auc_score
from transformers import HfArgumentParser

from dnabert2 import packaged
from dnabert2.benchmarks.measure.generated import random_dna
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
from dnabert2.finetuning.trainer import run_finetune
from dnabert2.inference.attribution import explain, load_explained_model
from dnabert2.inference.motifs import pwm_correlation
from dnabert2.train import explain as explain_command
from dnabert2.train import motifs as motifs_command

BASES = "ACGT"
# The planted motif's PWM: probability 0.85 for its consensus base, 0.05 for each other one.
PLANTED_CONSENSUS = "TGACGTCATC"
DECOY_CONSENSUS = "GGTTAACCAA"


def pwm_of(consensus: str, strength: float = 0.85) -> np.ndarray:
    """(K, 4) position weight matrix: ``strength`` for the consensus base, the rest shared equally."""
    matrix = np.full((len(consensus), 4), (1 - strength) / 3)
    matrix[np.arange(len(consensus)), [BASES.index(b) for b in consensus]] = strength
    return matrix


PLANTED, DECOY = pwm_of(PLANTED_CONSENSUS), pwm_of(DECOY_CONSENSUS)


def sample(rng: np.random.Generator, pwm: np.ndarray) -> str:
    """One instance of a PWM."""
    return "".join(BASES[rng.choice(4, p=row)] for row in pwm)


def planted_example(rng: np.random.Generator, length: int, positive: bool) -> tuple[str, int | None, int]:
    """(sequence, planted motif start or None, decoy start): the decoy and the motif never overlap."""
    sequence = list(random_dna(rng, length))
    width = len(PLANTED)
    while True:
        motif, decoy = (int(x) for x in rng.integers(0, length - width + 1, 2))
        if not positive or abs(motif - decoy) >= width:
            break
    sequence[decoy : decoy + width] = sample(rng, DECOY)
    if positive:
        sequence[motif : motif + width] = sample(rng, PLANTED)
    return "".join(sequence), motif if positive else None, decoy


def write_task(folder: Path, sizes: dict, length: int, seed: int) -> dict:
    """train/dev/test CSV files of the planted-motif task; returns per split the (sequence, label, motif, decoy)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    splits = {}
    for split, count in sizes.items():
        rows = []
        for i in range(count):
            sequence, motif, decoy = planted_example(rng, length, positive=bool(i % 2))
            rows.append((sequence, i % 2, motif, decoy))
        (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y, _, _ in rows))
        splits[split] = rows
    return splits


def auroc(attributions: list[np.ndarray], starts: list[int], width: int) -> tuple[float, float]:
    """(pooled AUROC, mean per-sequence AUROC) of attributions, bases [start, start + width) against the rest."""
    labels = []
    for values, start in zip(attributions, starts):
        mask = np.zeros(len(values), bool)
        mask[start : start + width] = True
        labels.append(mask)
    pooled = roc_auc_score(np.concatenate(labels), np.concatenate(attributions))
    per_sequence = np.mean([roc_auc_score(m, v) for m, v in zip(labels, attributions)])
    return float(pooled), float(per_sequence)


@dataclass
class ExplainBenchArguments:
    output_dir: str = field(default="benchmarks/results/explain", metadata={"help": "Where results go."})
    train: int = field(default=1000, metadata={"help": "Training sequences (half positive)."})
    test: int = field(default=200, metadata={"help": "Test sequences (half positive; the positives are explained)."})
    explained: int = field(default=40, metadata={"help": "Held-out positives explained (at most test / 2)."})
    length: int = field(default=100, metadata={"help": "Sequence length (bp)."})
    epochs: float = field(default=15, metadata={"help": "Fine-tuning epochs."})
    learning_rate: float = field(default=5e-4, metadata={"help": "Fine-tuning learning rate."})
    ig_steps: int = field(default=64, metadata={"help": "Integrated-gradients steps."})
    timing_sequences: int = field(default=10, metadata={"help": "Sequences of 100-300 bp timed under ism."})
    seed: int = field(default=0, metadata={"help": "Seed of the task and the fine-tuning."})


def fine_tune(task: Path, output: Path, args: ExplainBenchArguments) -> dict:
    """Full fine-tuning of the shipped model on the task (no evaluation during training); the test metrics."""
    training = FinetuneTrainingArguments(
        output_dir=str(output),
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        warmup_steps=30,
        per_device_train_batch_size=32,
        per_device_eval_batch_size=64,
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        save_model=True,
        logging_steps=50,
        report_to="none",
        seed=args.seed,
        model_max_length=128,
    )
    return run_finetune(ModelArguments(model_name_or_path=str(packaged("model"))), DataArguments(str(task)), training)


def ism_timing(model, tokenizer, count: int, seed: int) -> dict:
    """Seconds of ism for ``count`` random sequences of 100-300 bp."""
    rng = np.random.default_rng(seed + 1)
    short = [random_dna(rng, int(n)) for n in rng.integers(100, 301, count)]
    start = time.perf_counter()
    explain(model, tokenizer, short, "ism")
    seconds = time.perf_counter() - start
    bases = sum(map(len, short))
    return {
        "threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "sequences_100_300bp": count,
        "bases": bases,
        "seconds": round(seconds, 2),
        "seconds_per_kb": round(seconds / bases * 1000, 2),
        "seconds_per_1000_sequences": round(seconds / count * 1000, 1),
    }


def main(argv=None):
    """Generate, fine-tune, explain, find motifs, time; write benchmarks/results/explain/explain.{md,json}."""
    (args,) = HfArgumentParser(ExplainBenchArguments).parse_args_into_dataclasses(argv)
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sizes = {"train": args.train, "dev": args.test // 2, "test": args.test}
        splits = write_task(scratch / "task", sizes, args.length, args.seed)
        start = time.perf_counter()
        metrics = fine_tune(scratch / "task", scratch / "model", args)
        tuning_seconds = time.perf_counter() - start
        positives = [row for row in splits["test"] if row[1] == 1][: args.explained]
        fasta = scratch / "positives.fa"
        fasta.write_text("".join(f">pos{i}\n{s}\n" for i, (s, _, _, _) in enumerate(positives)))
        results, seconds = {}, {}
        for method in ("ism", "ig", "attention"):
            extra = []
            if method == "ism":
                extra = ["--modisco", str(scratch / "modisco"), "--plot", str(output / "ism_logos.png")]
                extra += ["--plot_top", "3"]
            if method == "ig":
                extra = ["--ig_steps", str(args.ig_steps), "--plot", str(output / "ig_logos.png"), "--plot_top", "3"]
            start = time.perf_counter()
            explain_command.main(
                [
                    *("--model_name_or_path", str(scratch / "model"), "--input", str(fasta)),
                    *("--output_dir", str(scratch / method), "--method", method, "--target", "1", *extra),
                ]
            )
            seconds[method] = round(time.perf_counter() - start, 1)
            table = pq.read_table(sorted((scratch / method).glob("*.parquet"))).sort_by("index")
            attributions = [np.asarray(a, np.float64) for a in table.column("attribution").to_pylist()]
            planted = auroc(attributions, [motif for _, _, motif, _ in positives], len(PLANTED))
            decoy = auroc(attributions, [d for _, _, _, d in positives], len(DECOY))
            results[method] = {
                "planted_auroc_pooled": round(planted[0], 4),
                "planted_auroc_per_sequence_mean": round(planted[1], 4),
                "decoy_auroc_pooled": round(decoy[0], 4),
                "seconds": seconds[method],
            }
            if method == "ig":
                gaps = np.asarray(table.column("completeness_gap").to_pylist())
                results[method]["completeness_gap_median"] = float(np.median(gaps))
                results[method]["completeness_gap_max"] = float(gaps.max())
        start = time.perf_counter()
        summary = motifs_command.main(
            ["--input_dir", str(scratch / "modisco"), "--output_dir", str(scratch / "motifs"), "--n_leiden", "2"]
        )
        modisco_seconds = time.perf_counter() - start
        positive_patterns = [p for p in summary["patterns"] if p["sign"] == "positive"]
        top = max(positive_patterns, key=lambda p: p["seqlets"]) if positive_patterns else None
        motif = None
        if top is not None:
            correlation, offset, reverse = pwm_correlation(np.asarray(top["ppm"]), PLANTED)
            motif = {
                "pattern": top["pattern"],
                "seqlets": top["seqlets"],
                "consensus": top["consensus"],
                "pwm_correlation": round(correlation, 4),
                "offset": offset,
                "reverse_complement": reverse,
                "patterns_found": [(p["pattern"], p["seqlets"], p["consensus"]) for p in summary["patterns"]],
            }
            logo = scratch / "motifs" / "report" / "trimmed_logos" / f"{top['pattern']}.cwm.fwd.png"
            if logo.exists():
                shutil.copy(logo, output / "modisco_top_pattern.png")
        model = load_explained_model(scratch / "model")
        timing = ism_timing(model, load_tokenizer(scratch / "model"), args.timing_sequences, args.seed)
    data = {
        "settings": vars(args),
        "planted_consensus": PLANTED_CONSENSUS,
        "decoy_consensus": DECOY_CONSENSUS,
        "fine_tuning": {"seconds": round(tuning_seconds, 1), **{k: v for k, v in metrics.items() if "eval_" in k}},
        "attribution": results,
        "modisco": motif,
        "modisco_seconds": round(modisco_seconds, 1),
        "ism_timing": timing,
    }
    lines = [
        "# Explanations on ground truth: a planted motif",
        "",
        f"Task: {args.length}-bp uniform random sequences; positives carry `{PLANTED_CONSENSUS}` (PWM, 0.85 per "
        f"consensus base) at a random position; every sequence carries the decoy `{DECOY_CONSENSUS}`. "
        f"{args.train} training sequences; the shipped model fully fine-tuned for {args.epochs:g} epochs "
        f"({tuning_seconds:.0f} s): test accuracy {metrics.get('eval_accuracy', float('nan')):.3f}, MCC "
        f"{metrics.get('eval_matthews_correlation', float('nan')):.3f}.",
        "",
        f"Per-base AUROC on {len(positives)} held-out positives (target class 1): planted bases against all others "
        "(pooled over sequences; mean of per-sequence AUROCs), and the decoy's bases against all others.",
        "",
        "| method | planted AUROC (pooled) | planted AUROC (per-sequence mean) | decoy AUROC | seconds |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {m} | {r['planted_auroc_pooled']:.3f} | {r['planted_auroc_per_sequence_mean']:.3f} | "
        f"{r['decoy_auroc_pooled']:.3f} | {r['seconds']} |"
        for m, r in results.items()
    ]
    lines += [
        "",
        f"ig completeness gap ({args.ig_steps} steps): median {results['ig']['completeness_gap_median']:.2e}, "
        f"max {results['ig']['completeness_gap_max']:.2e} (|sum of attributions - (f(x) - f(baseline))| / "
        "|f(x) - f(baseline)|).",
        "",
    ]
    if motif:
        lines += [
            f"tfmodisco-lite on the ism arrays ({modisco_seconds:.0f} s): top positive pattern {motif['pattern']} "
            f"({motif['seqlets']} seqlets, consensus `{motif['consensus']}`); Pearson correlation of its PPM with "
            f"the planted PWM {motif['pwm_correlation']:.3f} (offset {motif['offset']}, reverse complement "
            f"{motif['reverse_complement']}). All patterns: "
            + ", ".join(f"{name} ({n}, `{c}`)" for name, n, c in motif["patterns_found"])
            + ".",
            "",
        ]
    else:
        lines += ["tfmodisco-lite found no positive pattern.", ""]
    lines += [
        f"ism time ({timing['threads']} CPU threads, the shipped architecture): {timing['seconds_per_kb']} s per kb "
        f"of 100-300 bp sequences, {timing['seconds_per_1000_sequences']} s per 1,000 such sequences (the "
        "machine's load at the time is in the json: `load_average`).",
        "",
        "![ism logos](ism_logos.png)",
        "",
        "Reproduce: `nice -n 10 python benchmarks/explain.py`.",
    ]
    write_report(output, "explain", lines, data)
    return data


if __name__ == "__main__":
    main()
