"""Tiny checkpoints in the official layouts of the paper's comparators, and a task such models learn (test helpers).

- DNABERT (``zhihan1996/DNA_bert_k``): ``BertForMaskedLM`` + ``vocab.txt`` of the 5 BERT specials and the 4^k k-mers,
  ``tokenizer_config.json`` with ``do_lower_case: false``.
- Nucleotide Transformer (``InstaDeepAI/nucleotide-transformer-*``): ``EsmForMaskedLM`` + ``vocab.txt`` of its 6
  specials, the 4,096 6-mers and the single bases, ``tokenizer_config.json`` naming ``EsmTokenizer``.
"""

import csv
import json
import random

from dnabert2.data.alphabet import ACGT
from dnabert2.data.tokenizer import kmer_vocabulary

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NT_SPECIALS = ["<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"]


def save_random_model(folder, model_class, config_class, vocab, hidden, layers, seed, **config):
    """A random masked-LM of a tiny size, saved in ``folder``."""
    import torch

    torch.manual_seed(seed)
    shape = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2, intermediate_size=2 * hidden)
    model_class(config_class(vocab_size=len(vocab), **shape, **config)).save_pretrained(folder)


def write_dnabert_checkpoint(folder, k=6, hidden=64, layers=2, seed=0):
    """A random DNABERT-layout k-mer BERT in ``folder``."""
    from transformers import BertConfig, BertForMaskedLM

    vocab = BERT_SPECIALS + kmer_vocabulary(k)
    save_random_model(folder, BertForMaskedLM, BertConfig, vocab, hidden, layers, seed, pad_token_id=0)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "max_len": 512}))
    specials = dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"), BERT_SPECIALS))
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    return folder


def nt_vocabulary() -> list[str]:
    """Nucleotide Transformer v1's vocabulary: 6 specials, the 4,096 6-mers, the single bases and N."""
    return NT_SPECIALS + kmer_vocabulary(6) + [*ACGT, "N"]


def write_nt_checkpoint(folder, hidden=64, layers=2, seed=0):
    """A random Nucleotide-Transformer-layout ESM in ``folder``."""
    from transformers import EsmConfig, EsmForMaskedLM

    vocab = nt_vocabulary()
    esm = dict(max_position_embeddings=1002, position_embedding_type="absolute", pad_token_id=1, mask_token_id=2)
    esm.update(emb_layer_norm_before=False, token_dropout=False)
    save_random_model(folder, EsmForMaskedLM, EsmConfig, vocab, hidden, layers, seed, **esm)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokens = dict(zip(("unk_token", "pad_token", "mask_token", "cls_token", "eos_token"), NT_SPECIALS))
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "EsmTokenizer", "model_max_length": 1000, **tokens})
    )
    (folder / "special_tokens_map.json").write_text(json.dumps(tokens))
    return folder


def gc_sequence(rng: random.Random, length: int, gc: float) -> str:
    """A random sequence whose bases are G or C with probability ``gc``."""
    return "".join(rng.choice("GC" if rng.random() < gc else "AT") for _ in range(length))


def write_gc_task(folder, sizes=(400, 100, 100), length=100, seed=0):
    """A GUE-layout task: label 1 sequences are GC-rich (70 %), label 0 AT-rich (30 %)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in zip(("train.csv", "dev.csv", "test.csv"), sizes):
        with open(folder / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            for i in range(size):
                writer.writerow([gc_sequence(rng, length, 0.7 if i % 2 else 0.3), i % 2])
    return folder
