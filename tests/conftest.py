"""Test set-up: offline Hub, Triton interpreter (set before any kernel module is imported), repo root on sys.path."""

import csv
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FIXTURE_FASTA = ROOT / "benchmarks" / "data" / "multispecies_mini.fa"
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)


# Prepended to subprocess scripts: makes the installed project invisible, as on a machine that only has a saved
# model folder (so the model must come through the Hub's remote-code loader).
HIDE_PROJECT = """
import importlib.abc, sys
class HideProject(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("modeling_dnabert2", "configuration_dnabert2", "bert_layers_triton", "dnabert2"):
            raise ImportError(name)
sys.meta_path.insert(0, HideProject())
"""


@pytest.fixture
def one_thread():
    """Torch on one thread for the test: tiny models train many times faster than on two contended threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_config():
    """A small DNABERT-2 config (fp32, dropout off) for fast exact comparisons."""
    from configuration_dnabert2 import DNABert2Config

    return DNABert2Config(
        vocab_size=4096,
        hidden_size=48,
        num_hidden_layers=2,
        num_attention_heads=6,
        intermediate_size=80,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def uneven_batch(lengths, vocab_size=4096, extra_padding=0, seed=0):
    """Right-padded random ids, attention mask and segment ids for sequences of the given lengths."""
    generator = torch.Generator().manual_seed(seed)
    seqlen = max(lengths) + extra_padding
    ids = torch.full((len(lengths), seqlen), 3, dtype=torch.long)
    mask = torch.zeros_like(ids)
    types = torch.zeros_like(ids)
    for row, length in enumerate(lengths):
        ids[row, :length] = torch.randint(5, vocab_size, (length,), generator=generator)
        mask[row, :length] = 1
        types[row, length // 2 : length] = 1
    return ids, mask, types


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory):
    """A small random DNABERT-2 MLM checkpoint with the shipped tokenizer."""
    from configuration_dnabert2 import DNABert2Config
    from dnabert2.data.tokenizer import load_tokenizer
    from modeling_dnabert2 import DNABert2ForMaskedLM

    folder = tmp_path_factory.mktemp("pretrained")
    config = DNABert2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    DNABert2ForMaskedLM(config).save_pretrained(folder)
    load_tokenizer(ROOT).save_pretrained(folder)
    return folder


def write_task(folder, rows_per_split=(96, 32, 32), pairs=False, labels=lambda i: i % 2):
    """A GUE-format task: label 1 sequences carry a TATAAA box."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in zip(("train", "dev", "test"), rows_per_split):
        with open(folder / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence1", "sequence2", "label"] if pairs else ["sequence", "label"])
            for i in range(count):
                sequence = "".join(rng.choice("ACGT") for _ in range(60))
                if i % 2:
                    sequence = sequence[:20] + "TATAAATATAAA" + sequence[32:]
                writer.writerow([sequence, sequence[::-1], labels(i)] if pairs else [sequence, labels(i)])
    return folder
