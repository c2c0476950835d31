"""Tokenizers at equal pretraining compute, scored on GUE: the paper's Table 2, Table 3 and Figure 2(c) in kind.

Models of one size (the shipped model's: 4 layers, hidden 256, 4 heads, FFN 1024), pretrained on the same corpus
with the same held-out species and the same pretraining FLOPs, differing in their tokens: BPE 256, 1024, 4096 and
16384 (trained afresh on the corpus's training files; DNABERT-2's architecture), DNABERT-style overlapping 6-mers
(BERT, spans of 6 masked) and NT-style non-overlapping 6-mers (ESM). Each is fine-tuned on GUE through the GUE runner
(same protocol, tasks and seeds) and compared with BPE 4096 by paired tests over seeds and a paired bootstrap over
test examples. Then the models named by --no_pretraining (default: the DNABERT-style one) are fine-tuned again from
random weights, as references: what their pretraining buys. One model at a time, resumable (a rerun skips what is
done):

    nohup python benchmarks/tokenization.py --gue_dir ../shared/data/GUE > tokenization.log 2>&1 &

Outputs in --output_dir: comparison.md, comparison.json, comparison.png (work files in --work_dir).
"""

import json
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from dnabert2.benchmarks.gue import main as gue
from dnabert2.benchmarks.gue_runner.runs import selected_tasks
from dnabert2.benchmarks.gue_runner.settings import FAMILIES, SETTINGS, family_of, metric_of
from dnabert2.benchmarks.gue_runner.statistics import paired_test
from dnabert2.benchmarks.gue_runner.store import read_predictions, read_results
from dnabert2.benchmarks.measure.flops import Encoder, forward_flops, mlm_head_flops
from dnabert2.data.fasta import expand_paths, read_segments
from dnabert2.data.tokenizer import KMER_TOKENIZERS, chunked, load_tokenizer, train_bpe, write_kmer_tokenizer
from dnabert2.data.windows import split_files
from dnabert2.pretraining.arguments import HELD_OUT_SPECIES, ModelArguments, build_model
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command
from dnabert2.runtime.files import write_text_atomic
from dnabert2.runtime.weights import weights_digest
from dnabert2.train.run_mlm import main as run_mlm

CONFIGS = Path(__file__).resolve().parents[1] / "train" / "configs"
ARCHITECTURES = {  # tokenizer kind -> (config file, gated MLP: DNABERT-2's GeGLU)
    "bpe": ("dnabert2-small.json", True),
    "kmer_overlapping": ("dnabert-kmer6-small.json", False),
    "kmer_nonoverlapping": ("nt-kmer6-small.json", False),
}
BASELINE = "bpe_4096"
PRETRAINING_SETTINGS = (  # a committed model's pretraining facts stand for the settings that share these
    "corpus",
    "validation_species",
    "pretraining_flops",
    "max_seq_length",
    "batch_size",
    "tokenizer_train_bp",
    "config_overrides",
)
PRETRAINING_FACTS = (
    "name",
    "tokenizer",
    "vocab_size",
    "parameters",
    "pretraining_flops",
    "pretraining_steps",
    "bp_seen_in_pretraining",
    "tokens_per_bp_held_out",
    "flops_500bp",
    "held_out_bits_per_base",
    "held_out_composition_bits_per_base",
    "folder",
)


@dataclass
class TokenizationStudyArguments:
    corpus: list[str] = field(
        metadata={"help": "Pretraining FASTA files or globs (e.g. '../shared/data/genomes/*.fa.gz')."}
    )
    gue_dir: str = field(metadata={"help": "GUE root in the official CSV layout (e.g. ../shared/data/GUE)."})
    validation_species: list[str] = field(
        default_factory=lambda: [f"{name}*" for name in HELD_OUT_SPECIES],
        metadata={"help": "Globs of the held-out species' files (default: the shipped model's)."},
    )
    models: str = field(
        default="bpe_4096,bpe_256,kmer_nonoverlapping,kmer_overlapping,bpe_1024,bpe_16384",
        metadata={
            "help": "bpe_<vocabulary>, kmer_overlapping, kmer_nonoverlapping (must include bpe_4096), run in this "
            "order: by default the k-mer models come early, as they carry the paper's central claim."
        },
    )
    pretraining_flops: float = field(
        default=1e14,
        metadata={
            "help": "Training FLOPs per model (3x forward matmul FLOPs), equal for all: 1e14 is about 880 steps of "
            "32 windows of 128 tokens for BPE 4096 at the shipped size (the shipped model had 7,000)."
        },
    )
    max_seq_length: int = field(default=128, metadata={"help": "Tokens per pretraining window."})
    batch_size: int = field(default=32, metadata={"help": "Pretraining windows per step."})
    tokenizer_train_bp: int = field(default=8_000_000, metadata={"help": "bp of training files for BPE."})
    config_overrides: str | None = field(default=None, metadata={"help": "For smoke tests: smaller models."})
    tasks: str = field(default="complete")
    seeds: str = field(default="1,2,3")
    gue_max_steps: int | None = field(default=300, metadata={"help": "Cap on fine-tuning steps per task."})
    gue_learning_rate: float = field(default=1e-4, metadata={"help": "Fine-tuning learning rate (every model)."})
    gue_epochs_scale: float = field(default=1.0)
    bootstrap: int = field(default=1000, metadata={"help": "Bootstrap replicates over test examples."})
    references: str = field(
        default="shipped model (8x the budget)=benchmarks/results/gue_ablation/pretrained,"
        "no pretraining (shipped config)=benchmarks/results/gue_ablation/from_scratch,"
        "one-hot CNN (no pretraining)=benchmarks/results/gue_ablation/cnn,"
        "base composition (logistic regression)=benchmarks/results/gue_ablation/composition",
        metadata={
            "help": "GUE results folders run with the same fine-tuning protocol, as name=folder pairs: shown beside "
            "the equal-compute models (not ranked with them), each with its paired tests against BPE 4096."
        },
    )
    no_pretraining: str = field(
        default="kmer_overlapping",
        metadata={
            "help": "Study models also fine-tuned from random weights of their config and tokenizer (same protocol), "
            "once every model is done: what their pretraining buys, tested against them. Default: the DNABERT-style "
            "model, whose pretraining stays on its composition plateau at this budget."
        },
    )
    work_dir: str = field(
        default="outputs/tokenization",
        metadata={
            "help": "Tokenizers, pretraining runs and their checkpoints (resumable; keep it between sessions: a model "
            "pretrained again on another machine may get other weights, and its unfinished GUE runs are redone)."
        },
    )
    output_dir: str = field(default="benchmarks/results/tokenization")


def tokenizer_kind(name: str) -> str:
    """bpe, kmer_overlapping or kmer_nonoverlapping."""
    return name if name in KMER_TOKENIZERS else "bpe"


def make_tokenizer(name: str, folder: Path, args: TokenizationStudyArguments, training_files) -> Path:
    """Write (once) the tokenizer of model ``name``: BPE trained on --tokenizer_train_bp of the training files (an
    equal share from each), or a fixed k-mer one."""
    if (folder / "tokenizer_config.json").exists():
        return folder
    if tokenizer_kind(name) != "bpe":
        return write_kmer_tokenizer(folder, name)
    vocab = int(name.split("_")[1])
    quota, taken = args.tokenizer_train_bp / len(training_files), []  # an equal share of every training file
    for path in training_files:
        total = 0
        for piece in chunked(read_segments([path], min_length=50), 1000, 1.0, 0):
            taken.append(piece)
            total += len(piece)
            if total >= quota:
                break
    train_bpe(taken, vocab, show_progress=False).save_pretrained(folder)
    return folder


def encoder_of(name: str, config: dict) -> Encoder:
    """The FLOPs facts of a model's architecture."""
    gated = ARCHITECTURES[tokenizer_kind(name)][1]
    return Encoder(name, config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"], gated)


def model_config(name: str, args: TokenizationStudyArguments) -> dict:
    """The config a model is built from, with the study's overrides applied."""
    config = json.loads((CONFIGS / ARCHITECTURES[tokenizer_kind(name)][0]).read_text())
    for item in (args.config_overrides or "").split(","):
        if item:
            key, value = item.split("=")
            config[key] = type(config[key])(value) if key in config else value
    return config


def step_flops(encoder: Encoder, vocab: int, args: TokenizationStudyArguments, mlm_probability=0.15) -> float:
    """Training FLOPs of one pretraining step: 3x the forward (encoder on full windows, MLM head where masked)."""
    tokens = args.max_seq_length
    forward = forward_flops(encoder, tokens) + mlm_head_flops(encoder.hidden, vocab, round(tokens * mlm_probability))
    return 3 * forward * args.batch_size


def tokens_per_bp(tokenizer, sequences) -> float:
    """Tokens (specials left out) per base over ``sequences``."""
    tokens = sum(len(ids) for ids in tokenizer(sequences, add_special_tokens=False)["input_ids"])
    return tokens / sum(map(len, sequences))


def pretrain(name: str, args, training_files, held_out_files, held_out_sample) -> dict:
    """Pretrain model ``name`` at the study's FLOPs (resumable); its facts for the comparison."""
    work = Path(args.work_dir)
    tokenizer_dir = make_tokenizer(name, work / "tokenizers" / name, args, training_files)
    tokenizer = load_tokenizer(tokenizer_dir)
    config = model_config(name, args)
    encoder = encoder_of(name, config)
    steps = max(1, int(args.pretraining_flops // step_flops(encoder, len(tokenizer), args)))
    folder = work / "models" / name
    if not (folder / "all_results.json").exists():
        run_mlm(
            [
                *("--config_name", str(CONFIGS / ARCHITECTURES[tokenizer_kind(name)][0])),
                *(["--config_overrides", args.config_overrides] if args.config_overrides else []),
                *("--tokenizer_name", str(tokenizer_dir), "--train_file", *map(str, training_files)),
                *("--validation_file", *map(str, held_out_files), "--validation_split_percentage", "0"),
                *("--max_seq_length", str(args.max_seq_length), "--output_dir", str(folder)),
                *("--max_steps", str(steps), "--per_device_train_batch_size", str(args.batch_size)),
                *("--max_eval_samples", "2000", "--eval_strategy", "no", "--disable_tqdm", "True"),
                *("--save_steps", str(max(1, steps // 8)), "--cache_dir", str(work / "cache" / name)),
            ]
        )
    results = json.loads((folder / "all_results.json").read_text())
    density = tokens_per_bp(tokenizer, held_out_sample)
    window_bp = (args.max_seq_length - 2) / density
    parameters = sum(int(np.prod(shape)) for shape in _parameter_shapes(folder))  # read from the saved weights
    return {
        "name": name,
        "tokenizer": tokenizer_kind(name),
        "vocab_size": len(tokenizer),
        "parameters": parameters,
        "pretraining_flops": steps * step_flops(encoder, len(tokenizer), args),
        "pretraining_steps": steps,
        "bp_seen_in_pretraining": steps * args.batch_size * window_bp,
        "tokens_per_bp_held_out": density,
        "flops_500bp": forward_flops(encoder, round(500 * density) + 2),
        "held_out_bits_per_base": results.get("eval_bits_per_base"),
        "held_out_composition_bits_per_base": composition_bits_per_base(results),
        "folder": str(folder),
    }


def committed_models(args) -> dict:
    """name -> pretraining facts of each model whose GUE runs (every --tasks x --seeds) are all in --output_dir, from
    the comparison.json there, when it was made with the same pretraining settings: a new machine, whose --work_dir
    is empty, resumes the study from the committed results without pretraining those models again."""
    path = Path(args.output_dir) / "comparison.json"
    if not path.exists():
        return {}
    report = json.loads(path.read_text())
    if any(report["settings"].get(key) != getattr(args, key) for key in PRETRAINING_SETTINGS):
        return {}
    tasks = selected_tasks(SimpleNamespace(gue_dir=args.gue_dir, dataset_name=None, tasks=args.tasks))
    seeds = args.seeds.split(",")
    done = {}
    for model in report["models"]:
        results = read_results(Path(args.output_dir) / "gue" / model["name"])[1]
        if all(seed in results.get(task, {}) for task in tasks for seed in seeds):
            done[model["name"]] = {key: model[key] for key in PRETRAINING_FACTS}
    return done


def untrained_folder(name: str, args, training_files) -> Path:
    """A folder with model ``name``'s config and tokenizer (random weights): what the references without pretraining
    are fine-tuned from, the pretrained checkpoint not needed (it may be on another machine)."""
    folder = Path(args.work_dir) / "untrained" / name
    if not (folder / "config.json").exists():
        tokenizer_dir = make_tokenizer(name, Path(args.work_dir) / "tokenizers" / name, args, training_files)
        tokenizer = load_tokenizer(tokenizer_dir)
        config_file = str(CONFIGS / ARCHITECTURES[tokenizer_kind(name)][0])
        model = build_model(ModelArguments(config_name=config_file, config_overrides=args.config_overrides), tokenizer)
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder


def composition_bits_per_base(results: dict) -> float | None:
    """The composition baseline's bits per base on the model's held-out masks: both losses are means over the same
    masked tokens, so the baseline's bits over the same bases scale with the ratio of the losses."""
    if results.get("eval_bits_per_base") is None:
        return None
    return results["eval_bits_per_base"] * results["eval_composition_loss"] / results["eval_loss"]


def _parameter_shapes(folder: Path):
    """Shapes of the tensors of a saved model's safetensors file."""
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as weights:
        for key in weights.keys():
            yield weights.get_slice(key).get_shape()


def scores(results: dict) -> dict:
    """task -> seed -> score x100 (the paper's metric) of a GUE results folder's results."""
    return {
        task: {seed: 100 * metrics[metric_of(task)[0]] for seed, metrics in by_seed.items()}
        for task, by_seed in results.items()
    }


def mcc(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Matthews correlation (multi-class, Gorodkin 2004) from the confusion matrix; 0 where it is undefined, as
    scikit-learn returns (fast enough for thousands of bootstrap replicates)."""
    classes = int(max(labels.max(), predictions.max())) + 1
    confusion = np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)
    true, predicted = confusion.sum(axis=1).astype(float), confusion.sum(axis=0).astype(float)
    correct, total = float(np.trace(confusion)), float(confusion.sum())
    denominator = np.sqrt((total**2 - predicted @ predicted) * (total**2 - true @ true))
    return float((correct * total - true @ predicted) / denominator) if denominator else 0.0


def mcc_or_f1(task: str, labels: np.ndarray, predictions: np.ndarray) -> float:
    """The task's metric x100 from labels and predicted classes."""
    if metric_of(task)[1] == "F1":
        from sklearn.metrics import f1_score

        return 100 * f1_score(labels, predictions, average="macro")
    return 100 * mcc(labels.astype(np.int64), predictions.astype(np.int64))


def bootstrap_difference(first: str, second: str, folders: dict, tasks, seeds, replicates: int) -> dict | None:
    """Paired bootstrap over test examples of (first - second), the mean over tasks of seed-averaged scores: the same
    resampled examples for both models; 95 % interval and the share of replicates at or below 0."""
    rng = np.random.default_rng(0)
    stored = {
        task: [(read_predictions(folders[first], task, s), read_predictions(folders[second], task, s)) for s in seeds]
        for task in tasks
    }
    if any(a is None or b is None for pairs in stored.values() for a, b in pairs):
        return None
    differences = np.zeros(replicates)
    for task, pairs in stored.items():
        labels = pairs[0][0]["labels"]
        for r in range(replicates):
            index = rng.integers(len(labels), size=len(labels))
            differences[r] += np.mean(
                [
                    mcc_or_f1(task, a["labels"][index], a["predictions"][index])
                    - mcc_or_f1(task, b["labels"][index], b["predictions"][index])
                    for a, b in pairs
                ]
            ) / len(stored)
    return {
        "replicates": replicates,
        "ci95": [float(np.percentile(differences, 2.5)), float(np.percentile(differences, 97.5))],
        "share_at_or_below_zero": float(np.mean(differences <= 0)),
    }


# the fine-tuning protocol: every setting of a GUE results folder except those that say which model was fine-tuned
PROTOCOL = tuple(
    key for key in SETTINGS if key not in ("model", "model_weights", "from_scratch", "architecture", "kmer")
)


def parse_references(references: str) -> dict:
    """name -> folder of each --references entry, checked to hold GUE results: when the study starts, not hours later
    when its first comparison is written."""
    folders = {}
    for item in filter(None, (x.strip() for x in references.split(","))):
        name, _, folder = item.rpartition("=")
        if not name or not read_results(folder)[0]:
            where = "" if Path(folder).is_absolute() else f" (relative to {Path.cwd()}: run from the repository root)"
            raise InputError(f"--references: {item!r} is not name=folder of GUE results (results.json){where}.")
        folders[name] = Path(folder)
    return folders


def reference_folders(references: str, baseline_folder: Path) -> dict:
    """name -> folder of each --references entry, checked to share the baseline's fine-tuning protocol."""
    folders = parse_references(references)
    baseline_settings = read_results(baseline_folder)[0]
    for folder in folders.values():
        differing = [key for key in PROTOCOL if read_results(folder)[0].get(key) != baseline_settings.get(key)]
        if differing:
            raise InputError(f"--references: {folder} was fine-tuned differently ({', '.join(differing)}).")
    return folders


def compare_models(
    models: list[dict], folders: dict, bootstrap: int, references: dict | None = None, pretrained_of: dict | None = None
) -> dict:
    """Per model: GUE mean (micro over tasks, macro over families), per family, ranks, paired tests vs BPE 4096;
    the same for each reference folder (over the same tasks and seeds; not ranked), and for a reference that is a
    study model without pretraining (``pretrained_of``: reference name -> model name) its tests against that model."""
    references, pretrained_of = references or {}, pretrained_of or {}
    folders = folders | references
    by_model = {m["name"]: scores(read_results(folders[m["name"]])[1]) for m in models}
    tasks = sorted(set.intersection(*(set(s) for s in by_model.values())))
    seeds = sorted(set.intersection(*(set(s[t]) for s in by_model.values() for t in tasks)), key=int) if tasks else []
    ranks = {name: {"first": 0, "second": 0} for name in by_model}
    reference_rows = []
    for name in references:
        by_model[name] = scores(read_results(references[name])[1])
        if any(seed not in by_model[name].get(task, {}) for task in tasks for seed in seeds):
            raise InputError(f"--references: {references[name]} lacks some of the tasks and seeds compared here.")
        reference_rows.append({"name": name, "folder": str(references[name]), "pretrained": pretrained_of.get(name)})
    task_means = {name: {t: float(np.mean([s[t][x] for x in seeds])) for t in tasks} for name, s in by_model.items()}
    for task in tasks:
        order = sorted(ranks, key=lambda name: -task_means[name][task])
        ranks[order[0]]["first"] += 1
        if len(order) > 1:
            ranks[order[1]]["second"] += 1
    for model in models + reference_rows:
        name = model["name"]
        families = {}
        for label, _, _ in FAMILIES:
            members = [t for t in tasks if family_of(t) == label]
            if members:
                families[label] = float(np.mean([task_means[name][t] for t in members]))
        per_seed = {seed: float(np.mean([by_model[name][t][seed] for t in tasks])) for seed in seeds}
        model.update(
            gue_mean=float(np.mean(list(task_means[name].values()))) if tasks else None,
            gue_mean_macro_families=float(np.mean(list(families.values()))) if families else None,
            families=families,
            task_scores=task_means[name],
            per_seed_mean=per_seed,
            tasks=len(tasks),
            seeds=seeds,
            **ranks.get(name, {}),
        )
    rows = {row["name"]: row for row in models + reference_rows}

    def tests(name: str, other: str) -> dict:
        return {
            "paired_t_over_seeds": paired_test(rows[name]["per_seed_mean"], rows[other]["per_seed_mean"]),
            "bootstrap_over_test_examples": bootstrap_difference(name, other, folders, tasks, seeds, bootstrap),
        }

    for row in models + reference_rows:
        if row["name"] != BASELINE:
            row["vs_bpe_4096"] = tests(row["name"], BASELINE)
        if row.get("pretrained") in rows:
            row["pretraining_gain"] = tests(row["pretrained"], row["name"])
    return {"tasks": tasks, "seeds": seeds, "models": models, "references": reference_rows}


def number(value, digits=2) -> str:
    """A table cell."""
    return "-" if value is None else f"{value:,.{digits}f}"


def markdown(report: dict) -> str:
    """comparison.md: Table 2 and Table 3 in kind, and the paired tests."""
    models = report["models"]
    base = next(m for m in models if m["name"] == BASELINE)
    lines = [
        "# Tokenizers at equal pretraining compute, scored on GUE",
        "",
        f"Command: `{report['command']}`. Pretraining FLOPs per model: {report['settings']['pretraining_flops']:.3g} "
        "(3x forward matmul FLOPs). GUE: "
        f"{len(report['tasks'])} tasks x seeds {', '.join(report['seeds'])}; scores x100 (MCC; F1 for virus_covid).",
        "",
        "| model | tokenizer | vocabulary | parameters | FLOPs, 500 bp (vs BPE 4096) | bp seen "
        "| held-out bits/base (composition) | GUE mean | families mean | first | second |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| {m['name']} | {m['tokenizer']} | {m['vocab_size']:,} | {m['parameters'] / 1e6:.1f}M | "
            f"{m['flops_500bp'] / base['flops_500bp']:.2f} | {m['bp_seen_in_pretraining']:.3g} | "
            f"{number(m['held_out_bits_per_base'], 3)} ({number(m['held_out_composition_bits_per_base'], 3)}) | "
            f"{number(m['gue_mean'])} | "
            f"{number(m['gue_mean_macro_families'])} | {m['first']} | {m['second']} |"
        )
    references = report.get("references", [])
    if references:
        lines += [
            "",
            "Reference points, fine-tuned with the same protocol on the same tasks and seeds but outside the "
            "equal-compute set (not ranked). By default: the shipped model (BPE 4096, same size, pretrained for about "
            "8x this budget), the same architecture fine-tuned from a random initialisation (no pretraining at all), "
            "a one-hot CNN trained from scratch (one input per base, 301k parameters), logistic regression on each "
            "sequence's base and dinucleotide frequencies (the trivial baseline: what composition alone decides), and "
            "each `--no_pretraining` study model fine-tuned from random weights of its config, with its tokenizer.",
            "",
            "| reference | GUE mean | families mean | results |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['name']} | {number(r['gue_mean'])} | {number(r['gue_mean_macro_families'])} | `{r['folder']}` |"
            for r in references
        ]
    families = [label for label, _, _ in FAMILIES if label in base["families"]]
    lines += ["", "## Per family", "", "| model | " + " | ".join(families) + " |", "|---" * (len(families) + 1) + "|"]
    for m in models + references:
        lines.append(f"| {m['name']} | " + " | ".join(number(m["families"].get(f)) for f in families) + " |")
    lines += paired_tests_table("Against BPE 4096", [(m["name"], m.get("vs_bpe_4096")) for m in models + references])
    gains = [(r["pretrained"], r["pretraining_gain"]) for r in references if "pretraining_gain" in r]
    if gains:
        lines += paired_tests_table(
            "What pretraining buys (the model minus the same fine-tuned from random weights)", gains
        )
    return "\n".join(lines) + "\n"


def paired_tests_table(title: str, rows: list[tuple[str, dict | None]]) -> list[str]:
    """Markdown lines of a table of paired tests: name, mean difference, t-test p, bootstrap interval."""
    lines = [
        "",
        f"## {title}",
        "",
        "| model | mean difference | paired t over seeds (p) | bootstrap 95 % |",
        "|---|---|---|---|",
    ]
    for name, tests in rows:
        if tests is None:
            continue
        test, boot = tests["paired_t_over_seeds"], tests["bootstrap_over_test_examples"]
        p = "-" if not test or test["p"] is None else f"{test['p']:.3g}"
        interval = "-" if not boot else f"[{boot['ci95'][0]:.2f}, {boot['ci95'][1]:.2f}]"
        lines.append(f"| {name} | {number(test['mean'] if test else None)} | {p} | {interval} |")
    return lines


KMER_MARKS = {  # how the figure shows each k-mer model: label, marker, label offset in points (the two share an x)
    "kmer_overlapping": ("DNABERT-style 6-mers", "^", (7, -9)),
    "kmer_nonoverlapping": ("NT-style 6-mers", "s", (7, 2)),
}


def plot(report: dict, path: Path):
    """comparison.png: GUE mean (micro over tasks, macro over families) against vocabulary size, k-mers marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    bpe = sorted((m for m in report["models"] if m["tokenizer"] == "bpe"), key=lambda m: m["vocab_size"])
    for key, label in (("gue_mean", "mean over tasks"), ("gue_mean_macro_families", "mean over families")):
        (line,) = axis.plot([m["vocab_size"] for m in bpe], [m[key] for m in bpe], marker="o", label=f"BPE, {label}")
        for m in report["models"]:
            if m["tokenizer"] != "bpe":
                name, marker, offset = KMER_MARKS[m["tokenizer"]]
                axis.scatter(m["vocab_size"], m[key], marker=marker, color=line.get_color(), zorder=3)
                axis.annotate(
                    name,
                    (m["vocab_size"], m[key]),
                    xytext=offset,
                    textcoords="offset points",
                    fontsize=7,
                    color=line.get_color(),
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},  # legible over reference lines
                )
    lines = [r for r in report.get("references", []) if not r.get("pretrained")]
    for reference, style in zip(lines, (":", "--", "-.", (0, (3, 1, 1, 1, 1, 1)))):
        axis.axhline(reference["gue_mean"], color="gray", linestyle=style, label=f"{reference['name']}, over tasks")
    for reference in report.get("references", []):  # a study model without pretraining: hollow, at its model's x
        model = next((m for m in report["models"] if m["name"] == reference.get("pretrained")), None)
        if model:
            marker = KMER_MARKS[model["tokenizer"]][1] if model["tokenizer"] in KMER_MARKS else "o"
            axis.scatter(
                model["vocab_size"],
                reference["gue_mean"],
                marker=marker,
                facecolors="none",
                edgecolors="black",
                zorder=3,
                label=f"{reference['name']}, over tasks",
            )
    axis.set_xscale("log", base=2)
    vocabularies = [m["vocab_size"] for m in report["models"]]
    axis.set_xlim(min(vocabularies) / 1.5, max(vocabularies) * 4)  # room for the k-mer labels on the right
    axis.set_xlabel("vocabulary size")
    axis.set_ylabel("GUE score (x100)")
    flops = report.get("settings", {}).get("pretraining_flops")
    axis.set_title(f"Equal pretraining compute ({flops:.0e} FLOPs per model)" if flops else "Tokenizers", fontsize=10)
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv=None):
    """Pretrain and fine-tune every model not yet done, then write the comparison."""
    parser = command_parser(
        TokenizationStudyArguments,
        usage="python benchmarks/tokenization.py [--models ...] [--pretraining_flops F] [--gue_dir GUE]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    names, without = planned(args)
    parse_references(args.references)
    training_files, held_out_files = split_files(expand_paths(args.corpus), args.validation_species)
    held_out_sample = [s[:500] for s, _ in zip(read_segments(held_out_files, min_length=500), range(200))]
    committed = committed_models(args)
    folders = {name: Path(args.output_dir) / "gue" / name for name in names}  # committed as each model completes
    models, pretrained_of = [committed[name] for name in names if name in committed], {}
    for name in (name for name in names if name not in committed):  # every comparison keeps the committed models
        model = pretrain(name, args, training_files, held_out_files, held_out_sample)
        set_aside_runs_of_other_weights(folders[name], Path(model["folder"]), args)
        fine_tune_on_gue(model["folder"], folders[name], args)
        models.append(model)
        report = write_comparison(models, folders, pretrained_of, args, argv, complete=False)
    for name in without:  # after every model: references, not part of the equal-compute set
        folder = Path(args.output_dir) / "gue" / f"{name}_no_pretraining"
        fine_tune_on_gue(str(untrained_folder(name, args, training_files)), folder, args, from_scratch=True)
        folders[f"no pretraining ({name})"], pretrained_of[f"no pretraining ({name})"] = folder, name
        report = write_comparison(models, folders, pretrained_of, args, argv, complete=name == without[-1])
    if not without:
        report = write_comparison(models, folders, pretrained_of, args, argv, complete=True)
    print(markdown(report))
    return report


def planned(args) -> tuple[list[str], list[str]]:
    """The study's models and those also fine-tuned without pretraining. The baseline comes first (partial reports
    compare with it), then the models pretrained (or being pretrained) in --work_dir: their weights live on this
    machine only, and their GUE runs are tied to those weights."""
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    if BASELINE not in names:
        raise InputError(f"--models must include {BASELINE}: every model is compared with it.")
    without = [name.strip() for name in args.no_pretraining.split(",") if name.strip()]
    if set(without) - set(names):
        raise InputError(f"--no_pretraining: {', '.join(sorted(set(without) - set(names)))} not in --models.")
    started = {name for name in names if (Path(args.work_dir) / "models" / name).exists()}
    return [BASELINE] + sorted((name for name in names if name != BASELINE), key=lambda n: n not in started), without


def set_aside_runs_of_other_weights(folder: Path, model_folder: Path, args):
    """Move a model's unfinished GUE runs out of --output_dir when they were made with other weights than those
    pretrained here (the model was pretrained again on another machine, whose floating point need not match
    this one's bit for bit), so that they are redone; they go to --work_dir/superseded."""
    settings, results = read_results(folder)
    stored = (settings or {}).get("model_weights")
    if not results or stored == weights_digest(model_folder):
        return
    target = Path(args.work_dir) / "superseded" / f"{folder.name}-{stored}"
    shutil.rmtree(target, ignore_errors=True)
    shutil.move(folder, target)
    print(
        f"{folder}: its GUE runs were made with weights {stored}, not those pretrained here; moved to {target}, "
        "to be redone.",
        file=sys.stderr,
    )


def fine_tune_on_gue(model_folder: str, output: Path, args, from_scratch: bool = False):
    """The study's GUE protocol for one model (its pretrained weights, or random ones of its config)."""
    gue(
        [
            *("--model_name_or_path", model_folder, "--gue_dir", args.gue_dir, "--tasks", args.tasks),
            *("--seeds", args.seeds, "--output_dir", str(output)),
            *("--epochs_scale", str(args.gue_epochs_scale), "--learning_rate", str(args.gue_learning_rate)),
            *(["--max_steps", str(args.gue_max_steps)] if args.gue_max_steps else []),
            *(["--from_scratch", "True"] if from_scratch else []),
        ]
    )


def write_comparison(models: list[dict], folders: dict, pretrained_of: dict, args, argv, complete: bool) -> dict:
    """The comparison of the models done so far (and of the study models fine-tuned without pretraining,
    ``pretrained_of``, done so far), written to --output_dir (a partial one says so)."""
    references = reference_folders(args.references, folders[BASELINE])
    references |= {name: folders[name] for name in pretrained_of}
    models = sorted(models, key=lambda m: (m["tokenizer"] != "bpe", m["vocab_size"]))  # rows: BPE by vocabulary
    report = compare_models(models, folders, args.bootstrap, references, pretrained_of)
    report["command"] = shlex.join(["python", "benchmarks/tokenization.py", *(sys.argv[1:] if argv is None else argv)])
    report["settings"] = asdict(args)
    report["complete"] = complete
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "comparison.json", json.dumps(report, indent=2, default=float))
    names, without = planned(args)
    partial = (
        ""
        if complete
        else f"**Partial**: {len(models)} of {len(names)} models and {len(pretrained_of)} of {len(without)} "
        "fine-tuned without pretraining done so far; rerun the command to continue.\n\n"
    )
    write_text_atomic(output / "comparison.md", partial + markdown(report))
    plot(report, output / "comparison.png")
    return report


if __name__ == "__main__":
    run_command(main)
