"""DNABERT-2: a post-LayerNorm BERT encoder over DNA BPE tokens with ALiBi attention and a gated-GELU MLP.

Reads top to bottom: ALiBi slopes and padding helpers, embeddings, attention (one table of implementations,
``ATTENTION_FUNCTIONS``, chosen once per forward by ``choose_attention``; ``query_subset_attention`` for a last layer
read out at a few positions only, as masked-LM training and likelihoods need), MLP, layer, encoder, pre-trained base,
heads.

Padding is removed once, right after the input checks: embeddings, linear layers and MLPs run on real tokens
only, packed as ``(total_tokens, hidden)`` with ``cu_seqlens``. Each attention implementation decides how to
batch those tokens. Hidden states are padded back once at the end (exact zeros at padded positions).

Module and parameter names follow the published checkpoint (``zhihan1996/DNABERT-2-117M``) so its
``pytorch_model.bin`` loads without conversion.
"""

import math
import os
import sys
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)
from transformers.utils import logging

try:
    from .configuration_dnabert2 import AUTO_MAP, DNABert2Config
except ImportError:  # imported as a top-level module (installed package or repository root on sys.path)
    from configuration_dnabert2 import AUTO_MAP, DNABert2Config

logger = logging.get_logger(__name__)

ATTENTION_IMPLEMENTATIONS = ("auto", "eager", "sdpa", "triton")
# Query rows x key columns x heads of one attention call in the blockwise path (64 Mi = 256 MB of fp32 scores if a
# backend materialised the strided bias or the scores; SDPA's CPU flash kernel does neither).
_BLOCK_BIAS_BUDGET = 1 << 26


# ----------------------------------------------------------------------------------------------------------------
# Helpers: ALiBi, packing
# ----------------------------------------------------------------------------------------------------------------


def alibi_slopes(num_heads: int, device=None) -> torch.Tensor:
    """ALiBi slopes in the published head order (Press et al.; as in the DNABERT-2 checkpoint).

    For a power of two ``n``: ``start = 2**(-8/n)`` and ``slope[k] = start**(k+1)``. Otherwise the slopes of the
    nearest lower power of two ``p`` come first, then every second slope of the list for ``2p``.
    """

    def powers(n):
        start = 2.0 ** (-8.0 / n)
        return [start ** (k + 1) for k in range(n)]

    lower = 2 ** int(math.floor(math.log2(num_heads)))
    slopes = powers(lower)
    if lower < num_heads:
        slopes += powers(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(slopes, dtype=torch.float32, device=device)


def alibi_bias(slopes: torch.Tensor, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
    """Symmetric ALiBi bias ``-slope[h] * |i - j|`` of shape (heads, queries, keys), in float32."""
    distance = (query_positions[:, None] - key_positions[None, :]).abs().float()
    return -slopes[:, None, None] * distance


@dataclass
class PackedBatch:
    """Where the real tokens of a right-padded (batch, seqlen) batch lie once padding is removed.

    ``indices`` are the flat positions of real tokens in the padded batch, ``cu_seqlens`` the cumulative
    sequence lengths (int32, batch + 1), ``max_seqlen`` the longest sequence, ``equal_lengths`` whether every
    sequence is that long.
    """

    indices: torch.Tensor
    cu_seqlens: torch.Tensor
    lengths: torch.Tensor
    max_seqlen: int
    batch_size: int
    seqlen: int
    equal_lengths: bool

    @classmethod
    def from_mask(cls, attention_mask: torch.Tensor) -> "PackedBatch":
        """Build from a 0/1 attention mask of shape (batch, seqlen)."""
        lengths = attention_mask.sum(dim=1, dtype=torch.int32)
        indices = torch.nonzero(attention_mask.flatten(), as_tuple=False).flatten()
        cu_seqlens = F.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))
        batch_size, seqlen = attention_mask.shape
        shortest, longest = torch.stack(torch.aminmax(lengths)).tolist()  # one device sync
        return cls(indices, cu_seqlens, lengths, longest, batch_size, seqlen, shortest == longest)

    def unpad(self, padded: torch.Tensor) -> torch.Tensor:
        """(batch, seqlen, ...) -> (total_tokens, ...)."""
        return padded.flatten(0, 1)[self.indices]

    def pad(self, tokens: torch.Tensor, seqlen: int | None = None) -> torch.Tensor:
        """(total_tokens, ...) -> (batch, seqlen, ...) with zeros at padded positions.

        With ``seqlen`` shorter than the input's (at least ``max_seqlen``), pads to that length instead.
        """
        seqlen = seqlen or self.seqlen
        out = tokens.new_zeros((self.batch_size * seqlen, *tokens.shape[1:]))
        out[self.indices_at(seqlen)] = tokens
        return out.view(self.batch_size, seqlen, *tokens.shape[1:])

    def indices_at(self, seqlen: int) -> torch.Tensor:
        """Flat positions of the real tokens in a right-padded batch of length ``seqlen`` (>= max_seqlen)."""
        if seqlen == self.seqlen:
            return self.indices
        rows = torch.div(self.indices, self.seqlen, rounding_mode="floor")
        return self.indices - rows * (self.seqlen - seqlen)

    def pad_weights(self, weights):
        """Pad per-layer attention weights (batch, heads, max_seqlen, max_seqlen) to the input length."""
        if weights is None:
            return None
        pad = self.seqlen - self.max_seqlen
        return tuple(F.pad(w, (0, pad, 0, pad)) for w in weights)

    def mean(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-sequence mean of packed rows: (total_tokens, ...) -> (batch, ...); padding never enters."""
        sequence = torch.repeat_interleave(torch.arange(self.batch_size, device=tokens.device), self.lengths.long())
        sums = tokens.new_zeros((self.batch_size, *tokens.shape[1:])).index_add_(0, sequence, tokens)
        return sums / self.lengths.to(tokens.dtype).view(-1, *([1] * (tokens.dim() - 1)))

    def first(self, tokens: torch.Tensor) -> torch.Tensor:
        """The first row ([CLS]) of each sequence: (total_tokens, ...) -> (batch, ...)."""
        return tokens[self.cu_seqlens[:-1].long()]

    def key_padding_mask(self) -> torch.Tensor:
        """(batch, max_seqlen) bool, True at real tokens."""
        positions = torch.arange(self.max_seqlen, device=self.lengths.device)
        return positions[None, :] < self.lengths[:, None]


@dataclass
class PackedEncoding:
    """The encoder's output on packed tokens: the last hidden state, and per layer on request.

    With ``rows`` set (an encoding read out at some positions), ``hidden`` holds the last hidden state at those
    packed tokens only, in batch-major order; ``mean`` then does not apply.
    """

    packed: PackedBatch
    hidden: torch.Tensor  # (total_tokens, hidden), or (len(rows), hidden)
    all_hidden: list | None
    weights: list | None
    rows: torch.Tensor | None = None

    def hidden_states(self):
        """Per-layer hidden states padded to the input shape (exact zeros at padding), or None."""
        return None if self.all_hidden is None else tuple(self.packed.pad(h) for h in self.all_hidden)

    def attentions(self):
        """Per-layer attention weights padded to the input length, or None."""
        return self.packed.pad_weights(self.weights)

    def mean(self) -> torch.Tensor:
        """(batch, hidden): the mean of the last hidden state over each sequence's real tokens.

        DNABERT-2's recommended sequence embedding (the published pooler was never trained).
        """
        return self.packed.mean(self.hidden)


def _check_inputs(config, input_ids, attention_mask, token_type_ids, inputs_embeds) -> tuple[int, int]:
    """Raise a clear ValueError for inputs that would otherwise give a silent wrong answer."""
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("Pass exactly one of input_ids and inputs_embeds.")
    if input_ids is not None:
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, seqlen), got {tuple(input_ids.shape)}.")
        if input_ids.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"input_ids must be an integer tensor, got {input_ids.dtype}.")
        shape = tuple(input_ids.shape)
    else:
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != config.hidden_size:
            raise ValueError(
                f"inputs_embeds must have shape (batch, seqlen, {config.hidden_size}), "
                f"got {tuple(inputs_embeds.shape)}."
            )
        shape = tuple(inputs_embeds.shape[:2])
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"Empty batch: inputs have shape {shape}.")
    for name, tensor in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)} but the inputs have shape {shape}.")
    # Value checks: each a 0-d bool tensor (True = bad) and its message; read back together, in one device sync.
    checks = []
    if input_ids is not None:
        checks.append(
            (
                ((input_ids < 0) | (input_ids >= config.vocab_size)).any(),
                lambda: (
                    f"input_ids hold ids outside the vocabulary [0, {config.vocab_size}): min {int(input_ids.min())}, "
                    f"max {int(input_ids.max())}. Was the right tokenizer used?"
                ),
            )
        )
    if token_type_ids is not None:
        checks.append(
            (
                ((token_type_ids < 0) | (token_type_ids >= config.type_vocab_size)).any(),
                lambda: f"token_type_ids must lie in [0, {config.type_vocab_size}).",
            )
        )
    if attention_mask is not None:
        lengths = attention_mask.sum(dim=1)
        positions = torch.arange(shape[1], device=attention_mask.device)
        checks += [
            (((attention_mask != 0) & (attention_mask != 1)).any(), lambda: "attention_mask must hold only 0 and 1."),
            (
                (lengths == 0).any(),
                lambda: f"attention_mask has rows without any real token: {torch.where(lengths == 0)[0].tolist()}.",
            ),
            (
                (attention_mask.bool() != (positions[None, :] < lengths[:, None])).any(),
                lambda: "attention_mask must be right-padded (ones, then zeros), as the tokenizer pads by default.",
            ),
        ]
    if checks:
        for failed, (_, message) in zip(torch.stack([bad for bad, _ in checks]).tolist(), checks):
            if failed:
                raise ValueError(message())
    return shape


# ----------------------------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------------------------


class DNABert2Embeddings(nn.Module):
    """Word + token-type embeddings, LayerNorm, dropout. No position embeddings: positions come from ALiBi."""

    def __init__(self, config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, inputs_embeds=None):
        """Embed packed tokens: ids (total_tokens,) or embeddings (total_tokens, hidden) -> (total_tokens, hidden)."""
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type = self.token_type_embeddings.weight[0]
        else:
            token_type = self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(inputs_embeds + token_type))


# ----------------------------------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------------------------------


_notices_given = set()


def _notice_once(message: str):
    if message not in _notices_given:
        _notices_given.add(message)
        logger.warning(message)


def _triton_kernels():
    """The bert_layers_triton module (imported lazily: Triton is optional)."""
    # "from .x import y" is the form the Hub's dynamic loader follows to copy bert_layers_triton.py along
    try:
        from .bert_layers_triton import triton_unavailable_reason
    except ImportError:  # imported as a top-level module
        from bert_layers_triton import triton_unavailable_reason
    return sys.modules[triton_unavailable_reason.__module__]


# Why the Triton kernel failed to compile or launch in this process, once it has: attention then stays on SDPA.
_triton_failure: str | None = None


class AttentionInputs:
    """What every layer's attention needs about the packed batch: the chosen function, the packing, the slopes.

    The padded ALiBi bias and its diagonals are built once per forward, on first use.
    """

    def __init__(self, packed: PackedBatch, slopes: torch.Tensor, implementation: str):
        self.packed = packed
        self.slopes = slopes
        self.implementation = implementation
        self._padded_bias = None
        self._diagonals = None

    def padded_bias(self, dtype) -> torch.Tensor:
        """(batch, heads, L, L) ALiBi bias plus key padding (large negative), for L = max_seqlen.

        Without padding (every sequence ``max_seqlen`` long) it is the ALiBi bias alone, (1, heads, L, L).
        """
        if self._padded_bias is None or self._padded_bias.dtype != dtype:
            positions = torch.arange(self.packed.max_seqlen, device=self.slopes.device)
            bias = alibi_bias(self.slopes, positions, positions).to(dtype)[None]
            if not self.packed.equal_lengths:
                keys = self.packed.key_padding_mask()[:, None, None, :]
                bias = bias.masked_fill(~keys, torch.finfo(dtype).min)
            self._padded_bias = bias
        return self._padded_bias

    def alibi_diagonals(self, dtype) -> torch.Tensor:
        """(heads, 2 L - 1) ALiBi bias along the anti-diagonals of the reversed-key bias, for L = max_seqlen.

        Entry ``m`` is ``-slope * |m - (L - 1)|``: the bias of query ``i`` and key ``L - 1 - j`` sits at ``m = i + j``.
        A sequence of length ``l <= L`` uses the entries from ``L - l`` on.
        """
        if self._diagonals is None or self._diagonals.dtype != dtype:
            longest = self.packed.max_seqlen
            positions = torch.arange(2 * longest - 1, device=self.slopes.device)
            self._diagonals = alibi_bias(self.slopes, positions[longest - 1 : longest], positions)[:, 0].to(dtype)
        return self._diagonals


def _to_padded_heads(x: torch.Tensor, packed: PackedBatch) -> torch.Tensor:
    """(total_tokens, heads, head_dim) -> (batch, heads, L, head_dim), L = max_seqlen, zeros at padding."""
    return packed.pad(x, packed.max_seqlen).transpose(1, 2)


def _from_padded_heads(x: torch.Tensor, packed: PackedBatch) -> torch.Tensor:
    """(batch, heads, L, head_dim) -> (total_tokens, heads, head_dim)."""
    return x.transpose(1, 2).flatten(0, 1)[packed.indices_at(packed.max_seqlen)]


def eager_attention(q, k, v, inputs: AttentionInputs, dropout_p: float):
    """Explicit matmul-softmax on the re-padded batch; the only implementation that returns the weights.

    q, k, v: (total_tokens, heads, head_dim). Returns the context, same shape, and weights (batch, heads, L, L).
    """
    q, k, v = (_to_padded_heads(x, inputs.packed) for x in (q, k, v))
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1]) + inputs.padded_bias(q.dtype)
    weights = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(q.dtype)
    weights = weights * inputs.packed.key_padding_mask()[:, None, :, None]  # padded queries attend nowhere
    context = torch.matmul(F.dropout(weights, p=dropout_p), v)
    return _from_padded_heads(context, inputs.packed), weights


def sdpa_attention(q, k, v, inputs: AttentionInputs, dropout_p: float):
    """One SDPA call on the re-padded batch with a dense (batch, heads, L, L) bias: GPUs, short inputs."""
    q, k, v = (_to_padded_heads(x, inputs.packed) for x in (q, k, v))
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=inputs.padded_bias(q.dtype), dropout_p=dropout_p)
    return _from_padded_heads(context, inputs.packed), None


def sdpa_equal_length_attention(q, k, v, inputs: AttentionInputs, dropout_p: float):
    """One SDPA call over (batch, heads, L, head_dim) when every sequence is L long: the packed tokens are the batch
    already (no padding, no copies), the bias one (1, heads, L, L) ALiBi tensor (CPU pretraining windows)."""
    shape = (inputs.packed.batch_size, inputs.packed.max_seqlen, *q.shape[1:])
    q, k, v = (x.view(shape).transpose(1, 2) for x in (q, k, v))
    context = F.scaled_dot_product_attention(q, k, v, attn_mask=inputs.padded_bias(q.dtype), dropout_p=dropout_p)
    return context.transpose(1, 2).flatten(0, 1), None


def sdpa_per_sequence_attention(q, k, v, inputs: AttentionInputs, dropout_p: float):
    """SDPA one sequence at a time, in query blocks, so memory grows linearly with length (CPU; long inputs on GPUs).

    The keys and values go in reversed order: then the bias of query ``i`` and reversed key ``j`` is
    ``diagonals[h, i + j + offset]``, a strided view of ``inputs.alibi_diagonals`` that costs no memory.
    """
    heads = q.shape[1]
    diagonals = inputs.alibi_diagonals(q.dtype)
    lengths = inputs.packed.lengths.tolist()
    contexts = []
    # split, not slicing: a slice's backward writes a zero tensor as large as the whole batch, per slice
    for queries, keys, values in zip(q.split(lengths), k.split(lengths), v.split(lengths)):
        length = queries.shape[0]
        # 4-D (1, heads, L, head_dim): with 3-D inputs SDPA on CPU falls back to its slow materialising math path
        keys = keys.flip(0).transpose(0, 1)[None]
        values = values.flip(0).transpose(0, 1)[None]
        # bounded even where a backend copies the strided mask (SDPA's CPU flash kernel reads it in place)
        block = max(16, min(length, _BLOCK_BIAS_BUDGET // (heads * length)))
        offset = diagonals.storage_offset() + inputs.packed.max_seqlen - length
        for query_block in queries.split(block):
            rows = query_block.shape[0]
            bias = diagonals.as_strided((1, heads, rows, length), (0, diagonals.stride(0), 1, 1), offset)
            queries = query_block.transpose(0, 1)[None]
            context = F.scaled_dot_product_attention(queries, keys, values, attn_mask=bias, dropout_p=dropout_p)
            contexts.append(context[0].transpose(0, 1))
            offset += rows
    return torch.cat(contexts), None


def triton_attention(q, k, v, inputs: AttentionInputs, dropout_p: float):
    """The Triton varlen FlashAttention kernel with in-kernel ALiBi (bert_layers_triton).

    If the forward kernel fails to compile or launch, this process falls back to SDPA for good, with one warning
    that names the error (the kernel has not yet been verified on every GPU, head size and dtype). A failure of the
    backward kernels is not caught: training with "triton" needs a GPU on which it has been verified.
    """
    global _triton_failure
    if dropout_p > 0:
        raise ValueError("The triton attention has no attention dropout; set attention_probs_dropout_prob=0.")
    if _triton_failure is None:
        try:
            packed = inputs.packed
            return _triton_kernels().flash_attn_varlen_alibi(
                q, k, v, packed.cu_seqlens, packed.max_seqlen, inputs.slopes
            ), None
        except Exception as error:  # compilation or launch: any Triton/driver error type
            _triton_failure = f"{type(error).__name__}: {error}"
            _notice_once(f"The Triton attention kernel failed ({_triton_failure}); using SDPA from now on.")
    return sdpa_per_sequence_attention(q, k, v, inputs, dropout_p)  # memory linear in length on every device


# The one table of attention implementations: name -> function(q, k, v, inputs, dropout_p) -> (context, weights).
ATTENTION_FUNCTIONS = {
    "eager": eager_attention,
    "sdpa": sdpa_attention,
    "sdpa_per_sequence": sdpa_per_sequence_attention,
    "sdpa_equal_length": sdpa_equal_length_attention,
    "triton": triton_attention,
}


def choose_attention(
    requested: str, hidden: torch.Tensor, packed: PackedBatch, output_attentions: bool, head_dim: int, block_size: int
) -> str:
    """The one place that decides which ``ATTENTION_FUNCTIONS`` entry runs, and says why when it falls back.

    "auto" is SDPA (per sequence on CPU and for inputs longer than ``block_size``; one call on CPU when every
    sequence has the same length). "triton" is opt-in: it runs on
    CUDA, or on CPU tensors under ``TRITON_INTERPRET=1`` (testing), else SDPA with a notice. Returning attention
    weights needs "eager".
    """
    if output_attentions:
        if requested != "eager":
            _notice_once(f"output_attentions=True: using eager attention instead of {requested!r} to return weights.")
        return "eager"
    if requested == "eager":
        return "eager"
    if requested == "triton":
        kernels = _triton_kernels()
        reason = _triton_failure or kernels.triton_unavailable_reason()
        if reason is None and not hidden.is_cuda and os.environ.get("TRITON_INTERPRET") != "1":
            reason = "the tensors are on the CPU"
        if reason is None and not kernels.HEAD_DIM_RANGE[0] <= head_dim <= kernels.HEAD_DIM_RANGE[1]:
            reason = f"head_dim {head_dim} is outside {kernels.HEAD_DIM_RANGE}"
        if reason is None:
            return "triton"
        _notice_once(f"attn_implementation='triton' is not usable ({reason}); falling back to 'sdpa'.")
    # One sequence at a time was faster on CPU at every length we measured (20-2048 tokens, inference and
    # training), unless every sequence has the same length (pretraining windows): then one call without padding is.
    # On GPUs the padded batch stays one call (not measured here) unless inputs are long.
    if packed.max_seqlen > block_size:
        return "sdpa_per_sequence"
    if hidden.is_cuda:
        return "sdpa"
    return "sdpa_equal_length" if packed.equal_lengths else "sdpa_per_sequence"


def packed_attention(qkv: torch.Tensor, inputs: AttentionInputs, num_heads: int, dropout_p: float):
    """Bidirectional ALiBi attention within each packed sequence, by ``inputs.implementation``.

    qkv: (total_tokens, 3 * hidden) with columns ordered (q|k|v) x heads x head_dim.
    Returns the context (total_tokens, hidden) and, for eager, the weights (batch, heads, L, L).
    """
    total = qkv.shape[0]
    q, k, v = qkv.view(total, 3, num_heads, -1).unbind(dim=1)
    context, weights = ATTENTION_FUNCTIONS[inputs.implementation](q, k, v, inputs, dropout_p)
    return context.reshape(total, -1), weights


def query_subset_attention(q, kv, rows: torch.Tensor, inputs: AttentionInputs, num_heads: int, dropout_p: float):
    """Attention with queries at some packed tokens only and keys and values at every token of their sequences: the
    last layer of a masked LM read out at a few positions.

    q: (len(rows), hidden) at the packed tokens ``rows`` (ascending); kv: (total_tokens, 2 * hidden), columns
    (k|v) x heads x head_dim. Returns the context (len(rows), hidden). Each sequence holding queries becomes one row
    of an SDPA batch: its queries padded to the most any sequence holds, its keys to ``max_seqlen``, with an explicit
    ALiBi + key-padding bias; sequences go in groups whose bias stays within ``_BLOCK_BIAS_BUDGET`` entries.
    """
    packed, count = inputs.packed, rows.shape[0]
    q = q.view(count, num_heads, -1)
    k, v = kv.view(kv.shape[0], 2, num_heads, -1).unbind(dim=1)
    if count == 0:
        return q.flatten(1), None
    sequence = torch.searchsorted(packed.cu_seqlens[1:].long(), rows, right=True)
    position = rows - packed.cu_seqlens[sequence].long()
    holders, holder, per_holder = torch.unique_consecutive(sequence, return_inverse=True, return_counts=True)
    slot = torch.arange(count, device=rows.device) - F.pad(per_holder.cumsum(0), (1, 0))[holder]
    most = int(per_holder.max())
    queries = q.new_zeros(holders.shape[0], most, *q.shape[1:])
    queries[holder, slot] = q
    query_positions = torch.zeros(holders.shape[0], most, dtype=torch.long, device=rows.device)
    query_positions[holder, slot] = position
    keys, values = (_to_padded_heads(x, packed)[holders] for x in (k, v))
    key_positions = torch.arange(packed.max_seqlen, device=rows.device)
    real_keys = key_positions[None, :] < packed.lengths[holders, None]
    group = max(1, _BLOCK_BIAS_BUDGET // (num_heads * most * packed.max_seqlen))
    contexts = []
    for start in range(0, holders.shape[0], group):
        part = slice(start, start + group)
        distance = (query_positions[part, :, None] - key_positions[None, None, :]).abs().float()
        bias = (-inputs.slopes[None, :, None, None] * distance[:, None]).to(q.dtype)
        bias = bias.masked_fill(~real_keys[part, None, None, :], torch.finfo(q.dtype).min)
        context = F.scaled_dot_product_attention(
            queries[part].transpose(1, 2), keys[part], values[part], attn_mask=bias, dropout_p=dropout_p
        )
        contexts.append(context.transpose(1, 2))
    return torch.cat(contexts)[holder, slot].flatten(1), None


class DNABert2SelfAttention(nn.Module):
    """Fused QKV projection followed by ALiBi attention on packed tokens."""

    def __init__(self, config):
        super().__init__()
        self.num_attention_heads = config.num_attention_heads
        self.dropout_p = config.attention_probs_dropout_prob
        self.Wqkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)

    def forward(self, hidden_states, inputs: AttentionInputs, output_attentions=False, rows=None):
        """The context at every packed token, or with ``rows`` only there (queries there, keys and values at all)."""
        dropout_p = self.dropout_p if self.training else 0.0
        if rows is None:
            return packed_attention(self.Wqkv(hidden_states), inputs, self.num_attention_heads, dropout_p)
        hidden = hidden_states.shape[-1]
        weight, bias = self.Wqkv.weight, self.Wqkv.bias
        q = F.linear(hidden_states[rows], weight[:hidden], bias[:hidden])
        kv = F.linear(hidden_states, weight[hidden:], bias[hidden:])
        return query_subset_attention(q, kv, rows, inputs, self.num_attention_heads, dropout_p)


class DNABert2SelfOutput(nn.Module):
    """Output projection, dropout, residual, post-LayerNorm."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, context, residual):
        return self.LayerNorm(self.dropout(self.dense(context)) + residual)


class DNABert2Attention(nn.Module):
    """Attention block: self-attention then output projection with residual and LayerNorm."""

    def __init__(self, config):
        super().__init__()
        self.self = DNABert2SelfAttention(config)
        self.output = DNABert2SelfOutput(config)

    def forward(self, hidden_states, inputs: AttentionInputs, output_attentions=False, rows=None):
        """The block's output at every packed token, or with ``rows`` (packed indices) only there."""
        context, weights = self.self(hidden_states, inputs, output_attentions, rows)
        return self.output(context, hidden_states if rows is None else hidden_states[rows]), weights


# ----------------------------------------------------------------------------------------------------------------
# MLP, layer, encoder
# ----------------------------------------------------------------------------------------------------------------


# hidden_act -> F.gelu's ``approximate``: the activations whose gated product runs as ``_GatedGelu``
_GELU_APPROXIMATIONS = {"gelu": "none", "gelu_pytorch_tanh": "tanh"}


class _GatedGelu(torch.autograd.Function):
    """gelu(first half) * second half of the last dimension. The backward writes the gradients of both halves into
    one tensor, where autograd's split would allocate them apart and then concatenate them."""

    @staticmethod
    def forward(ctx, projected, approximate):
        gated, linear = projected.chunk(2, dim=-1)
        activated = F.gelu(gated, approximate=approximate)
        ctx.approximate = approximate
        ctx.save_for_backward(gated, linear, activated)
        return activated * linear

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        gated, linear, activated = ctx.saved_tensors
        grad_projected = grad.new_empty(*grad.shape[:-1], 2 * grad.shape[-1])
        grad_gated, grad_linear = grad_projected.chunk(2, dim=-1)
        torch.ops.aten.gelu_backward.grad_input(
            grad * linear, gated, approximate=ctx.approximate, grad_input=grad_gated
        )
        torch.mul(grad, activated, out=grad_linear)
        return grad_projected, None


class DNABert2GatedMLP(nn.Module):
    """Gated GELU unit: act(first half) * second half of one bias-free projection, dropout, output, residual, LN."""

    def __init__(self, config):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gated_layers = nn.Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.act = ACT2FN[config.hidden_act]
        self.approximate = _GELU_APPROXIMATIONS.get(config.hidden_act)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.wo = nn.Linear(config.intermediate_size, config.hidden_size)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        projected = self.gated_layers(hidden_states)
        if self.approximate is None:  # any other activation: autograd through split
            gated, linear = projected.split(self.intermediate_size, dim=-1)
            product = self.act(gated) * linear
        else:
            product = _GatedGelu.apply(projected, self.approximate)
        return self.layernorm(self.wo(self.dropout(product)) + hidden_states)


class DNABert2Layer(GradientCheckpointingLayer):
    """One post-LN encoder layer on packed tokens.

    With ``rows`` (packed indices, ascending) it computes its output only at those tokens: their queries attend to
    every token's keys and values, and the output projection and MLP run there alone.
    """

    def __init__(self, config):
        super().__init__()
        self.attention = DNABert2Attention(config)
        self.mlp = DNABert2GatedMLP(config)

    def forward(self, hidden_states, inputs: AttentionInputs, output_attentions=False, rows=None):
        hidden_states, weights = self.attention(hidden_states, inputs, output_attentions, rows)
        return self.mlp(hidden_states), weights


class DNABert2Encoder(nn.Module):
    """Stack of layers; collects per-layer packed hidden states and attention weights on request.

    With ``last_layer_rows`` the last layer runs at those packed tokens only (``DNABert2Layer``), and the output holds
    those rows alone: what a masked-LM head reads at a few positions needs nothing more.
    """

    def __init__(self, config):
        super().__init__()
        self.layer = nn.ModuleList([DNABert2Layer(config) for _ in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states,
        inputs: AttentionInputs,
        output_attentions=False,
        output_hidden_states=False,
        last_layer_rows=None,
    ):
        all_hidden = [hidden_states] if output_hidden_states else None
        all_weights = [] if output_attentions else None
        for number, layer in enumerate(self.layer, start=1):
            rows = last_layer_rows if number == len(self.layer) else None
            hidden_states, weights = layer(hidden_states, inputs, output_attentions, rows=rows)
            if output_hidden_states:
                all_hidden.append(hidden_states)
            if output_attentions:
                all_weights.append(weights)
        return hidden_states, all_hidden, all_weights


class DNABert2Pooler(nn.Module):
    """tanh(dense([CLS] state)). Untrained in the published checkpoint: prefer mean pooling for embeddings."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense.identity_init = True  # see DNABert2PreTrainedModel._init_weights
        self.activation = nn.Tanh()

    def forward(self, first_token_states):
        return self.activation(self.dense(first_token_states))


# ----------------------------------------------------------------------------------------------------------------
# Pre-trained base and models
# ----------------------------------------------------------------------------------------------------------------


class DNABert2PreTrainedModel(PreTrainedModel):
    """Weight initialisation, attention-implementation choice and remote-code metadata shared by all heads."""

    config_class = DNABert2Config
    base_model_prefix = "bert"
    supports_gradient_checkpointing = True
    _no_split_modules = ["DNABert2Layer"]
    _supports_sdpa = True
    # Trainer must not rescale the loss by the number of processes: forward averages over labelled tokens.
    accepts_loss_kwargs = False
    # Not reported missing on load: checkpoints without a pooler get the identity pooler of _init_weights on purpose.
    _keys_to_ignore_on_load_missing = [r"(^|\.)pooler\.dense\.(weight|bias)$"]
    # Nor reported unexpected: an encoder or a classifier loaded from a masked-LM checkpoint leaves its MLM head out.
    _keys_to_ignore_on_load_unexpected = [r"^cls\.predictions\."]

    def get_correct_attn_implementation(self, requested_attention, is_init_check=False):
        """Accept "eager", "sdpa", "triton" or None/"auto" (decided at forward time from device and dtype)."""
        requested = requested_attention or "auto"
        if requested not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(f"attn_implementation must be one of {ATTENTION_IMPLEMENTATIONS}, got {requested!r}.")
        return requested

    def _init_weights(self, module):
        """Normal(0, initializer_range) linear and embedding weights, zero biases, unit LayerNorms.

        The pooler starts as the identity (tanh of the [CLS] state): published and MLM checkpoints hold no pooler,
        and a random one would make every load of a classifier, and every plain-peft round trip, differ.
        """
        std = self.config.initializer_range
        if isinstance(module, nn.Linear) and getattr(module, "identity_init", False):  # the pooler's dense layer
            init.eye_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)


class DNABert2Model(DNABert2PreTrainedModel):
    """The bare DNABERT-2 encoder. ``last_hidden_state`` is (batch, seqlen, hidden), zeros at padding.

    For a sequence embedding use :meth:`embed` (mask-aware mean pooling), not ``pooler_output``.
    """

    def __init__(self, config, add_pooling_layer=True):
        super().__init__(config)
        self.embeddings = DNABert2Embeddings(config)
        self.encoder = DNABert2Encoder(config)
        self.pooler = DNABert2Pooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self):
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value):
        self.embeddings.word_embeddings = value

    def encode_packed(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        read_out=None,
    ) -> PackedEncoding:
        """Run the encoder on the real tokens; every head starts here. Output flags default to the config's.

        ``read_out`` (batch, seqlen) bool: the positions whose last hidden state is wanted (padding is never read).
        The encoding then holds them alone (``rows``), and the last layer runs only there (queries, output
        projection, MLP; keys and values at every token), unless every position's hidden states or attention
        weights were asked for: then it runs whole and is read out after.
        """
        output_attentions = bool(output_attentions if output_attentions is not None else self.config.output_attentions)
        output_hidden_states = bool(
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        batch_size, seqlen = _check_inputs(self.config, input_ids, attention_mask, token_type_ids, inputs_embeds)
        device = (input_ids if input_ids is not None else inputs_embeds).device
        if attention_mask is None:
            attention_mask = torch.ones(batch_size, seqlen, dtype=torch.long, device=device)
        packed = PackedBatch.from_mask(attention_mask)
        hidden = self.embeddings(
            input_ids=None if input_ids is None else packed.unpad(input_ids),
            token_type_ids=None if token_type_ids is None else packed.unpad(token_type_ids),
            inputs_embeds=None if inputs_embeds is None else packed.unpad(inputs_embeds),
        )
        implementation = choose_attention(
            self.config._attn_implementation or "auto",
            hidden,
            packed,
            output_attentions,
            self.config.hidden_size // self.config.num_attention_heads,
            self.config.attention_block_size,
        )
        inputs = AttentionInputs(packed, alibi_slopes(self.config.num_attention_heads, device), implementation)
        if read_out is None:
            return PackedEncoding(packed, *self.encoder(hidden, inputs, output_attentions, output_hidden_states))
        rows = torch.nonzero(packed.unpad(read_out), as_tuple=False).flatten()
        whole = output_attentions or output_hidden_states
        hidden, all_hidden, weights = self.encoder(
            hidden, inputs, output_attentions, output_hidden_states, None if whole else rows
        )
        return PackedEncoding(packed, hidden[rows] if whole else hidden, all_hidden, weights, rows)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """Encode a right-padded batch. Returns ``BaseModelOutputWithPooling`` (or a tuple with return_dict=False)."""
        encoding = self.encode_packed(
            input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        output = BaseModelOutputWithPooling(
            last_hidden_state=encoding.packed.pad(encoding.hidden),
            pooler_output=self.pooler(encoding.packed.first(encoding.hidden)) if self.pooler is not None else None,
            hidden_states=encoding.hidden_states(),
            attentions=encoding.attentions(),
        )
        return output if return_dict is not False else output.to_tuple()

    @torch.no_grad()
    def embed(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """Sequence embeddings (batch, hidden): mask-aware mean of the last hidden state over real tokens."""
        return self.encode_packed(input_ids, attention_mask, token_type_ids).mean()


class DNABert2PredictionHeadTransform(nn.Module):
    """dense -> GELU -> LayerNorm before the MLM decoder."""

    def __init__(self, config):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states):
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class DNABert2LMPredictionHead(nn.Module):
    """Transform then decoder to vocabulary logits; the decoder weight is tied to the word embeddings."""

    def __init__(self, config):
        super().__init__()
        self.transform = DNABert2PredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)

    def forward(self, hidden_states):
        return self.decoder(self.transform(hidden_states))


class DNABert2OnlyMLMHead(nn.Module):
    """Holds the prediction head under the published key names (``cls.predictions.*``)."""

    def __init__(self, config):
        super().__init__()
        self.predictions = DNABert2LMPredictionHead(config)

    def forward(self, hidden_states):
        return self.predictions(hidden_states)


class DNABert2ForMaskedLM(DNABert2PreTrainedModel):
    """DNABERT-2 with the masked-language-modelling head.

    In training with ``labels`` and ``config.sparse_prediction``, logits are computed only at labelled positions
    and returned flat, shape (num_labelled, vocab), in batch-major order; otherwise (batch, seqlen, vocab). There the
    last encoder layer also runs only at the labelled positions (``DNABert2Model.encode_packed``'s ``read_out``), as
    does ``logits_at`` for any positions.
    The loss is the mean cross-entropy over positions whose label is not -100 (every token id counts, [UNK] too).
    """

    _tied_weights_keys = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.bert = DNABert2Model(config, add_pooling_layer=False)
        self.cls = DNABert2OnlyMLMHead(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """Masked-LM logits and, with ``labels`` (-100 = ignore), the loss. Returns ``MaskedLMOutput``."""
        sparse = labels is not None and self.training and self.config.sparse_prediction
        encoding = self.bert.encode_packed(
            input_ids,
            attention_mask,
            token_type_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            read_out=labels != -100 if sparse else None,
        )
        packed, hidden = encoding.packed, encoding.hidden
        loss = None
        if labels is not None:
            if tuple(labels.shape) != (packed.batch_size, packed.seqlen):
                raise ValueError(
                    f"labels has shape {tuple(labels.shape)}, expected {(packed.batch_size, packed.seqlen)}."
                )
            packed_labels = packed.unpad(labels)
        if sparse:
            logits = self.cls(hidden)
            loss = F.cross_entropy(logits.float(), packed_labels[encoding.rows])
        else:
            logits = self.cls(hidden)
            if labels is not None:
                loss = F.cross_entropy(logits.float(), packed_labels, ignore_index=-100)
            logits = packed.pad(logits)
        output = MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=encoding.hidden_states(), attentions=encoding.attentions()
        )
        return output if return_dict is not False else output.to_tuple()

    def logits_at(self, input_ids, positions, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """Masked-LM logits at ``positions`` ((batch, seqlen) bool; padding never counts) alone, flat in batch-major
        order, (num_positions, vocab): the head, and the last encoder layer, run only there."""
        return self.cls(self.bert.encode_packed(input_ids, attention_mask, token_type_ids, read_out=positions).hidden)


def _classification_loss(config, logits, labels, num_labels):
    """Cross-entropy, BCE-with-logits or MSE according to ``config.problem_type`` (inferred as HF BERT does)."""
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(-1).float(), labels.float().view(-1))
        return F.mse_loss(logits.float(), labels.float())
    if config.problem_type == "single_label_classification":
        if labels.numel() and (labels.max() >= num_labels or labels.min() < -100):
            raise ValueError(
                f"Labels must lie in [0, {num_labels}) (or -100 to ignore), got {labels.unique().tolist()}."
            )
        return F.cross_entropy(logits.view(-1, num_labels).float(), labels.reshape(-1).long(), ignore_index=-100)
    if config.problem_type == "multi_label_classification":
        return F.binary_cross_entropy_with_logits(logits.float(), labels.float())
    raise ValueError(f"Unknown problem_type {config.problem_type!r}.")


class DNABert2ForSequenceClassification(DNABert2PreTrainedModel):
    """Sequence classification or regression: pooled representation, dropout, linear layer.

    Pooling is ``config.classifier_pooling``: "cls" (tanh pooler on [CLS], as the original fine-tuning code) or
    "mean" (mask-aware mean pooling). ``problem_type`` selects single-label, multi-label or regression losses.
    """

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = DNABert2Model(config, add_pooling_layer=True)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def logits_from(self, encoding: PackedEncoding) -> torch.Tensor:
        """(batch, num_labels) logits of an encoding (from ``self.bert.encode_packed``), by ``classifier_pooling``."""
        if self.config.classifier_pooling == "mean":
            pooled = encoding.mean()
        else:
            pooled = self.bert.pooler(encoding.packed.first(encoding.hidden))
        return self.classifier(self.dropout(pooled))

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """Logits (batch, num_labels) and, with ``labels``, the loss. Returns ``SequenceClassifierOutput``."""
        encoding = self.bert.encode_packed(
            input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        logits = self.logits_from(encoding)
        loss = _classification_loss(self.config, logits, labels, self.num_labels) if labels is not None else None
        output = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=encoding.hidden_states(), attentions=encoding.attentions()
        )
        return output if return_dict is not False else output.to_tuple()


class DNABert2ForTokenClassification(DNABert2PreTrainedModel):
    """Per-token classification (e.g. annotation of each BPE token). Labels of -100 are ignored."""

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = DNABert2Model(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        """Logits (batch, seqlen, num_labels), zeros at padding, and with ``labels`` the loss.
        Returns ``TokenClassifierOutput``."""
        encoding = self.bert.encode_packed(
            input_ids, attention_mask, token_type_ids, inputs_embeds, output_attentions, output_hidden_states
        )
        logits = encoding.packed.pad(self.classifier(self.dropout(encoding.hidden)))
        loss = None
        if labels is not None:
            if tuple(labels.shape) != tuple(logits.shape[:2]):
                raise ValueError(f"labels has shape {tuple(labels.shape)}, expected {tuple(logits.shape[:2])}.")
            loss = F.cross_entropy(logits.view(-1, self.num_labels).float(), labels.reshape(-1), ignore_index=-100)
        output = TokenClassifierOutput(
            loss=loss, logits=logits, hidden_states=encoding.hidden_states(), attentions=encoding.attentions()
        )
        return output if return_dict is not False else output.to_tuple()


def _register_auto_classes():
    """The one registration, from the one table ``AUTO_MAP`` (which the config also writes to config.json).

    ``_auto_class`` makes ``save_pretrained`` copy this file, the config file and bert_layers_triton.py next to the
    weights (Hub remote code). A plain import of the installed module (not the Hub's dynamic loader) also registers
    the classes with the Auto classes, so ``trust_remote_code`` is not needed there.
    """
    import transformers

    local = not __package__
    for auto_name, target in AUTO_MAP.items():
        cls = DNABert2Config if auto_name == "AutoConfig" else globals()[target.rsplit(".", 1)[1]]
        cls._auto_class = auto_name
        if local and auto_name == "AutoConfig":
            transformers.AutoConfig.register(DNABert2Config.model_type, DNABert2Config, exist_ok=True)
        elif local:
            getattr(transformers, auto_name).register(DNABert2Config, cls, exist_ok=True)


_register_auto_classes()
