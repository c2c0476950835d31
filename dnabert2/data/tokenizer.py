"""The DNA BPE tokenizer (HF ``tokenizers``): loading it from a model folder, building and training it with the
published special-token ids."""

import random
from typing import Iterable, Iterator

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast
from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

from dnabert2.data.alphabet import ACGT, NUCLEOTIDES
from dnabert2.runtime.models import resolve_model

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


def load_tokenizer(model_dir):
    """The tokenizer saved in a model folder (read directly: no config, so no remote-code question); a folder that
    does not exist is ``InputError("model not found: ...")``."""
    return PreTrainedTokenizerFast.from_pretrained(resolve_model(model_dir, need_config=False))
