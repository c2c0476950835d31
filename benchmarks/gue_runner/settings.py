"""What a GUE run is: the paper's per-task settings, task families, the command-line arguments and the settings
that results depend on."""

from dataclasses import dataclass, field

from dnabert2 import packaged
from dnabert2.runtime.arguments import model_field
from dnabert2.runtime.errors import InputError

# Paper settings (lr 3e-5, warmup 50, batch 32): config name prefix -> (model_max_length, epochs, max_steps).
TASK_SETTINGS = [
    ("EMP_", (128, 3, None)),
    ("prom_core_tata", (20, 10, None)),
    ("prom_core_", (20, 4, None)),
    ("prom_300_tata", (70, 10, None)),
    ("prom_300_", (70, 4, None)),
    ("splice_", (80, 5, None)),
    ("virus_covid", (256, 8, None)),
    ("mouse_", (30, 5, 1000)),
    ("tf_", (30, 3, None)),
    ("species", (32, 3, None)),
]

ARCHITECTURES = ("dnabert2", "cnn", "composition")  # --architecture: a model, or a baseline trained on the task alone

PAPER_VOCABULARY_SIZE = 4096  # the BPE the lengths above were set for; other vocabularies get their longest example

FAMILIES = [  # (label, config prefix, paper DNABERT-2 average; Zhou et al. 2024, Table 3)
    ("EMP", "EMP_", 55.98),
    ("TF-M", "mouse_", 67.99),
    ("CVC", "virus_", 71.02),
    ("TF-H", "tf_", 70.10),
    ("PD", "prom_300_", 84.21),
    ("CPD", "prom_core_", 70.52),
    ("SSP", "splice_", 84.99),
]

# --ablation's runs, each in <output_dir>/<side>: the pretrained model, the same fine-tuned on a random strand per
# example, random weights of its config, the one-hot CNN baseline and the base-composition baseline.
ABLATION_SIDES = ("pretrained", "pretrained_rc_augment", "from_scratch", "cnn", "composition")
# With --further_pretrained_model, one more side: that model, fine-tuned like the pretrained one.
FURTHER_PRETRAINED = "further_pretrained"

# Arguments that change the scores; results.json records them and a folder serves only one set of them.
SETTINGS = (
    "model",
    "model_weights",
    "learning_rate",
    "batch_size",
    "max_steps",
    "epochs_scale",
    "use_lora",
    "lora",
    "from_scratch",
    "rc_augment",
    "architecture",
    "kmer",
)


@dataclass
class GueArguments:
    model_name_or_path: str = model_field("Model to test (default: shipped).", str(packaged("model")))
    kmer: int | None = field(
        default=None,
        metadata={
            "help": "k-mer length of a DNABERT model (-1: none; default: from its vocabulary). Models other than "
            "DNABERT-2 with the paper's 4,096-token BPE (DNABERT, Nucleotide Transformer, DNABERT-2 with another BPE "
            "size, ...) get each task's longest sequence in their tokens as maximum length; it keeps the paper's."
        },
    )
    gue_dir: str | None = field(default=None, metadata={"help": "GUE root in the official CSV layout."})
    dataset_name: str | None = field(default=None, metadata={"help": "GUE as a Hub dataset (repo id or folder)."})
    tasks: str = field(default="complete", metadata={"help": "'complete', 'all' or comma-separated config names."})
    seeds: str = field(default="42", metadata={"help": "Comma-separated seeds; one fine-tuning run per task and seed."})
    output_dir: str = field(
        default="outputs/gue", metadata={"help": "Results folder (one set of settings per folder)."}
    )
    use_lora: bool = field(default=False, metadata={"help": "Fine-tune LoRA adapters instead of all weights."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank (with --use_lora)."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator (with --use_lora; NT's script: 16)."})
    lora_target_modules: str | None = field(
        default=None, metadata={"help": "Comma-separated LoRA targets (with --use_lora; default: per architecture)."}
    )
    learning_rate: float = field(default=3e-5, metadata={"help": "Peak learning rate (paper: 3e-5)."})
    batch_size: int = field(default=32, metadata={"help": "Training batch size per device (paper: 32)."})
    max_steps: int | None = field(default=None, metadata={"help": "Cap on steps per task (for CPU budgets)."})
    epochs_scale: float = field(default=1.0, metadata={"help": "Multiply the paper's epochs (e.g. 0.5)."})
    architecture: str = field(
        default="dnabert2",
        metadata={
            "help": "'dnabert2': the model of --model_name_or_path (any DNA language model), 'cnn': the one-hot "
            "CNN baseline, trained from scratch, or 'composition': logistic regression on base and dinucleotide "
            "frequencies (the trivial baseline; classification tasks)."
        },
    )
    rc_augment: bool = field(
        default=False, metadata={"help": "Fine-tune on a random strand per example (sequence or reverse complement)."}
    )
    rc_average: bool = field(
        default=False, metadata={"help": "Also score each test sequence as the mean of both strands (rc_average_*)."}
    )
    from_scratch: bool = field(
        default=False,
        metadata={"help": "Fine-tune random weights of the model's config (same tokenizer): the ablation."},
    )
    ablation: bool = field(
        default=False,
        metadata={
            "help": "Run pretrained, pretrained on both strands (--rc_augment), from scratch and the CNN "
            "baseline (<output_dir>/<side>) and compare them."
        },
    )
    further_pretrained_model: str | None = field(
        default=None,
        metadata={
            "help": "With --ablation: a model folder further MLM-pretrained on GUE training splits (the paper's "
            "'♦' model), run as one more side, further_pretrained, with the budgets and seeds of pretrained."
        },
    )
    contamination: str | None = field(
        default=None,
        metadata={
            "help": "gue_contamination.json (benchmarks/gue_contamination.py): the comparison shows each test "
            "set's overlap with the pretraining corpus."
        },
    )
    compare_with: str | None = field(
        default=None,
        metadata={"help": "Results folder of the opposite --from_scratch (same settings) to compare this run with."},
    )
    report_only: bool = field(
        default=False,
        metadata={"help": "Run nothing: write the comparison (--ablation or --compare_with) from the stored results."},
    )

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise InputError(f"--architecture must be one of {', '.join(ARCHITECTURES)}; got {self.architecture!r}.")


def settings_for(config_name):
    """(model_max_length, epochs, max_steps) of the paper for a task."""
    for prefix, values in TASK_SETTINGS:
        if config_name.startswith(prefix):
            return values
    raise InputError(f"No paper settings for task {config_name!r}.")


def metric_of(task) -> tuple[str, str]:
    """(metrics key, label) of the score reported for a task: F1 for virus_covid, MCC for every other task."""
    return ("eval_f1", "F1") if task.startswith("virus_covid") else ("eval_matthews_correlation", "MCC")


def family_of(task):
    """The GUE family label of a task (None for tasks outside the paper's families)."""
    return next((label for label, prefix, _ in FAMILIES if task.startswith(prefix)), None)
