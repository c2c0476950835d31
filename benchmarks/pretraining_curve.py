"""Learning curve of a pretraining run: masked-only loss and accuracy on held-out data vs training tokens.

Each checkpoint of a ``train/run_mlm.py`` run is scored, with the run's own evaluation code (fixed masks, every
scored token [MASK]; ``train/pretraining/metrics.py``), on each held-out set separately, beside the unigram and
composition baselines of that set:
- every whole species file given by ``--species`` (files kept out of training with ``--validation_species``);
- human regions not in training: records of ``--human_file`` held out by the run's record hashing;
- GUE test sequences (``--gue_tasks`` under ``--gue_dir``), one window per sequence.

    python benchmarks/pretraining_curve.py --genomes ../shared/data/genomes --gue_dir ../shared/data/GUE \
        --run_dir runs/pretrain-v2
    # -> benchmarks/results/pretraining_curve.{json,png,md}

A rerun scores only the checkpoints it has not scored before: rows of the earlier report are kept when the held-out
sets are the same (same baselines) and the checkpoint's weights are the same (digest).

With ``--model`` it scores that one model folder instead, on the same windows and masks, beside the same baselines
and the strict ones (priors from the evaluated windows themselves, ``strict_baseline_metrics``):

    python benchmarks/pretraining_curve.py --genomes ../shared/data/genomes --gue_dir ../shared/data/GUE --model .
    # -> benchmarks/results/heldout_strict.{json,md}
"""

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from datasets import Dataset, DatasetDict  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402
from transformers import DataCollatorForTokenClassification, TrainingArguments  # noqa: E402

from dnabert2.benchmarks.measure.reports import write_report  # noqa: E402
from dnabert2.data.alphabet import acgt_segments  # noqa: E402
from dnabert2.data.fasta import expand_paths, is_held_out, read_fasta  # noqa: E402
from dnabert2.data.gue import resolve_task  # noqa: E402
from dnabert2.data.tokenizer import load_tokenizer  # noqa: E402
from dnabert2.data.windows import load_sequences, tokenize_windows  # noqa: E402
from dnabert2.pretraining.arguments import HELD_OUT_SPECIES
from dnabert2.pretraining.masking import EVAL_MASK_SEED, MaskedWindows  # noqa: E402
from dnabert2.pretraining.metrics import (  # noqa: E402
    MaskedLMTrainer,
    baseline_metrics,
    label_log_probability_and_prediction,
    masked_lm_metrics,
    strict_baseline_metrics,
    token_base_counts,
    unigram_counts,
)
from dnabert2.runtime.arguments import command_parser, model_field
from dnabert2.runtime.errors import InputError, run_command
from dnabert2.runtime.weights import weights_digest  # noqa: E402
from modeling_dnabert2 import DNABert2ForMaskedLM  # noqa: E402


@dataclass
class CurveArguments:
    genomes: str = field(metadata={"help": "The pretraining corpus's folder (e.g. ../shared/data/genomes)."})
    run_dir: str = field(default="runs/pretrain-v2", metadata={"help": "Output folder of a run_mlm.py run."})
    model_name_or_path: str | None = model_field(
        "Score this model folder (e.g. . for the shipped model) instead of --run_dir's checkpoints, beside "
        "the strict baselines too: heldout_strict.{json,md}."
    )
    train_file: str | None = field(default=None, metadata={"help": "The run's --train_file (default: all files)."})
    species: list[str] | None = field(
        default=None,
        metadata={"help": "Held-out species files (the run's --validation_species; default: the shipped model's)."},
    )
    human_file: str | None = field(default=None, metadata={"help": "Default: the corpus's human chrX file."})
    validation_split_percentage: float = field(default=5.0, metadata={"help": "The run's record hashing."})
    gue_dir: str | None = field(default=None, metadata={"help": "GUE root (e.g. ../shared/data/GUE) for its set."})
    gue_tasks: str = field(default="prom_core_all,tf_0,mouse_0", metadata={"help": "Their test.csv sequences."})
    windows_per_set: int = field(default=500, metadata={"help": "A fixed random sample of each set."})
    every: int = field(default=1000, metadata={"help": "Score checkpoints whose step is a multiple of this."})
    output_dir: str = field(default="benchmarks/results")
    cache_dir: str | None = field(default="runs/cache")

    def __post_init__(self):
        self.train_file = self.train_file or f"{self.genomes}/*.fa.gz"
        self.species = self.species or [f"{self.genomes}/{name}.fa.gz" for name in HELD_OUT_SPECIES]
        self.human_file = self.human_file or f"{self.genomes}/human_GRCh37_chrX_first70Mb.fa.gz"


def windows_of(sequences, tokenizer, count: int) -> Dataset:
    """Token windows of 128 of the sequences, a fixed random sample of ``count``."""
    data = tokenize_windows(DatasetDict(train=Dataset.from_dict({"sequence": sequences})), tokenizer, 128)["train"]
    return data.shuffle(seed=EVAL_MASK_SEED).select(range(min(count, len(data))))


def held_out_sets(args: CurveArguments, tokenizer) -> dict:
    """name -> token windows of each held-out set."""
    sets = {}
    for path in expand_paths(args.species):
        pieces = [s for r in read_fasta(path) for s in acgt_segments(r.sequence, 10)]
        sets[re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", path.name)] = windows_of(pieces, tokenizer, args.windows_per_set)
    human = Path(args.human_file)
    pieces = [
        s
        for r in read_fasta(human)
        if is_held_out(human.name, r.header, args.validation_split_percentage)
        for s in acgt_segments(r.sequence, 10)
    ]
    sets["human chrX, held-out regions"] = windows_of(pieces, tokenizer, args.windows_per_set)
    if args.gue_dir and Path(args.gue_dir).is_dir():
        sequences = []
        for task in args.gue_tasks.split(","):
            with open(resolve_task(args.gue_dir, task).folder / "test.csv") as handle:
                sequences += [line.split(",")[0] for line in list(handle)[1:]]
        ids = tokenizer(sequences, truncation=True, max_length=128)["input_ids"]
        count = min(4 * args.windows_per_set, len(ids))  # GUE sequences are about a fifth of a 128-token window
        sets[f"GUE test ({args.gue_tasks})"] = (
            Dataset.from_dict({"input_ids": ids}).shuffle(seed=EVAL_MASK_SEED).select(range(count))
        )
    return sets


def checkpoints(run_dir: Path, every: int) -> list[tuple[int, Path]]:
    """(step, folder) of the run's checkpoints at multiples of ``every``, in order."""
    found = [(int(p.name.split("-")[1]), p) for p in run_dir.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    return sorted((step, p) for step, p in found if step % every == 0)


def earlier_rows(report: Path, baselines: dict) -> dict:
    """(step, weights digest, set) -> row of an earlier report scored on the same held-out sets."""
    if not report.exists():
        return {}
    earlier = json.loads(report.read_text())
    if earlier["baselines"] != json.loads(json.dumps(baselines)):
        return {}
    return {(r["step"], r.get("weights"), r["set"]): r for r in earlier["rows"]}


def score(model, masked: MaskedWindows, baselines: dict, tokenizer, workdir: str) -> dict:
    """Masked-only loss/accuracy of ``model`` on ``masked`` through the run's own evaluation path."""
    trainer = MaskedLMTrainer(
        model=model,
        args=TrainingArguments(output_dir=workdir, per_device_eval_batch_size=64, report_to=[], disable_tqdm=True),
        data_collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=masked_lm_metrics(baselines),
        preprocess_logits_for_metrics=label_log_probability_and_prediction,
    )
    return trainer.evaluate(masked)


def plot(rows, baselines, path: Path, learning_rates: list[tuple[float, float]]):
    """One column per held-out set: loss and accuracy vs training tokens, baselines as dashed lines, the run's
    learning rate (tokens in M, rate) in grey on the loss panels."""
    names = list(baselines)
    fig, axes = plt.subplots(2, len(names), figsize=(3.6 * len(names), 6.5), squeeze=False)
    for column, name in enumerate(names):
        points = [r for r in rows if r["set"] == name]
        tokens = [r["tokens"] / 1e6 for r in points]
        for row, (key, label) in enumerate((("loss", "cross-entropy (nats)"), ("accuracy", "accuracy"))):
            ax = axes[row][column]
            ax.plot(tokens, [r[key] for r in points], "o-", color="C0", label="model")
            ax.axhline(baselines[name][f"composition_{key}"], color="C1", ls="--", label="composition")
            ax.axhline(baselines[name][f"unigram_{key}"], color="C2", ls=":", label="unigram")
            ax.set_xlabel("training tokens (M)")
            if key == "accuracy":
                ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_ylabel(label)
            if row == 0:
                ax.set_title(name, fontsize=9)
                rate = ax.twinx()
                rate.plot(*zip(*learning_rates), color="grey", lw=0.8, alpha=0.6)
                rate.set_ylim(bottom=0)
                rate.tick_params(axis="y", labelsize=6, colors="grey")
                if column == len(names) - 1:
                    rate.set_ylabel("learning rate", color="grey", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Masked-only scores on held-out data vs training tokens (every scored token is [MASK])")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def masked_sets_and_baselines(args: CurveArguments, tokenizer) -> tuple[dict, dict, np.ndarray]:
    """(name -> held-out windows with the fixed evaluation masks, name -> their training-prior baselines, the
    tokens' base counts)."""
    train = load_sequences(
        [args.train_file],
        validation_species=[Path(p).name for p in args.species],
        validation_split_percentage=args.validation_split_percentage,
        cache_dir=args.cache_dir,
    )
    unigram = unigram_counts(
        tokenize_windows(train, tokenizer, 128)["train"], len(tokenizer), tokenizer.all_special_ids
    )
    bases = token_base_counts(tokenizer)
    sets = {
        name: MaskedWindows(w, tokenizer, 0.15, EVAL_MASK_SEED, replace_all=True)
        for name, w in held_out_sets(args, tokenizer).items()
    }
    baselines = {name: baseline_metrics(m, unigram, bases, tokenizer.mask_token_id) for name, m in sets.items()}
    return sets, baselines, bases


def score_model(args: CurveArguments):
    """Score the model folder ``args.model_name_or_path`` on every held-out set beside the training-prior and strict
    baselines; write heldout_strict.{json,md}."""
    folder = Path(args.model_name_or_path)
    tokenizer = load_tokenizer(folder)
    sets, baselines, bases = masked_sets_and_baselines(args, tokenizer)
    model = DNABert2ForMaskedLM.from_pretrained(folder).eval()
    rows, strict = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        for name, masked in sets.items():
            metrics = score(model, masked, baselines[name], tokenizer, workdir)
            strict[name] = strict_baseline_metrics(masked, bases)
            rows.append(
                {
                    "set": name,
                    "loss": metrics["eval_loss"],
                    "accuracy": metrics["eval_accuracy"],
                    "model_minus_strict": metrics["eval_loss"] - strict[name]["strict_loss"],
                    "accuracy_over_most_frequent": metrics["eval_accuracy"] / strict[name]["most_frequent_accuracy"],
                }
            )
            print(rows[-1], flush=True)
    lines = [
        f"Masked-only scores of `{folder}` beside training-prior and strict baselines (prior: the evaluated "
        "windows' own token frequencies).",
        "",
        "| held-out set | masked tokens | model CE | composition CE | unigram CE | model - composition | "
        "model acc. | composition acc. | unigram acc. | strict CE (variant) | strict acc. | model - strict | "
        "most-frequent acc. | model acc. / most-frequent |",
        "|---" * 14 + "|",
    ]
    for r in rows:
        b, s = baselines[r["set"]], strict[r["set"]]
        lines.append(
            f"| {r['set']} | {b['masked_tokens']:,} | {r['loss']:.3f} | {b['composition_loss']:.3f} | "
            f"{b['unigram_loss']:.3f} | {r['loss'] - b['composition_loss']:+.3f} | {r['accuracy']:.2%} | "
            f"{b['composition_accuracy']:.2%} | {b['unigram_accuracy']:.2%} | "
            f"{s['strict_loss']:.3f} ({s['strict_variant']}) | {s['strict_accuracy']:.2%} | "
            f"{r['model_minus_strict']:+.3f} | {s['most_frequent_accuracy']:.2%} | "
            f"{r['accuracy_over_most_frequent']:.2f}x |"
        )
    write_report(
        args.output_dir,
        "heldout_strict",
        lines,
        {
            "model": str(folder),
            "weights": weights_digest(folder),
            "rows": rows,
            "baselines": baselines,
            "strict": strict,
        },
    )


def curve(args: CurveArguments):
    """Score every selected checkpoint of ``args.run_dir`` on every held-out set; write json, md and png."""
    run_dir = Path(args.run_dir)
    selected = checkpoints(run_dir, args.every)
    if not selected:
        raise InputError(f"{run_dir}: no checkpoint-N folder with N a multiple of --every {args.every}.")
    state = json.loads((selected[0][1] / "trainer_state.json").read_text())
    tokens_per_step = state["train_batch_size"] * 128  # an upper bound: windows hold at most 128 tokens
    tokenizer = load_tokenizer(selected[0][1])
    sets, baselines, _ = masked_sets_and_baselines(args, tokenizer)
    rows, known = [], earlier_rows(Path(args.output_dir) / "pretraining_curve.json", baselines)
    with tempfile.TemporaryDirectory() as workdir:
        for step, folder in tqdm(selected, desc="checkpoints"):
            weights = weights_digest(folder)
            if all((step, weights, name) in known for name in sets):
                rows += [known[step, weights, name] for name in sets]
                continue
            model = DNABert2ForMaskedLM.from_pretrained(folder).eval()
            for name, masked in sets.items():
                metrics = score(model, masked, baselines[name], tokenizer, workdir)
                rows.append(
                    {
                        "step": step,
                        "tokens": step * tokens_per_step,
                        "set": name,
                        "weights": weights,
                        "loss": metrics["eval_loss"],
                        "accuracy": metrics["eval_accuracy"],
                    }
                )
                print(rows[-1], flush=True)
    last = max(r["step"] for r in rows)
    lines = [
        f"Masked-only scores of `{run_dir}` at step {last} ({last * tokens_per_step / 1e6:.1f}M tokens).",
        "",
        "| held-out set | masked tokens | model CE | composition CE | unigram CE | model - composition | "
        "model acc. | composition acc. | unigram acc. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in rows if r["step"] == last):
        b = baselines[r["set"]]
        lines.append(
            f"| {r['set']} | {b['masked_tokens']:,} | {r['loss']:.3f} | {b['composition_loss']:.3f} | "
            f"{b['unigram_loss']:.3f} | {r['loss'] - b['composition_loss']:+.3f} | {r['accuracy']:.2%} | "
            f"{b['composition_accuracy']:.2%} | {b['unigram_accuracy']:.2%} |"
        )
    table = write_report(
        args.output_dir, "pretraining_curve", lines, {"run": str(run_dir), "rows": rows, "baselines": baselines}
    )
    history = json.loads((selected[-1][1] / "trainer_state.json").read_text())["log_history"]
    learning_rates = [(h["step"] * tokens_per_step / 1e6, h["learning_rate"]) for h in history if "learning_rate" in h]
    plot(rows, baselines, table.with_suffix(".png"), learning_rates)
    print(f"and {table.with_suffix('.png')}")


def main():
    """The learning curve of --run_dir, or with --model the scores of one model folder beside the strict baselines."""
    (args,) = command_parser(CurveArguments, description=__doc__.split("\n\n")[0]).parse_args_into_dataclasses()
    if args.model_name_or_path:
        score_model(args)
    else:
        curve(args)


if __name__ == "__main__":
    run_command(main)
