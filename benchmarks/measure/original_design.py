"""Baselines for the speed benchmark that follow the original DNABERT-2 release's PyTorch path, on our weights.

``original_design_forward``: padding removed for the linear layers (as the release did), but every layer pads the
QKV projections back to (batch, L), adds a dense (1, heads, L, L) ALiBi tensor plus the padding mask, and runs
matmul-softmax-matmul attention on the padded batch. With ``unpad=False`` everything runs padded (a fully padded
implementation of the same architecture). Same weights, same outputs as ``modeling_dnabert2``.
"""

import math

import torch
import torch.nn.functional as F

from modeling_dnabert2 import alibi_slopes


def dense_alibi(num_heads: int, length: int) -> torch.Tensor:
    """The release's materialised (1, heads, L, L) ALiBi tensor."""
    positions = torch.arange(length)
    distance = (positions[None, :] - positions[:, None]).abs().float()
    return (-alibi_slopes(num_heads)[:, None, None] * distance)[None]


def _padded_attention(qkv, mask, heads, alibi):
    batch, length, _ = qkv.shape
    q, k, v = qkv.view(batch, length, 3, heads, -1).permute(2, 0, 3, 1, 4)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores + alibi[:, :, :length, :length] + (1.0 - mask[:, None, None, :].float()) * -10000.0
    context = torch.matmul(scores.softmax(dim=-1), v)
    return context.permute(0, 2, 1, 3).reshape(batch, length, -1)


def original_design_forward(bert, input_ids, attention_mask, unpad=True, alibi=None):
    """Last hidden states (batch, L, hidden) of a ``DNABert2Model`` computed the release's way."""
    config = bert.config
    batch, length = input_ids.shape
    alibi = alibi if alibi is not None else dense_alibi(config.num_attention_heads, length)
    real = attention_mask.bool().flatten()
    hidden = bert.embeddings(input_ids=input_ids.flatten()[real] if unpad else input_ids.flatten())
    for layer in bert.encoder.layer:
        qkv = layer.attention.self.Wqkv(hidden)
        if unpad:
            padded = qkv.new_zeros(batch * length, qkv.shape[-1])
            padded[real] = qkv
            qkv = padded
        context = _padded_attention(qkv.view(batch, length, -1), attention_mask, config.num_attention_heads, alibi)
        context = context.reshape(batch * length, -1)
        context = context[real] if unpad else context
        hidden = layer.mlp(layer.attention.output(context, hidden))
    out = hidden.new_zeros(batch * length, hidden.shape[-1])
    out[real] = hidden if unpad else hidden[real]
    return out.view(batch, length, -1)


def original_design_mlm_loss(mlm_model, input_ids, attention_mask, labels, unpad=True):
    """MLM loss with the prediction head applied only at labelled positions (as the release did)."""
    hidden = original_design_forward(mlm_model.bert, input_ids, attention_mask, unpad)
    selected = labels != -100
    logits = mlm_model.cls(hidden[selected])
    return F.cross_entropy(logits, labels[selected])
