"""Masked-LM evaluation that copying cannot game: masked-only loss and accuracy beside baselines.

Every figure is over the same positions: the tokens selected by the fixed evaluation mask, all replaced by [MASK]
(``MaskedWindows(replace_all=True)``). Baselines, computed once per evaluation set (they do not depend on the model):

- unigram: token frequencies of the training windows (add-one smoothed);
- composition: what base composition alone predicts. For a window with visible (non-masked, non-special) tokens,
  q(t) is the unigram reweighted by the window's base composition, q(t) ~ p(t) * prod_b (f_b / g_b)^(n_b(t)), with
  f_b the window's visible base frequencies (add-one), g_b those of the training tokens and n_b(t) the count of base
  b in token t; then p(t) = (c(t) + alpha * q(t)) / (n + alpha), with c(t) the window's own visible token counts.
  alpha is the best of ``COMPOSITION_ALPHAS`` on the evaluation set itself, so the baseline is as strong as it can
  be made on these data; a model must beat it to show that it learned more than composition.

Strict baselines (``strict_baseline_metrics``) take as prior the token frequencies of the evaluated windows
themselves (all their original tokens, masked ones included), which no model is given: the better of the visible
counts mixed with that prior and the composition baseline over it, and always guessing their most frequent token.
"""

import numpy as np
import torch
from transformers import Trainer

from dnabert2.data.alphabet import ACGT

COMPOSITION_ALPHAS = (4.0, 16.0, 64.0, 256.0, 1024.0, 1e9)


def token_base_counts(tokenizer) -> np.ndarray:
    """(vocab, 4) counts of A, C, G, T in each token's string (zeros for special tokens)."""
    counts = np.zeros((len(tokenizer), 4))
    special = set(tokenizer.all_special_ids)
    for token, token_id in tokenizer.get_vocab().items():
        if token_id not in special:
            counts[token_id] = [token.count(base) for base in ACGT]
    return counts


def unigram_counts(windows, vocab_size: int, special_ids) -> np.ndarray:
    """Counts of each token id over the training windows (special tokens excluded)."""
    counts = np.zeros(vocab_size)
    for batch in windows.iter(batch_size=4096):
        ids = np.concatenate([np.asarray(row) for row in batch["input_ids"]])
        counts += np.bincount(ids, minlength=vocab_size)
    counts[list(special_ids)] = 0
    return counts


def _log_softmax_rows(log_weights):
    return log_weights - np.logaddexp.reduce(log_weights, axis=-1, keepdims=True)


def _scored_windows(eval_windows, regular: np.ndarray) -> tuple[list, list, list]:
    """Per window: the labels of its masked positions, its visible regular tokens, and all its original regular
    tokens (labels where masked, input_ids elsewhere)."""
    windows = [eval_windows[i] for i in range(len(eval_windows))]
    targets = [w["labels"][w["labels"] != -100] for w in windows]
    visible = [w["input_ids"][(w["labels"] == -100) & regular[w["input_ids"]]] for w in windows]
    originals = [np.where(w["labels"] != -100, w["labels"], w["input_ids"]) for w in windows]
    return targets, visible, [ids[regular[ids]] for ids in originals]


def _prior_scores(targets, log_prior: np.ndarray) -> tuple[float, float]:
    """Loss and accuracy of predicting the prior at every masked position (its most likely token as the guess)."""
    total = sum(len(t) for t in targets)
    loss = -sum(log_prior[t].sum() for t in targets) / total
    accuracy = sum((t == np.argmax(log_prior)).sum() for t in targets) / total
    return float(loss), float(accuracy)


def _mixture_scores(
    targets, visible, log_prior: np.ndarray, base_counts: np.ndarray, by_composition: bool
) -> tuple[float, float, float]:
    """Loss, accuracy and alpha of p(t) = (c(t) + alpha * q(t)) / (n + alpha) per window, at the best alpha of
    ``COMPOSITION_ALPHAS``: q is the prior, reweighted by the window's visible base composition if
    ``by_composition``."""
    regular = base_counts.sum(axis=1) > 0
    global_bases = np.exp(log_prior[regular]) @ base_counts[regular]
    global_bases /= global_bases.sum()
    alphas = np.asarray(COMPOSITION_ALPHAS)
    losses, correct = np.zeros(len(alphas)), np.zeros(len(alphas))
    q = np.exp(log_prior)
    for seen, target in zip(visible, targets):
        if by_composition:
            window_bases = base_counts[seen].sum(axis=0) + 1.0
            shift = np.log(window_bases / window_bases.sum() / global_bases)
            q = np.exp(_log_softmax_rows(log_prior + np.where(regular, base_counts @ shift, 0.0)))
        own = np.bincount(seen, minlength=len(log_prior))
        probability = (own[None] + alphas[:, None] * q[None]) / (len(seen) + alphas[:, None])  # (alphas, vocab)
        losses -= np.log(probability[:, target]).sum(axis=1)
        correct += (probability.argmax(axis=1)[:, None] == target[None]).sum(axis=1)
    total = sum(len(t) for t in targets)
    best = int(np.argmin(losses))
    return float(losses[best] / total), float(correct[best] / total), float(alphas[best])


def baseline_metrics(eval_windows, unigram: np.ndarray, base_counts: np.ndarray, mask_id: int) -> dict:
    """Loss (nats) and accuracy of the unigram and composition baselines on the masked positions of ``eval_windows``.

    ``eval_windows`` yields items with ``input_ids`` (masked) and ``labels`` (-100 where not masked).
    """
    regular = base_counts.sum(axis=1) > 0
    log_unigram = np.full(len(unigram), -np.inf)
    log_unigram[regular] = np.log(unigram[regular] + 1.0)
    log_unigram = _log_softmax_rows(log_unigram)
    targets, visible, _ = _scored_windows(eval_windows, regular)
    unigram_loss, unigram_accuracy = _prior_scores(targets, log_unigram)
    composition_loss, composition_accuracy, alpha = _mixture_scores(targets, visible, log_unigram, base_counts, True)
    return {
        "unigram_loss": unigram_loss,
        "unigram_accuracy": unigram_accuracy,
        "composition_loss": composition_loss,
        "composition_accuracy": composition_accuracy,
        "composition_alpha": alpha,
        "masked_tokens": int(sum(len(t) for t in targets)),
    }


def strict_baseline_metrics(eval_windows, base_counts: np.ndarray) -> dict:
    """The strict baselines on the masked positions of ``eval_windows`` (items as for ``baseline_metrics``).

    The prior is the frequency of each token among all original regular tokens of ``eval_windows`` themselves
    (not smoothed: every scored token is among them). strict = the lower-loss of "visible counts" (the window's
    visible counts mixed with the prior) and "composition" (``baseline_metrics``' composition over this prior);
    most_frequent_accuracy: always guessing the windows' most frequent token.
    """
    regular = base_counts.sum(axis=1) > 0
    targets, visible, originals = _scored_windows(eval_windows, regular)
    counts = np.bincount(np.concatenate(originals), minlength=len(base_counts))
    log_prior = np.full(len(counts), -np.inf)
    log_prior[counts > 0] = np.log(counts[counts > 0] / counts.sum())
    variants = {
        name: _mixture_scores(targets, visible, log_prior, base_counts, by_composition)
        for name, by_composition in (("visible counts", False), ("composition", True))
    }
    best = min(variants, key=lambda name: variants[name][0])
    return {
        "strict_loss": variants[best][0],
        "strict_accuracy": variants[best][1],
        "strict_variant": best,
        "strict_alpha": variants[best][2],
        "strict_counts_loss": variants["visible counts"][0],
        "strict_composition_loss": variants["composition"][0],
        "most_frequent_accuracy": _prior_scores(targets, log_prior)[1],
        "masked_tokens": int(sum(len(t) for t in targets)),
    }


def label_log_probability_and_prediction(logits, labels):
    """preprocess_logits_for_metrics: per position, log p(label) (0 where unlabelled) and the argmax, stacked."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    picked = log_probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1).masked_fill(labels == -100, 0.0)
    return torch.stack([picked, logits.argmax(dim=-1).float()], dim=-1)


def token_lengths(tokenizer) -> np.ndarray:
    """(vocab,) bases in each token's string (0 for special tokens)."""
    lengths = np.zeros(len(tokenizer), dtype=np.int64)
    special = set(tokenizer.all_special_ids)
    for token, token_id in tokenizer.get_vocab().items():
        if token_id not in special:
            lengths[token_id] = len(token)
    return lengths


def masked_bases(labels: np.ndarray, lengths: np.ndarray, overlapping_k: int | None = None) -> int:
    """The bases that the masked tokens (labels != -100) cover: the sum of their lengths, or, for overlapping k-mers
    (token i = bases i .. i+k-1), the union: each run of r consecutive masked tokens covers r + k - 1 bases."""
    selected = labels != -100
    if not overlapping_k:
        return int(lengths[labels[selected]].sum())
    starts = selected & ~np.pad(selected, [(0, 0)] * (selected.ndim - 1) + [(1, 0)])[..., :-1]  # runs' first tokens
    return int(selected.sum() + (overlapping_k - 1) * starts.sum())


def masked_lm_metrics(baselines: dict, lengths: np.ndarray | None = None, overlapping_k: int | None = None):
    """compute_metrics: the model's masked-only loss and accuracy (token-weighted), with the baselines beside them;
    with ``lengths`` (``token_lengths``) also ``bits_per_base``: the masked tokens' total cross-entropy in bits over
    the bases they cover (``masked_bases``), one unit for every tokenizer."""

    def compute(eval_pred):
        stacked, labels = eval_pred
        selected = labels != -100
        nats = float(-stacked[..., 0][selected].sum())
        metrics = {
            "masked_loss": nats / float(selected.sum()),
            "accuracy": float((stacked[..., 1][selected] == labels[selected]).mean()),
            **baselines,
        }
        if lengths is not None:
            metrics["bits_per_base"] = nats / np.log(2) / masked_bases(labels, lengths, overlapping_k)
        return metrics

    return compute


class MaskedLMTrainer(Trainer):
    """Trainer whose ``eval_loss`` is the mean over masked tokens (the Trainer's own is a mean of batch means)."""

    def evaluation_loop(
        self, dataloader, description, prediction_loss_only=None, ignore_keys=None, metric_key_prefix="eval"
    ):
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        prefix = metric_key_prefix
        if f"{prefix}_masked_loss" in output.metrics:
            output.metrics[f"{prefix}_loss"] = output.metrics.pop(f"{prefix}_masked_loss")
        return output
