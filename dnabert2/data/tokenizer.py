"""Tokenizers: the DNA BPE tokenizer (HF ``tokenizers``), built and trained with the published special-token ids,
and ``load_tokenizer``, which decides once how any model folder's sequences become tokens (this model's BPE,
DNABERT's overlapping k-mers, Nucleotide Transformer's 6-mers, any other Hugging Face tokenizer)."""

import itertools
import json
import random
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

from dnabert2.data.alphabet import ACGT, NUCLEOTIDES, is_acgt
from dnabert2.models import resolve_model
from dnabert2.runtime.errors import InputError

SPECIAL_TOKENS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]  # ids 0..4, as in the published tokenizer


def dna_normalizer() -> normalizers.Normalizer:
    """Upper-case nucleotide letters, U -> T, remove all whitespace (so 'acgt', 'ACGT' and 'AC GT\\n' agree)."""
    rules = [normalizers.Replace(Regex(r"\s+"), "")]
    rules += [normalizers.Replace(letter.lower(), letter) for letter in sorted(NUCLEOTIDES)]
    rules += [normalizers.Replace("u", "T"), normalizers.Replace("U", "T")]
    return normalizers.Sequence(rules)


def empty_dna_tokenizer() -> Tokenizer:
    """An untrained BPE tokenizer with the DNA normalizer, decoder and [CLS]/[SEP] templates."""
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.normalizer = dna_normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.Fuse()
    return tokenizer


def chunked(segments: Iterable[str], chunk_length: int, sample_fraction: float, seed: int) -> Iterator[str]:
    """Cut segments into training chunks of ``chunk_length`` bp, keeping each with probability ``sample_fraction``."""
    rng = random.Random(seed)
    for segment in segments:
        for start in range(0, len(segment), chunk_length):
            if sample_fraction >= 1 or rng.random() < sample_fraction:
                yield segment[start : start + chunk_length]


def train_bpe(
    chunks: Iterable[str], vocab_size: int, model_max_length: int = VERY_LARGE_INTEGER, show_progress: bool = True
):
    """Train BPE on DNA chunks; returns a ``PreTrainedTokenizerFast`` ready for ``save_pretrained``."""
    tokenizer = empty_dna_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=list(ACGT),
        limit_alphabet=4,
        show_progress=show_progress,
    )
    tokenizer.train_from_iterator(chunks, trainer=trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        padding_side="right",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def kmer_words(sequence: str, k: int) -> str:
    """``sequence`` as its overlapping k-mers separated by spaces, as DNABERT reads it (100 bp give 95 6-mers;
    a sequence shorter than k gives no word)."""
    return " ".join(sequence[i : i + k] for i in range(len(sequence) - k + 1))


def nonoverlapping_kmers(sequence: str, k: int = 6) -> list[str]:
    """``sequence`` cut as the Nucleotide Transformer's tokenizer cuts it: k-mers from the left, and single bases
    where a k-mer does not fit or would hold a letter other than A, C, G, T."""
    tokens, i = [], 0
    while i < len(sequence):
        word = sequence[i : i + k]
        if len(word) == k and is_acgt(word):
            tokens.append(word)
            i += k
        else:
            tokens.append(sequence[i])
            i += 1
    return tokens


def kmer_vocabulary(k: int) -> list[str]:
    """The 4^k k-mers over A, C, G, T in lexicographic order."""
    return ["".join(letters) for letters in itertools.product(ACGT, repeat=k)]


def vocabulary_kmer_length(vocabulary) -> int | None:
    """k when a vocabulary's tokens, apart from bracketed specials, are exactly the 4^k k-mers (DNABERT's
    ``vocab.txt``, k > 1); else None (BPE, Nucleotide Transformer's 6-mers plus single bases, ...)."""
    words = {token for token in vocabulary if not (token[:1] in "[<" and token[-1:] in "]>")}
    lengths = {len(word) for word in words}
    if len(lengths) != 1:
        return None
    (k,) = lengths
    return k if k > 1 and words == set(kmer_vocabulary(k)) else None


# The special tokens of the two k-mer tokenizers, in their official order (ids 0, 1, ...).
BERT_KMER_SPECIALS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]"}
BERT_KMER_SPECIALS["mask_token"] = "[MASK]"
NT_SPECIALS = {"unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>", "cls_token": "<cls>"}
NT_SPECIALS.update(eos_token="<eos>", bos_token="<bos>")
KMER_TOKENIZERS = ("kmer_overlapping", "kmer_nonoverlapping")


def write_kmer_tokenizer(folder, kind: str, k: int = 6) -> Path:
    """Write a k-mer tokenizer folder in its official layout: ``kmer_overlapping`` is DNABERT's (BERT word-level
    ``vocab.txt`` of the 5 BERT specials and the 4^k k-mers, read as overlapping k-mers), ``kmer_nonoverlapping``
    the Nucleotide Transformer's (``EsmTokenizer`` over 6 specials, the 4^k k-mers and the single bases and N:
    k-mers from the left, single bases where none fits). The NT-style one ends windows with ``<eos>`` as [SEP]."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "kmer_overlapping":
        vocab = list(BERT_KMER_SPECIALS.values()) + kmer_vocabulary(k)
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": False, **BERT_KMER_SPECIALS}
    elif kind == "kmer_nonoverlapping":
        vocab = list(NT_SPECIALS.values()) + kmer_vocabulary(k) + [*ACGT, "N"]
        config = {"tokenizer_class": "EsmTokenizer", "sep_token": NT_SPECIALS["eos_token"], **NT_SPECIALS}
    else:
        raise InputError(f"Unknown k-mer tokenizer {kind!r}; use one of {', '.join(KMER_TOKENIZERS)}.")
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": 512}, indent=2))
    return folder


class DNATokenizer:
    """A model folder's tokenizer behind the interface of this model's BPE tokenizer: called on sequences (one list
    per sequence column), ``pad``, ``save_pretrained``, and every other attribute of the wrapped tokenizer.

    With ``kmer`` (DNABERT) each sequence is first written as its overlapping k-mers separated by spaces, so lengths
    and limits count k-mer tokens. Encodings always carry ``token_type_ids`` (zeros where the tokenizer has none;
    models without segment ids drop them). Offsets (token and nucleotide pooling) need a fast tokenizer.
    """

    def __init__(self, tokenizer, kmer: int | None = None):
        self.tokenizer, self.kmer = tokenizer, kmer

    def __getattr__(self, name):
        if name in ("tokenizer", "kmer"):  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.tokenizer, name)

    def words(self, sequence):
        """What the wrapped tokenizer reads for one sequence (its k-mers with ``kmer``; else the sequence)."""
        return kmer_words(sequence, self.kmer) if self.kmer else sequence

    def __call__(self, *columns, return_offsets_mapping: bool = False, **kwargs):
        """Encode one column of sequences (a list, or one sequence) or two (pairs), as ``tokenizer(...)`` does."""
        if return_offsets_mapping and (self.kmer or not self.tokenizer.is_fast):
            raise InputError(
                "Token and nucleotide pooling need each token's bases, which this tokenizer "
                f"({type(self.tokenizer).__name__}{f', {self.kmer}-mers' if self.kmer else ''}) does not give: "
                "use --pooling mean or cls."
            )
        texts = [self.words(c) if isinstance(c, str) else [self.words(s) for s in c] for c in columns]
        if return_offsets_mapping:
            kwargs["return_offsets_mapping"] = True
        encoded = self.tokenizer(*texts, **kwargs)
        if "token_type_ids" not in encoded:
            ids = encoded["input_ids"]
            batched = bool(len(ids)) and not isinstance(ids[0], int)
            encoded["token_type_ids"] = [[0] * len(row) for row in ids] if batched else [0] * len(ids)
        return encoded

    def __len__(self):
        return len(self.tokenizer)


def _tokenizer_class_of(model_dir: Path) -> str | None:
    """The tokenizer class a folder's tokenizer_config.json names, if any."""
    config = model_dir / "tokenizer_config.json"
    return json.loads(config.read_text()).get("tokenizer_class") if config.is_file() else None


def load_tokenizer(model_dir, kmer: int | None = None, trust_remote_code: bool = True):
    """The tokenizer of a model folder (or Hub id), ready for DNA sequences; the one place that decides how a
    model's sequences become tokens.

    This model's BPE (a ``tokenizer.json``) is read directly (no config, so no remote-code question) and returned
    as is. Any other tokenizer (DNABERT's ``vocab.txt`` of k-mers, Nucleotide Transformer's ``EsmTokenizer``, any
    Hugging Face tokenizer, slow or fast) comes through ``AutoTokenizer`` wrapped in a ``DNATokenizer``.
    ``kmer``: None (default) reads a k-mer vocabulary as its k-mers and anything else as sequences; -1 (the
    release's flag for "no k-mers") and k say so, and an InputError says when the vocabulary disagrees.
    """
    folder = Path(resolve_model(model_dir, need_config=False))
    if kmer is not None and (kmer == 0 or kmer < -1):
        raise InputError(f"--kmer {kmer}: pass k (the k-mer length of a DNABERT model) or -1 (no k-mers).")
    generic = (None, "PreTrainedTokenizerFast", "TokenizersBackend")  # a tokenizer.json, no class of its own
    if (folder / "tokenizer.json").is_file() and _tokenizer_class_of(folder) in generic:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(model_dir)
    else:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    k = vocabulary_kmer_length(tokenizer.get_vocab())
    if kmer not in (None, -1) and k != kmer:
        found = f"a vocabulary of {k}-mers" if k else f"a {type(tokenizer).__name__} vocabulary that is not k-mers"
        raise InputError(
            f"--kmer {kmer} is for DNABERT models (a vocab.txt of the 4^k k-mers); {model_dir} has {found}: "
            + (f"pass --kmer {k}." if k else "pass --kmer -1 or leave it out.")
        )
    if kmer == -1 and k:
        raise InputError(
            f"{model_dir} reads {k}-mers (a DNABERT vocabulary): pass --kmer {k} (without it every sequence would "
            "be one unknown word)."
        )
    if k:
        probe = kmer_vocabulary(k)[27 % 4**k]
        if tokenizer.convert_tokens_to_ids(tokenizer.tokenize(probe)) != [tokenizer.convert_tokens_to_ids(probe)]:
            raise InputError(
                f"{model_dir}: its tokenizer does not read the k-mer {probe} as one token (is do_lower_case set in "
                "tokenizer_config.json? DNABERT's k-mers are upper case)."
            )
    if tokenizer.is_fast and not k and "token_type_ids" in tokenizer.model_input_names:
        return tokenizer  # this model's BPE and its like: nothing to adapt
    return DNATokenizer(tokenizer, k)
