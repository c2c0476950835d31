"""Configuration of DNABERT-2: a post-LayerNorm BERT encoder with ALiBi and a gated-GELU feed-forward.

Defaults describe the published 117M model (Zhou et al., ICLR 2024). The official ``config.json`` of
``zhihan1996/DNABERT-2-117M`` (BERT key names, no ``model_type``, ``alibi_starting_size``) loads too.
"""

from transformers import PretrainedConfig

# Keys of the published config.json that mean nothing to this implementation.
_LEGACY_KEYS = ("alibi_starting_size", "gradient_checkpointing", "position_embedding_type", "use_cache")

AUTO_MAP = {
    "AutoConfig": "configuration_dnabert2.DNABert2Config",
    "AutoModel": "modeling_dnabert2.DNABert2Model",
    "AutoModelForMaskedLM": "modeling_dnabert2.DNABert2ForMaskedLM",
    "AutoModelForSequenceClassification": "modeling_dnabert2.DNABert2ForSequenceClassification",
    "AutoModelForTokenClassification": "modeling_dnabert2.DNABert2ForTokenClassification",
}


class DNABert2Config(PretrainedConfig):
    """Hyperparameters of a DNABERT-2 encoder.

    Args:
        vocab_size: BPE vocabulary size (4096 for the published tokenizer).
        hidden_size, num_hidden_layers, num_attention_heads, intermediate_size: encoder shape.
        hidden_act: activation of the gated feed-forward unit and of the MLM head ("gelu" = exact erf GELU).
        hidden_dropout_prob, attention_probs_dropout_prob: dropout rates.
        type_vocab_size: number of segment ids (2: sentence A / B).
        initializer_range: std of the normal initialisation of linear and embedding weights.
        layer_norm_eps: epsilon of every LayerNorm.
        classifier_dropout: dropout before the classification heads (defaults to ``hidden_dropout_prob``).
        classifier_pooling: "cls" (tanh pooler on the first token, as in the original fine-tuning code)
            or "mean" (mask-aware mean of the last hidden state) for sequence classification.
        sparse_prediction: in training, compute MLM logits only where labels are set.
        attention_block_size: with SDPA on a GPU, batches whose longest sequence exceeds this are attended one
            sequence at a time with memory linear in length, as on CPU always.
    """

    model_type = "dnabert2"

    def __init__(
        self,
        vocab_size=4096,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        hidden_act="gelu",
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.0,
        max_position_embeddings=512,
        type_vocab_size=2,
        initializer_range=0.02,
        layer_norm_eps=1e-12,
        pad_token_id=3,
        classifier_dropout=None,
        classifier_pooling="cls",
        sparse_prediction=True,
        attention_block_size=512,
        tie_word_embeddings=True,
        **kwargs,
    ):
        for key in _LEGACY_KEYS:
            kwargs.pop(key, None)
        # Ours unless the user set their own; the published config's points at the original files (bert_layers.py).
        auto_map = kwargs.pop("auto_map", None)
        if not auto_map or any("bert_layers" in str(target) for target in auto_map.values()):
            auto_map = dict(AUTO_MAP)
        kwargs["auto_map"] = auto_map
        super().__init__(pad_token_id=pad_token_id, tie_word_embeddings=tie_word_embeddings, **kwargs)
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be a multiple of num_attention_heads ({num_attention_heads})"
            )
        if classifier_pooling not in ("cls", "mean"):
            raise ValueError(f"classifier_pooling must be 'cls' or 'mean', got {classifier_pooling!r}")
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
        self.classifier_pooling = classifier_pooling
        self.sparse_prediction = sparse_prediction
        self.attention_block_size = attention_block_size
