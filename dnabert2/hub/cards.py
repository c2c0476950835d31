"""Model cards (README.md with YAML metadata) for pretrained and fine-tuned DNABERT-2 checkpoints."""

import json

import yaml

from dnabert2.runtime.files import write_text_atomic

CITATION = """@inproceedings{zhou2024dnabert2,
  title={{DNABERT}-2: Efficient Foundation Model and Benchmark For Multi-Species Genomes},
  author={Zhou, Zhihan and Ji, Yanrong and Li, Weijian and Dutta, Pratik and Davuluri, Ramana V and Liu, Han},
  booktitle={The Twelfth International Conference on Learning Representations},
  year={2024}
}"""
CITATION_SECTION = ["", "## Citation", "", "```bibtex", CITATION, "```", ""]


def _front_matter(metadata: dict) -> str:
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n"


def pretrained_model_card(model_name: str, config, training: dict, results: dict, datasets=None) -> str:
    """A card for an MLM-pretrained checkpoint: what it is, how to load it, data, recipe and results."""
    metadata = {
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "fill-mask",
        "tags": ["biology", "genomics", "dna", "dnabert2", "alibi", "custom_code"],
        "datasets": datasets or [],
    }
    size = f"{config.num_hidden_layers} layers, hidden {config.hidden_size}, {config.num_attention_heads} heads"
    lines = [
        _front_matter(metadata),
        f"# {model_name}",
        "",
        f"A DNABERT-2 masked-language model ({size}, BPE vocabulary {config.vocab_size}, ALiBi attention).",
        "",
        "```python",
        "from transformers import AutoModelForMaskedLM, AutoTokenizer",
        f'tokenizer = AutoTokenizer.from_pretrained("{model_name}", trust_remote_code=True)',
        f'model = AutoModelForMaskedLM.from_pretrained("{model_name}", trust_remote_code=True)',
        "```",
        "",
        "## Training",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {key} | {value} |" for key, value in training.items()],
        "",
        "## Results (held-out data, masked tokens only)",
        "",
        "Every token selected for evaluation is replaced by [MASK], so nothing can be copied. The baselines are scored",
        "on the same tokens: unigram = token frequencies of the training data; composition = those frequencies",
        "reweighted by each window's visible base composition and mixed with its visible tokens. A model that beats",
        "the composition baseline has learned more than base composition.",
        "",
        "| metric | value |",
        "|---|---|",
        *[
            f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |"
            for key, value in results.items()
        ],
        *CITATION_SECTION,
    ]
    return "\n".join(lines)


def write_results(path, results: dict):
    """Write a results dict as indented JSON (atomically)."""
    write_text_atomic(path, json.dumps(results, indent=2))
