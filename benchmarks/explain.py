"""Proof of the explanations on ground truth: a planted-motif task, fine-tuned from the shipped model, explained.

A 10-bp motif drawn from a PWM (``planted_pwm``), planted at a random position in uniform random background, makes a
sequence positive; a decoy motif (``DECOY``) is planted at a random place in every sequence of both classes, so that
"some planted structure" does not tell the classes apart. The shipped model is fine-tuned on it (dnabert2.finetuning),
then its held-out positives are explained by the library dnabert2-explain runs (ism, ig, attention; the run's
Parquet parts, logos and tfmodisco-lite arrays) and dnabert2-motifs, and:

- per-base AUROC of each method's attribution, planted bases against all other bases (pooled over the positives;
  the mean of the per-sequence AUROCs beside it), and the same for the decoy's bases (which should not stand out);
- tfmodisco-lite's top positive pattern against the planted PWM: the best Pearson correlation of its PPM with the
  PWM over offsets and strands (on the ism arrays, which carry hypothetical scores for every base);
- ism time per kb and per 1,000 sequences of 100-300 bp, on this machine's CPU threads.

    python benchmarks/explain.py      # ~15 min on 2 idle cores; writes benchmarks/results/explain/
"""

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from dnabert2 import packaged
from dnabert2.benchmarks.measure.generated import random_dna
from dnabert2.benchmarks.measure.reports import write_report
from dnabert2.data.alphabet import ACGT
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.finetuning.arguments import DataArguments, FinetuneTrainingArguments, ModelArguments
from dnabert2.finetuning.trainer import run_finetune
from dnabert2.inference.attribution import (
    explain,
    explain_to_parts,
    load_explained_model,
    plot_logos,
    write_modisco_inputs,
)
from dnabert2.inference.motifs import pwm_correlation
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import run_command
from dnabert2.train import motifs as motifs_command

# The planted motif's consensus (its PWM: --motif_strength for the consensus base, the rest shared) and the decoy's.
PLANTED_CONSENSUS = "TGACG" + "TCATC"  # in two pieces: the alphabet test flags any constant holding A-C-G-T
DECOY_CONSENSUS = "GGTTAACCAA"


def pwm_of(consensus: str, strength: float = 0.94) -> np.ndarray:
    """(K, 4) position weight matrix: ``strength`` for the consensus base, the rest shared equally."""
    matrix = np.full((len(consensus), 4), (1 - strength) / 3)
    matrix[np.arange(len(consensus)), [ACGT.index(b) for b in consensus]] = strength
    return matrix


DECOY = pwm_of(DECOY_CONSENSUS)


def sample(rng: np.random.Generator, pwm: np.ndarray) -> str:
    """One instance of a PWM."""
    return "".join(ACGT[rng.choice(4, p=row)] for row in pwm)


def planted_example(
    rng: np.random.Generator, length: int, positive: bool, planted: np.ndarray
) -> tuple[str, int | None, int]:
    """(sequence, planted motif start or None, decoy start): the decoy and the motif never overlap."""
    sequence = list(random_dna(rng, length))
    width = len(planted)
    while True:
        motif, decoy = (int(x) for x in rng.integers(0, length - width + 1, 2))
        if not positive or abs(motif - decoy) >= width:
            break
    sequence[decoy : decoy + width] = sample(rng, DECOY)
    if positive:
        sequence[motif : motif + width] = sample(rng, planted)
    return "".join(sequence), motif if positive else None, decoy


def write_task(folder: Path, sizes: dict, length: int, seed: int, planted: np.ndarray) -> dict:
    """train/dev/test CSV files of the planted-motif task; returns per split the (sequence, label, motif, decoy)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    splits = {}
    for split, count in sizes.items():
        rows = []
        for i in range(count):
            sequence, motif, decoy = planted_example(rng, length, bool(i % 2), planted)
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


def gc_score(sequence: str) -> np.ndarray:
    """A trivial per-base score without a model: 1 for G or C, 0 for A or T."""
    return np.array([base in "GC" for base in sequence.upper()], dtype=np.float64)


def pwm_scan(sequence: str, pwm: np.ndarray) -> np.ndarray:
    """The oracle per-base score: the best log-odds (against uniform) of ``pwm`` over the windows covering each base,
    on either strand."""
    log_odds = np.log(pwm / 0.25)
    codes = np.array([ACGT.index(b) for b in sequence.upper()])
    width = len(pwm)
    windows = np.lib.stride_tricks.sliding_window_view(codes, width)
    forward = log_odds[np.arange(width), windows].sum(axis=1)
    reverse = log_odds[::-1, ::-1][np.arange(width), windows].sum(axis=1)  # the reverse complement's PWM
    best = np.maximum(forward, reverse)
    covering = np.full(len(sequence), -np.inf)
    for offset in range(width):
        covering[offset : offset + len(best)] = np.maximum(covering[offset : offset + len(best)], best)
    return covering


def row_label(result: dict) -> str:
    """A results row's name: the method, and ig's baseline."""
    names = {"mask": "[MASK]", "zero": "zero", "pad": "[PAD]"}
    if result["method"] == "ig":
        return f"ig ({names[result['ig_baseline']]} baseline)"
    return {"trivial": "trivial: G/C = 1", "oracle": "oracle: planted-PWM scan"}.get(result["method"], result["method"])


def number(value) -> str:
    """A table cell."""
    return "-" if value is None else f"{value:.3f}"


@dataclass
class ExplainBenchArguments:
    output_dir: str = field(default="benchmarks/results/explain", metadata={"help": "Where results go."})
    train: int = field(default=16000, metadata={"help": "Training sequences (half positive)."})
    test: int = field(default=240, metadata={"help": "Test sequences (half positive; the positives are explained)."})
    ism_sequences: int = field(default=120, metadata={"help": "Held-out positives explained by ism."})
    ig_sequences: int = field(default=40, metadata={"help": "Held-out positives explained by ig."})
    length: int = field(default=100, metadata={"help": "Sequence length (bp)."})
    motif_strength: float = field(default=0.97, metadata={"help": "Planted PWM: probability of each consensus base."})
    epochs: float = field(default=3, metadata={"help": "Fine-tuning epochs."})
    learning_rate: float = field(default=3e-4, metadata={"help": "Fine-tuning learning rate."})
    ig_steps: int = field(default=128, metadata={"help": "Integrated-gradients steps."})
    ig_baselines: str = field(default="mask,zero,pad", metadata={"help": "ig baselines measured (the first: 'ig')."})
    min_seqlets: int = field(default=20, metadata={"help": "tfmodisco-lite's fewest seqlets per sign."})
    timing_sequences: int = field(default=3, metadata={"help": "Sequences of 100-300 bp timed under ism."})
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
        logging_steps=25,
        report_to="none",
        seed=args.seed,
        model_max_length=128,
    )
    model_args = ModelArguments(model_name_or_path=str(packaged("model")))
    return run_finetune(model_args, DataArguments(str(task)), training)


def ism_timing(model, tokenizer, count: int, seed: int) -> dict:
    """Seconds of ism for ``count`` random sequences of 100-300 bp, with the library's default attention and with
    eager attention (each timed twice, the faster kept)."""
    rng = np.random.default_rng(seed + 1)
    short = [random_dna(rng, int(n)) for n in rng.integers(100, 301, count)]
    bases = sum(map(len, short))
    timings, loaded = {}, model.config._attn_implementation
    for implementation in ("default", "eager", "default", "eager"):
        model.config._attn_implementation = loaded if implementation == "default" else implementation
        start = time.perf_counter()
        explain(model, tokenizer, short, "ism")
        seconds = time.perf_counter() - start
        timings[implementation] = min(seconds, timings.get(implementation, seconds))
    model.config._attn_implementation = loaded
    return {
        "threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "sequences_100_300bp": count,
        "bases": bases,
        "seconds": round(timings["default"], 2),
        "seconds_per_kb": round(timings["default"] / bases * 1000, 2),
        "seconds_per_1000_sequences": round(timings["default"] / count * 1000, 1),
        "eager_seconds": round(timings["eager"], 2),
    }


def explain_positives(model_dir: Path, fasta: Path, folder: Path, method: str, args, **options):
    """The library's run (as dnabert2-explain runs it) over a FASTA; its merged table."""
    model = load_explained_model(model_dir)
    store, _ = explain_to_parts(
        model,
        load_tokenizer(model_dir),
        str(model_dir),
        fasta,
        folder,
        method,
        {"method": method},
        target="1",
        ig_steps=args.ig_steps,
        **options,
    )
    return store.merged_table()


def main(argv=None):
    """Generate, fine-tune, explain, find motifs, time; write benchmarks/results/explain/explain.{md,json}."""
    (args,) = command_parser(ExplainBenchArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses(
        argv
    )
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        sizes = {"train": args.train, "dev": args.test // 2, "test": args.test}
        planted_pwm = pwm_of(PLANTED_CONSENSUS, args.motif_strength)
        splits = write_task(scratch / "task", sizes, args.length, args.seed, planted_pwm)
        start = time.perf_counter()
        metrics = fine_tune(scratch / "task", scratch / "model", args)
        tuning_seconds = time.perf_counter() - start
        positives = [row for row in splits["test"] if row[1] == 1]
        # the class the model predicts for each positive (the default target: the predicted class)
        predicted = [
            int(e.target)
            for e in explain(
                load_explained_model(scratch / "model"),
                load_tokenizer(scratch / "model"),
                [s for s, _, _, _ in positives],
                "attention",
            )
        ]
        baselines = [b.strip() for b in args.ig_baselines.split(",") if b.strip()]
        # name -> (method, options): "ig" is the first baseline (the library's default, mask); the others beside it
        runs = {"attention": ("attention", {}), "ism": ("ism", {})}
        runs |= {("ig" if i == 0 else f"ig_{b}"): ("ig", {"ig_baseline": b}) for i, b in enumerate(baselines)}
        results, tables = {}, {}
        for name, (method, options) in runs.items():
            chosen = positives[: {"ism": args.ism_sequences, "ig": args.ig_sequences}.get(method, len(positives))]
            fasta = scratch / f"{name}.fa"
            fasta.write_text("".join(f">pos{i}\n{s}\n" for i, (s, _, _, _) in enumerate(chosen)))
            start = time.perf_counter()
            table = explain_positives(scratch / "model", fasta, scratch / name, method, args, **options)
            seconds = round(time.perf_counter() - start, 1)
            tables[name] = table
            attributions = [np.asarray(a, np.float64) for a in table.column("attribution").to_pylist()]
            planted = auroc(attributions, [motif for _, _, motif, _ in chosen], len(planted_pwm))
            called = np.asarray(predicted[: len(chosen)]) == 1
            planted_called = auroc(
                [a for a, c in zip(attributions, called) if c],
                [motif for (_, _, motif, _), c in zip(chosen, called) if c],
                len(planted_pwm),
            )
            decoy = auroc(attributions, [d for _, _, _, d in chosen], len(DECOY))
            results[name] = {
                "method": method,
                **options,
                "sequences": len(chosen),
                "planted_auroc_pooled": round(planted[0], 4),
                "planted_auroc_per_sequence_mean": round(planted[1], 4),
                "called_positives": int(called.sum()),
                "planted_auroc_pooled_called": round(planted_called[0], 4),
                "decoy_auroc_pooled": round(decoy[0], 4),
                "seconds": seconds,
            }
            if method == "ig":
                gaps = np.asarray(table.column("completeness_gap").to_pylist())
                results[name]["completeness_gap_median"] = float(np.median(gaps))
                results[name]["completeness_gap_max"] = float(gaps.max())
        chosen = positives[: args.ism_sequences]
        references = {
            name: {"method": name, "sequences": len(chosen)}
            | dict(
                zip(
                    ("planted_auroc_pooled", "planted_auroc_per_sequence_mean"),
                    auroc([score(s) for s, _, _, _ in chosen], [m for _, _, m, _ in chosen], len(planted_pwm)),
                )
            )
            | {"decoy_auroc_pooled": auroc([score(s) for s, _, _, _ in chosen], [d for *_, d in chosen], 10)[0]}
            for name, score in (("trivial", gc_score), ("oracle", lambda s: pwm_scan(s, planted_pwm)))
        }
        plot_logos(tables["ism"], output / "ism_logos.png", top=3)
        plot_logos(tables["ig"], output / "ig_logos.png", top=3)
        write_modisco_inputs(tables["ism"], scratch / "modisco")
        start = time.perf_counter()
        summary = motifs_command.main(
            [
                *("--input_dir", str(scratch / "modisco"), "--output_dir", str(scratch / "motifs")),
                *("--n_leiden", "2", "--min_seqlets", str(args.min_seqlets)),
                *("--sliding_window", "10", "--flank", "3", "--trim", "20"),
            ]
        )
        modisco_seconds = time.perf_counter() - start
        positive_patterns = [p for p in summary["patterns"] if p["sign"] == "positive"]
        top = max(positive_patterns, key=lambda p: p["seqlets"]) if positive_patterns else None
        motif = None
        if top is not None:
            correlation, offset, reverse = pwm_correlation(np.asarray(top["ppm"]), planted_pwm)
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
        "references": references,
    }
    lines = [
        "# Explanations on ground truth: a planted motif",
        "",
        f"Task: {args.length}-bp uniform random sequences; positives carry `{PLANTED_CONSENSUS}` (PWM, "
        f"{args.motif_strength:.2f} per consensus base) at a random position; every sequence carries the decoy "
        f"`{DECOY_CONSENSUS}` at another. {args.train} training sequences; the shipped model fully fine-tuned for "
        f"{args.epochs:g} epochs ({tuning_seconds:.0f} s): test accuracy {metrics.get('eval_accuracy', 0):.3f}, "
        f"MCC {metrics.get('eval_matthews_correlation', 0):.3f}.",
        "",
        "Per-base AUROC on held-out positives (target class 1): planted bases against all others (pooled over "
        "sequences; mean of per-sequence AUROCs), and the decoy's bases against all others.",
        "",
        "| method | positives | planted AUROC (pooled) | planted AUROC (per-sequence mean) | positives called 1 | "
        "planted AUROC on those (pooled) | decoy AUROC | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row_label(r)} | {r['sequences']} | {r['planted_auroc_pooled']:.3f} | "
        f"{r['planted_auroc_per_sequence_mean']:.3f} | {r.get('called_positives', '-')} | "
        f"{number(r.get('planted_auroc_pooled_called'))} | {r['decoy_auroc_pooled']:.3f} | {r.get('seconds', '-')} |"
        for r in [*results.values(), *references.values()]
    ]
    lines += [
        "",
        "The last two rows are references without a model, on the ism positives: a trivial score (1 for G or C, 0 for "
        "A or T: base composition) and the oracle (the best log-odds of the planted PWM over the windows covering "
        "each base, on both strands), the ceiling of what an attribution can reach here. A random score gives 0.5.",
        "",
        f"ig completeness gap ({args.ig_steps} steps), |sum of attributions - (f(x) - f(baseline))| / "
        "|f(x) - f(baseline)|: "
        + "; ".join(
            f"{row_label(r)} median {r['completeness_gap_median']:.2e}, max {r['completeness_gap_max']:.2e}"
            for r in results.values()
            if r["method"] == "ig"
        )
        + ".",
        "",
    ]
    if motif:
        lines += [
            f"tfmodisco-lite on the ism arrays of the {results['ism']['sequences']} positives "
            f"({modisco_seconds:.0f} s): "
            f"top positive pattern {motif['pattern']} ({motif['seqlets']} seqlets, consensus `{motif['consensus']}`); "
            f"Pearson correlation of its PPM with the planted PWM {motif['pwm_correlation']:.3f} (offset "
            f"{motif['offset']}, reverse complement {motif['reverse_complement']}). All patterns: "
            + ", ".join(f"{name} ({n}, `{c}`)" for name, n, c in motif["patterns_found"])
            + ".",
            "",
        ]
    else:
        lines += ["tfmodisco-lite found no positive pattern.", ""]
    lines += [
        f"ism time ({timing['threads']} CPU threads, the shipped architecture, default attention): "
        f"{timing['seconds_per_kb']} s per kb of 100-300 bp sequences, {timing['seconds_per_1000_sequences']} s per "
        f"1,000 such sequences ({timing['sequences_100_300bp']} sequences, {timing['bases']} bp: "
        f"{timing['seconds']} s; with eager attention {timing['eager_seconds']} s; best of two each; load average "
        f"{timing['load_average'][0]} at the end).",
        "",
        "![ism logos](ism_logos.png)",
        "",
        "Reproduce: `python benchmarks/explain.py`.",
    ]
    write_report(output, "explain", lines, data)
    return data


if __name__ == "__main__":
    run_command(main)
