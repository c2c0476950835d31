"""Forward FLOPs of BERT-style encoders from architecture facts, and the DNABERT-2 paper's FLOPs comparison.

Counts matrix multiplications only (2 FLOPs per multiply-add): per token and layer the QKV, output, and MLP
projections, plus 4 * L * hidden for attention scores and the weighted sum. Embedding lookups, norms and softmax
are ignored (a few percent).

The paper's comparison on GUE is ``python benchmarks/flops.py``.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Encoder:
    """What the FLOPs of an encoder depend on."""

    name: str
    hidden: int
    layers: int
    intermediate: int
    gated_mlp: bool


# Architecture facts: DNABERT-2 (docs/reference.md); DNABERT = BERT-base; NT-2500M-multi (Dalla-Torre et al. 2023):
# 32 layers, hidden 2560, FFN 10240, ungated.
DNABERT2 = Encoder("DNABERT-2 117M", 768, 12, 3072, True)
DNABERT = Encoder("DNABERT (6-mer)", 768, 12, 3072, False)
NT_2500M = Encoder("NT-2500M-multi", 2560, 32, 10240, False)


def linear_flops(encoder: Encoder, tokens: int) -> float:
    """FLOPs of the encoder's linear layers (QKV, output, MLP projections) over ``tokens`` tokens, forward only."""
    h, i = encoder.hidden, encoder.intermediate
    return float(encoder.layers * tokens * 2 * (h * 3 * h + h * h + h * (2 * i if encoder.gated_mlp else i) + i * h))


def forward_flops(encoder: Encoder, seq_len: int) -> float:
    """Matmul FLOPs of one forward pass over one sequence of ``seq_len`` tokens (no MLM head)."""
    return linear_flops(encoder, seq_len) + float(encoder.layers * seq_len * 4 * seq_len * encoder.hidden)


def read_out_linear_flops(encoder: Encoder, tokens: int, read_out: int) -> float:
    """Linear FLOPs of the encoder when only ``read_out`` of ``tokens`` positions are read (masked LM): every layer
    but the last at every token, the last layer's keys and values at every token and the rest (queries, output
    projection, MLP) at the ``read_out`` positions alone."""
    key_values = 2.0 * (tokens - read_out) * encoder.hidden * 2 * encoder.hidden
    return (
        linear_flops(replace(encoder, layers=encoder.layers - 1), tokens)
        + linear_flops(replace(encoder, layers=1), read_out)
        + key_values
    )


def read_out_forward_flops(encoder: Encoder, seq_len: int, read_out: int) -> float:
    """Matmul FLOPs of one forward pass over ``seq_len`` tokens read out at ``read_out`` of them (no MLM head):
    ``read_out_linear_flops`` plus attention, whose last layer has ``read_out`` queries."""
    attention = 4.0 * seq_len * encoder.hidden * ((encoder.layers - 1) * seq_len + read_out)
    return read_out_linear_flops(encoder, seq_len, read_out) + attention


def mlm_head_flops(hidden: int, vocab: int, tokens: int) -> float:
    """FLOPs of the MLM head (dense + decoder) at ``tokens`` positions."""
    return 2.0 * tokens * (hidden * hidden + hidden * vocab)


def token_counts(sequence_bp: int, bpe_tokens: int) -> dict:
    """Tokens (with [CLS]/[SEP]) for each model's tokenization of one sequence."""
    return {
        DNABERT2.name: bpe_tokens + 2,
        DNABERT.name: max(sequence_bp - 5, 1) + 2,  # overlapping 6-mers
        NT_2500M.name: -(-sequence_bp // 6) + 1,  # non-overlapping 6-mers and a [CLS]
    }


def relative_flops(sequences, tokenizer) -> dict:
    """Total forward FLOPs over ``sequences`` for each model, relative to DNABERT-2."""
    lengths = [len(ids) for ids in tokenizer(sequences, add_special_tokens=False)["input_ids"]]
    totals = {m.name: 0.0 for m in (DNABERT2, DNABERT, NT_2500M)}
    models = {m.name: m for m in (DNABERT2, DNABERT, NT_2500M)}
    for sequence, n_tokens in zip(sequences, lengths):
        for name, tokens in token_counts(len(sequence), n_tokens).items():
            totals[name] += forward_flops(models[name], tokens)
    return {name: total / totals[DNABERT2.name] for name, total in totals.items()}
