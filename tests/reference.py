"""An independent plain-PyTorch DNABERT-2 on a padded batch, written from the published architecture facts.

It shares no code with modeling_dnabert2: it reads weights from a state dict in the published key layout
and does everything padded, with an explicit (batch, heads, L, L) ALiBi bias, like the original design.
"""

import math

import torch
import torch.nn.functional as F

# Published head order for 12 heads (docs/reference.md), as powers of two.
SLOPES_12 = [2**-1, 2**-2, 2**-3, 2**-4, 2**-5, 2**-6, 2**-7, 2**-8, 2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5]


def reference_slopes(heads):
    """Slopes written out per the rule: powers of two of the lower power, then odd entries of the doubled list."""
    lower = 1
    while lower * 2 <= heads:
        lower *= 2
    slopes = [2 ** (-8 * (k + 1) / lower) for k in range(lower)]
    doubled = [2 ** (-8 * (k + 1) / (2 * lower)) for k in range(2 * lower)]
    return torch.tensor(slopes + doubled[0::2][: heads - lower])


def _ln(x, sd, prefix, eps):
    return F.layer_norm(x, x.shape[-1:], sd[prefix + ".weight"], sd[prefix + ".bias"], eps)


def _linear(x, sd, prefix, bias=True):
    return x @ sd[prefix + ".weight"].T + (sd[prefix + ".bias"] if bias else 0)


def reference_encoder(sd, config, ids, mask, types, prefix="bert."):
    """Per-layer hidden states (embeddings first), each (batch, L, hidden), with padded positions zeroed."""
    heads, eps = config.num_attention_heads, config.layer_norm_eps
    batch, length = ids.shape
    head_dim = config.hidden_size // heads
    x = (
        sd[prefix + "embeddings.word_embeddings.weight"][ids]
        + sd[prefix + "embeddings.token_type_embeddings.weight"][types]
    )
    x = _ln(x, sd, prefix + "embeddings.LayerNorm", eps)
    positions = torch.arange(length)
    bias = -reference_slopes(heads)[:, None, None] * (positions[None, :, None] - positions[None, None, :]).abs()
    bias = bias[None] + torch.where(mask[:, None, None, :] > 0, 0.0, -1e9)
    states = [x]
    for i in range(config.num_hidden_layers):
        p = f"{prefix}encoder.layer.{i}."
        qkv = _linear(x, sd, p + "attention.self.Wqkv").view(batch, length, 3, heads, head_dim)
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)
        x = _ln(_linear(context, sd, p + "attention.output.dense") + x, sd, p + "attention.output.LayerNorm", eps)
        h = _linear(x, sd, p + "mlp.gated_layers", bias=False)
        inter = config.intermediate_size
        h = F.gelu(h[..., :inter]) * h[..., inter:]
        x = _ln(_linear(h, sd, p + "mlp.wo") + x, sd, p + "mlp.layernorm", eps)
        states.append(x)
    return [s * mask[..., None] for s in states]


def reference_mlm_logits(sd, config, hidden):
    """MLM head: dense, GELU, LayerNorm, decoder."""
    h = F.gelu(_linear(hidden, sd, "cls.predictions.transform.dense"))
    h = _ln(h, sd, "cls.predictions.transform.LayerNorm", config.layer_norm_eps)
    return _linear(h, sd, "cls.predictions.decoder")


def official_state_dict(config, seed=0):
    """Random weights in the published masked-LM key layout (decoder tied to the word embeddings, no pooler)."""
    g = torch.Generator().manual_seed(seed)
    hidden, inter = config.hidden_size, config.intermediate_size

    def r(*shape):
        return torch.randn(*shape, generator=g) * 0.05

    def ln():
        return 1 + r(hidden), r(hidden)

    sd = {
        "bert.embeddings.word_embeddings.weight": r(config.vocab_size, hidden),
        "bert.embeddings.token_type_embeddings.weight": r(config.type_vocab_size, hidden),
    }
    sd["bert.embeddings.LayerNorm.weight"], sd["bert.embeddings.LayerNorm.bias"] = ln()
    for i in range(config.num_hidden_layers):
        p = f"bert.encoder.layer.{i}."
        sd[p + "attention.self.Wqkv.weight"], sd[p + "attention.self.Wqkv.bias"] = r(3 * hidden, hidden), r(3 * hidden)
        sd[p + "attention.output.dense.weight"], sd[p + "attention.output.dense.bias"] = r(hidden, hidden), r(hidden)
        sd[p + "attention.output.LayerNorm.weight"], sd[p + "attention.output.LayerNorm.bias"] = ln()
        sd[p + "mlp.gated_layers.weight"] = r(2 * inter, hidden)
        sd[p + "mlp.wo.weight"], sd[p + "mlp.wo.bias"] = r(hidden, inter), r(hidden)
        sd[p + "mlp.layernorm.weight"], sd[p + "mlp.layernorm.bias"] = ln()
    sd["cls.predictions.transform.dense.weight"], sd["cls.predictions.transform.dense.bias"] = (
        r(hidden, hidden),
        r(hidden),
    )
    sd["cls.predictions.transform.LayerNorm.weight"], sd["cls.predictions.transform.LayerNorm.bias"] = ln()
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
    sd["cls.predictions.decoder.bias"] = r(config.vocab_size)
    return sd


def write_official_checkpoint(folder, config, seed=0):
    """A folder laid out like zhihan1996/DNABERT-2-117M: official-style config.json and pytorch_model.bin."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    official_config = {
        "_name_or_path": "zhihan1996/DNABERT-2-117M",
        "alibi_starting_size": 512,
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_bert.BertConfig",
            "AutoModel": "bert_layers.BertModel",
            "AutoModelForMaskedLM": "bert_layers.BertForMaskedLM",
            "AutoModelForSequenceClassification": "bert_layers.BertForSequenceClassification",
        },
        "classifier_dropout": None,
        "gradient_checkpointing": False,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": config.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": config.intermediate_size,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 512,
        "num_attention_heads": config.num_attention_heads,
        "num_hidden_layers": config.num_hidden_layers,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.28.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": config.vocab_size,
    }
    (folder / "config.json").write_text(json.dumps(official_config, indent=2))
    sd = official_state_dict(config, seed)
    torch.save({k: v.clone() for k, v in sd.items()}, folder / "pytorch_model.bin")
    return sd


def reference_attention(q, k, v, lengths, slopes):
    """Per-sequence softmax(q k^T / sqrt(d) - slope |i - j|) v, in the dtype of the inputs."""
    outputs, start = [], 0
    for length in lengths:
        qq, kk, vv = (t[start : start + length].transpose(0, 1) for t in (q, k, v))
        positions = torch.arange(length)
        bias = -slopes[:, None, None] * (positions[:, None] - positions[None, :]).abs()
        scores = qq @ kk.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias.to(q.dtype)
        outputs.append((scores.softmax(-1) @ vv).transpose(0, 1))
        start += length
    return torch.cat(outputs)
