"""A one-hot convolutional baseline, trained from scratch on the task alone, for the GUE report.

The question it answers: does pretraining buy more than a small supervised CNN gets from the same data, budget
and seeds? Architecture: bases one-hot (A, C, G, T; N and padding all zeros; a pair of sequences joined by 10 Ns),
3 blocks of [Conv1d (kernel 9, 128 channels, same padding) -> LayerNorm over the channels of each position -> ReLU
-> MaxPool 2] (a per-position norm, unlike BatchNorm, never sees padding, in training as in evaluation), then the
global max
and the global mean over real positions, concatenated, dropout 0.1 and a linear layer (about 300k parameters).
"""

import torch
import torch.nn.functional as F
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

from dnabert2.data.alphabet import ACGT

BASE_CODES = {base: code for code, base in enumerate(ACGT)}  # anything else: code 4, an all-zero column
PAIR_SPACER = "N" * 10


def encode_bases(sequences) -> dict:
    """``input_ids`` (base codes 0-4) and ``attention_mask`` for sequences, or pairs of sequences, of any length."""
    joined = [PAIR_SPACER.join(s) if isinstance(s, (tuple, list)) else s for s in sequences]
    ids = [[BASE_CODES.get(base, 4) for base in sequence.upper()] for sequence in joined]
    return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}


class ChannelNorm(nn.LayerNorm):
    """LayerNorm over the channels of each position of a (batch, channels, length) tensor."""

    def forward(self, x):
        return super().forward(x.transpose(1, 2)).transpose(1, 2)


class OneHotCNN(nn.Module):
    """The convolutional baseline (see the module docstring); Trainer-compatible: returns SequenceClassifierOutput."""

    def __init__(self, num_labels: int, problem_type: str, channels: int = 128, blocks: int = 3, kernel: int = 9):
        super().__init__()
        self.num_labels, self.problem_type = num_labels, problem_type
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(4 if i == 0 else channels, channels, kernel, padding=kernel // 2),
                ChannelNorm(channels),
                nn.ReLU(),
            )
            for i in range(blocks)
        )
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(2 * channels, num_labels)

    def forward(self, input_ids, attention_mask=None, labels=None, **unused):
        """Logits (batch, num_labels) and, with ``labels``, the loss of ``problem_type``."""
        kept = (torch.ones_like(input_ids) if attention_mask is None else attention_mask)[:, None].float()
        features = F.one_hot(input_ids.clamp(max=4), 5)[..., :4].float().transpose(1, 2) * kept
        for block in self.blocks:  # padding is zeroed after every block, so it never leaks into real positions
            features = F.max_pool1d(block(features) * kept, 2, ceil_mode=True)
            kept = F.max_pool1d(kept, 2, ceil_mode=True)
        pooled_max = features.masked_fill(kept == 0, float("-inf")).amax(-1)
        pooled_mean = (features * kept).sum(-1) / kept.sum(-1).clamp(min=1)
        logits = self.classifier(self.dropout(torch.cat([pooled_max, pooled_mean], dim=-1)))
        loss = None
        if labels is not None:
            if self.problem_type == "regression":
                loss = F.mse_loss(logits.squeeze(-1), labels.float())
            elif self.problem_type == "multi_label_classification":
                loss = F.binary_cross_entropy_with_logits(logits, labels.float())
            else:
                loss = F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def encode_columns(columns) -> dict:
    """``encode_bases`` of a task's sequence columns (one list per column; two columns are pairs)."""
    return encode_bases(list(zip(*columns)) if len(columns) > 1 else columns[0])


def cnn_for_task(info) -> OneHotCNN:
    """A freshly initialised baseline sized for a task (its ``TaskInfo``)."""
    return OneHotCNN(info.num_labels, info.problem_type)
