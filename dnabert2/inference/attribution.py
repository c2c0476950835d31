"""Base-resolution explanations of a fine-tuned DNABERT-2 classifier, and what is made of them.

Three methods, each giving one value per base of a sequence for a target class (its logit):

- ``ism``: in-silico saturation mutagenesis in sequence space. Every base is replaced by each of the other three,
  the mutant re-tokenized (one substitution may re-segment its neighbours) and scored. ``hypothetical`` (L, 4), in
  A, C, G, T order, is the target logit's change for each (position, base), 0 at the reference base;
  ``attribution`` is minus the mean change over the three substitutions (high: the base matters for the class).
  Bases other than A/C/G/T are not mutated (0).
- ``ig``: integrated gradients (captum) on the token embeddings, from a baseline where every sequence token is
  replaced ([CLS] and [SEP] kept) by [MASK] (default: the token the pretrained model reads as "base unknown"), the
  zero vector, or [PAD] (which the encoder never reads: its embedding is an arbitrary point, a poor reference), with
  its completeness gap: |sum of attributions - (f(x) - f(baseline))| divided by |f(x) - f(baseline)|.
- ``attention``: the original DNABERT's view: the attention of [CLS] to each token, summed over heads and over the
  chosen layers (default: the last).

Rule for per-token values (ig, attention): a token's value is divided equally over the bases it covers
(``spread_over_bases``), so the per-base values of a sequence sum to its per-token values.

Runs go through the sharded runner (Parquet parts, resumable); the merged table gives bedGraph / bigWig tracks in
genome coordinates, tfmodisco-lite arrays and attribution logos.
"""

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from dnabert2.data.alphabet import ACGT
from dnabert2.data.bed import read_bed
from dnabert2.inference.batching import predict_stream
from dnabert2.inference.heads import label_names
from dnabert2.inference.inputs import Piece, iter_inputs
from dnabert2.inference.loading import load_classifier
from dnabert2.inference.pipeline import Job, PieceReader, position_columns, run_job
from dnabert2.inference.sharding import open_run, worker_device
from dnabert2.runtime.errors import InputError

BASES = ACGT  # the one-hot and hypothetical columns, in this order
METHODS = ("ism", "ig", "attention")
IG_BASELINES = ("mask", "zero", "pad")  # what each sequence token's embedding is replaced by in ig's baseline

logger = logging.getLogger(__name__)


@dataclass
class Explanation:
    """One sequence's explanation: the target class, its logit on the sequence (``score``), one value per base
    (``attribution``) and, for ism, the (L, 4) ``hypothetical`` changes; for ig the relative completeness gap."""

    target: int
    score: float
    attribution: np.ndarray
    hypothetical: np.ndarray | None = None
    completeness_gap: float | None = None


def load_explained_model(model_name_or_path, base_model: str | None = None):
    """A fine-tuned classifier (merged folder or LoRA adapter, ``load_classifier``) on this worker's device."""
    return load_classifier(model_name_or_path, base_model=base_model).to(worker_device())


def parse_region(region: str | None) -> tuple[int, int | None] | None:
    """``"START:END"`` (0-based, half-open, bp within each sequence; either side may be empty) as a pair."""
    if not region:
        return None
    try:
        start, end = region.split(":")
        bounds = (int(start) if start else 0, int(end) if end else None)
    except ValueError:
        raise InputError(f"--region must be START:END (bp, 0-based, end excluded), got {region!r}.") from None
    if bounds[0] < 0 or (bounds[1] is not None and bounds[1] <= bounds[0]):
        raise InputError(f"--region {region!r} is empty or negative: need 0 <= START < END.")
    return bounds


def parse_layers(layers: str, num_layers: int) -> list[int]:
    """Comma-separated layer numbers (0-based; negative count from the last) as indices into the encoder."""
    try:
        chosen = [int(x) for x in layers.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--layers must be comma-separated integers, got {layers!r}.") from None
    if not chosen or any(not -num_layers <= x < num_layers for x in chosen):
        raise InputError(f"--layers {layers!r}: the model has layers 0..{num_layers - 1} (or -1 for the last).")
    return sorted({x % num_layers for x in chosen})


def target_index(config, target: str | None, logits: np.ndarray) -> int:
    """The class explained: ``target`` (a class name) or, by default, the class predicted from ``logits``."""
    if config.problem_type == "regression" or config.num_labels == 1:
        if target is not None:
            raise InputError("--target names a class; this model is a regression (one output): leave it out.")
        return 0
    if target is None:
        return int(np.argmax(logits))
    names = label_names(config)
    if target not in names:
        raise InputError(f"--target {target!r} is not a class of this model; its classes are {', '.join(names)}.")
    return names.index(target)


def spread_over_bases(values: np.ndarray, spans: np.ndarray, length: int) -> np.ndarray:
    """Per-token ``values`` over the bases: each token's value divided equally among the bases of its span
    ``[start, end)``; tokens without bases ([CLS], [SEP]) are dropped. Returns (length,)."""
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    covering = spans[:, 1] > spans[:, 0]
    values, spans = np.asarray(values, dtype=np.float64)[covering], spans[covering]
    widths = spans[:, 1] - spans[:, 0]
    if spans[:, 0].min(initial=0) != 0 or (spans[1:, 0] != spans[:-1, 1]).any() or widths.sum() != length:
        raise InputError("The tokenizer's offsets do not tile the sequence: cannot map tokens to bases.")
    return np.repeat(values / np.maximum(widths, 1), widths)


def one_hot(sequence: str) -> np.ndarray:
    """(L, 4) float32 one-hot in A, C, G, T order; other letters (N) are all zeros."""
    codes = np.frombuffer(sequence.upper().encode("ascii"), dtype=np.uint8)
    return (codes[:, None] == np.frombuffer(BASES.encode(), dtype=np.uint8)[None, :]).astype(np.float32)


def _logit_stream(model, tokenizer, sequences: Iterable[str], max_tokens_per_batch: int) -> Iterator[np.ndarray]:
    """The logits of each sequence, in order, through the predictor's token-budget batches."""
    pieces = (Piece("", (sequence,)) for sequence in sequences)
    for _, logits, _ in predict_stream(model, tokenizer, pieces, max_tokens_per_batch, progress=False):
        yield logits


def mutated_positions(sequence: str, region: tuple[int, int | None] | None) -> list[int]:
    """The positions ism mutates: A/C/G/T bases inside ``region`` (all of the sequence by default)."""
    start, end = region or (0, None)
    end = len(sequence) if end is None else min(end, len(sequence))
    return [i for i in range(start, end) if sequence[i].upper() in BASES]


def _ism_inputs(sequences: list[str], region) -> Iterator[str]:
    """Each sequence, then its single-base substitutions in (position, base A/C/G/T) order."""
    for sequence in sequences:
        yield sequence
        for i in mutated_positions(sequence, region):
            reference = sequence[i].upper()
            for base in BASES:
                if base != reference:
                    yield sequence[:i] + base + sequence[i + 1 :]


def ism(
    model, tokenizer, sequences: list[str], target=None, region=None, max_tokens_per_batch: int = 16384
) -> list[Explanation]:
    """In-silico saturation mutagenesis of each sequence (see the module docstring); ``region`` (start, end) limits
    the mutated bases, the others get 0. All mutants are scored in token-budget batches."""
    logits = _logit_stream(model, tokenizer, _ism_inputs(sequences, region), max_tokens_per_batch)
    explanations = []
    for sequence in sequences:
        reference = next(logits)
        k = target_index(model.config, target, reference)
        hypothetical = np.zeros((len(sequence), 4), dtype=np.float64)
        for i in mutated_positions(sequence, region):
            for b, base in enumerate(BASES):
                if base != sequence[i].upper():
                    hypothetical[i, b] = next(logits)[k] - reference[k]
        explanations.append(Explanation(k, float(reference[k]), -hypothetical.sum(axis=1) / 3, hypothetical))
    return explanations


def _encoded(tokenizer, sequence: str, device) -> tuple[torch.Tensor, np.ndarray]:
    """(input ids (1, T) on ``device``, token spans (T, 2) in bp)."""
    encoded = tokenizer(sequence, return_offsets_mapping=True)
    return torch.tensor([encoded["input_ids"]], device=device), np.asarray(encoded["offset_mapping"])


def check_ig_baseline(baseline: str) -> str:
    """``baseline`` if it names one of ``IG_BASELINES``, else an input error."""
    if baseline not in IG_BASELINES:
        raise InputError(f"--ig_baseline must be one of {', '.join(IG_BASELINES)}, got {baseline!r}.")
    return baseline


def baseline_embedding(words: torch.nn.Embedding, tokenizer, baseline: str) -> torch.Tensor:
    """The embedding every sequence token takes in ig's baseline (``IG_BASELINES``)."""
    if check_ig_baseline(baseline) == "zero":
        return torch.zeros_like(words.weight[0])
    return words.weight[tokenizer.mask_token_id if baseline == "mask" else tokenizer.pad_token_id]


def integrated_gradients(
    model,
    tokenizer,
    sequences: list[str],
    target=None,
    steps: int = 64,
    internal_batch_size: int = 64,
    baseline: str = "mask",
) -> list[Explanation]:
    """Integrated gradients on the token embeddings (captum, Gauss-Legendre, ``steps`` points) from the ``baseline``
    (every sequence token [MASK], zero or [PAD]), per token (summed over the hidden dimension), spread over the bases;
    with the completeness gap."""
    from captum.attr import IntegratedGradients

    device = next(model.parameters()).device
    words = model.bert.embeddings.word_embeddings
    reference = baseline_embedding(words, tokenizer, baseline)
    explanations = []
    for sequence in sequences:
        ids, spans = _encoded(tokenizer, sequence, device)
        with torch.no_grad():
            inputs = words(ids)
            baseline_inputs = inputs.clone()
            baseline_inputs[0, 1:-1] = reference  # [CLS] and [SEP] stay: they get 0
        length = ids.shape[1]

        def logits_of(embeddings):
            mask = torch.ones(embeddings.shape[:2], dtype=torch.long, device=device)
            return model.logits_from(model.bert.encode_packed(inputs_embeds=embeddings, attention_mask=mask))

        with torch.no_grad():
            end_points = logits_of(torch.cat([inputs, baseline_inputs])).double().cpu().numpy()
        k = target_index(model.config, target, end_points[0])
        attributions, delta = IntegratedGradients(lambda e: logits_of(e)[:, k]).attribute(
            inputs,
            baselines=baseline_inputs,
            n_steps=steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
        per_token = attributions[0].sum(-1).detach().double().cpu().numpy()
        change = end_points[0, k] - end_points[1, k]
        gap = abs(float(delta.item())) / max(abs(change), 1e-12)
        assert per_token.shape == (length,)
        explanations.append(
            Explanation(k, float(end_points[0, k]), spread_over_bases(per_token, spans, len(sequence)), None, gap)
        )
    return explanations


class _ReturningAttentions:
    """A classifier as ``predict_stream`` sees it, whose encoder returns the attention weights (eager attention)."""

    def __init__(self, model):
        self.model, self.bert = model, self

    def encode_packed(self, **features):
        """The encoding with every layer's weights."""
        return self.model.bert.encode_packed(**features, output_attentions=True)

    def logits_from(self, encoding):
        """The classifier's logits."""
        return self.model.logits_from(encoding)

    def parameters(self):
        """The classifier's parameters (the device comes from them)."""
        return self.model.parameters()


class AttentionPooling:
    """A pooling for ``predict_stream`` over ``_ReturningAttentions``: per sequence, the attention of [CLS] to each
    token summed over heads and ``layers``, spread over the bases."""

    needs_offsets = True
    combine_strands = None

    def __init__(self, layers: list[int]):
        self.layers = layers

    def pool(self, encoding, offsets) -> list[np.ndarray]:
        """(bases,) per sequence of the batch."""
        weights = encoding.attentions()
        cls_rows = sum(weights[layer][:, :, 0, :].sum(dim=1) for layer in self.layers).double().cpu().numpy()
        lengths = encoding.packed.lengths.tolist()
        pooled = []
        for row, spans in enumerate(offsets):
            spans = np.asarray(spans).reshape(-1, 2)
            pooled.append(spread_over_bases(cls_rows[row, : lengths[row]], spans, int(spans[:, 1].max(initial=0))))
        return pooled


def attention(
    model, tokenizer, sequences: list[str], target=None, layers=(-1,), max_tokens_per_batch: int = 16384
) -> list[Explanation]:
    """[CLS]-to-token attention per base (``AttentionPooling``) with the target logit, in token-budget batches."""
    layers = [layer % model.config.num_hidden_layers for layer in layers]
    pieces = [Piece("", (sequence,)) for sequence in sequences]
    stream = predict_stream(
        _ReturningAttentions(model),
        tokenizer,
        pieces,
        max_tokens_per_batch,
        with_embeddings=True,
        progress=False,
        pooling=AttentionPooling(layers),
    )
    explanations = []
    for sequence, (_, logits, per_base) in zip(sequences, stream):
        k = target_index(model.config, target, logits)
        explanations.append(Explanation(k, float(logits[k]), per_base[: len(sequence)]))
    return explanations


def explain(
    model,
    tokenizer,
    sequences: list[str],
    method: str,
    target: str | None = None,
    region=None,
    layers=(-1,),
    ig_steps: int = 64,
    ig_baseline: str = "mask",
    max_tokens_per_batch: int = 16384,
) -> list[Explanation]:
    """Explanations of ``sequences`` by ``method`` (ism, ig or attention) for class ``target`` (default: each
    sequence's predicted class)."""
    if method == "ism":
        return ism(model, tokenizer, sequences, target, region, max_tokens_per_batch)
    if region is not None:
        raise InputError("--region limits the bases ism mutates; ig and attention explain the whole input.")
    if method == "ig":
        return integrated_gradients(model, tokenizer, sequences, target, ig_steps, baseline=ig_baseline)
    if method == "attention":
        return attention(model, tokenizer, sequences, target, layers, max_tokens_per_batch)
    raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}.")


def explanation_table(rows: list[tuple[int, Piece]], explanations: list[Explanation], method: str, config):
    """A part's pyarrow table: the position columns, sequence, method, target (class name), score (its logit),
    attribution (one value per base), and for ism hypothetical (4 per base, A C G T), for ig completeness_gap."""
    import pyarrow as pa

    names = label_names(config) if config.num_labels > 1 else ["value"]
    columns = position_columns(rows) | {
        "sequence": pa.array([piece.sequences[0] for _, piece in rows], pa.string()),
        "method": pa.array([method] * len(rows), pa.string()),
        "target": pa.array([names[e.target] for e in explanations], pa.string()),
        "score": pa.array([e.score for e in explanations], pa.float64()),
        "attribution": pa.array([e.attribution.astype(np.float32) for e in explanations], pa.list_(pa.float32())),
    }
    if method == "ism":
        per_base = pa.list_(pa.float32(), 4)
        columns["hypothetical"] = pa.array(
            [e.hypothetical.astype(np.float32).tolist() for e in explanations], pa.list_(per_base)
        )
    if method == "ig":
        columns["completeness_gap"] = pa.array([e.completeness_gap for e in explanations], pa.float64())
    return pa.table(columns)


def explain_to_parts(
    model,
    tokenizer,
    model_name_or_path: str,
    input_path,
    output_dir,
    method: str,
    settings: dict,
    fasta=None,
    window: int | None = None,
    stride: int | None = None,
    part_size: int = 1000,
    shard_index: int = 0,
    num_shards: int = 1,
    **options,
):
    """Explain this worker's share of the input's records (or windows) into Parquet parts in ``output_dir``
    (resumable; ``settings`` recorded in the manifest); ``options`` go to ``explain``. Returns (the part store,
    the runner's counts)."""
    store = open_run(output_dir, model_name_or_path, settings, input_path, fasta, shard_index, num_shards)

    def compute(rows, bar):
        pieces = [piece for _, piece in rows]
        if any(len(piece.sequences) > 1 for piece in pieces):
            raise InputError("Explanations are per base of one sequence: pairs of sequences are not supported.")
        explanations = explain(model, tokenizer, [p.sequences[0] for p in pieces], method, **options)
        bar.update(sum(len(p.sequences[0]) for p in pieces))
        return explanation_table(rows, explanations, method, model.config)

    reader = PieceReader(iter_inputs(input_path, fasta), window, stride, skip_unusable=True)
    job = Job(reader, compute, reader.skipped_counts, unit="bp", description="Explaining")
    return store, run_job(job, store, part_size)


def genome_placement(rows: list[dict], input_path, fasta=None) -> tuple[list[tuple[str, int]], dict[str, int]]:
    """Each row's (chrom, genome start of its first base), and the chromosome sizes, for tracks: a BED input's rows
    sit in their regions (sizes from the reference's index); a FASTA's records are chromosomes of their own
    (windows at their offsets; sizes: the furthest end seen)."""
    sizes: dict[str, int] = {}
    if Path(input_path).suffix == ".bed":
        from dnabert2.data.reference import IndexedFasta

        regions = list(read_bed(input_path))
        with IndexedFasta(fasta) as reference:
            sizes = {region.chrom: reference.lengths[reference.contig(region.chrom)] for region in regions}
        return [(regions[r["index"]].chrom, regions[r["index"]].start + r["start"]) for r in rows], sizes
    for row in rows:
        sizes[row["name"]] = max(sizes.get(row["name"], 0), row["end"])
    return [(row["name"], row["start"]) for row in rows], sizes


def base_tracks(table, input_path, fasta=None) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, int]]:
    """Per chromosome, (positions, values) sorted by position, a base covered by several windows getting the mean
    of their values; and the chromosome sizes."""
    rows = table.select(["index", "name", "start", "end"]).to_pylist()
    placement, sizes = genome_placement(rows, input_path, fasta)
    attributions = table.column("attribution").to_pylist()
    gathered: dict[str, list] = {}
    for (chrom, offset), values in zip(placement, attributions):
        gathered.setdefault(chrom, []).append((offset + np.arange(len(values)), np.asarray(values, np.float64)))
    tracks = {}
    for chrom, pieces in gathered.items():
        positions = np.concatenate([p for p, _ in pieces])
        values = np.concatenate([v for _, v in pieces])
        unique, inverse = np.unique(positions, return_inverse=True)
        tracks[chrom] = (unique, np.bincount(inverse, values) / np.bincount(inverse))
    return tracks, sizes


def _intervals(positions: np.ndarray, values: np.ndarray) -> Iterator[tuple[int, int, float]]:
    """Runs of adjacent bases with equal values as (start, end, value)."""
    if not len(positions):
        return
    breaks = np.flatnonzero((np.diff(positions) != 1) | (np.diff(values) != 0)) + 1
    for run_start, run_end in zip(np.r_[0, breaks], np.r_[breaks, len(positions)]):
        yield int(positions[run_start]), int(positions[run_end - 1]) + 1, float(values[run_start])


def write_bedgraph(tracks: dict, path) -> Path:
    """The per-base tracks as a bedGraph (chromosomes in name order, 0-based half-open intervals)."""
    from dnabert2.runtime.files import atomic_output

    with atomic_output(path) as temporary, open(temporary, "w") as handle:
        handle.write('track type=bedGraph name="dnabert2-explain"\n')
        for chrom in sorted(tracks):
            for start, end, value in _intervals(*tracks[chrom]):
                handle.write(f"{chrom}\t{start}\t{end}\t{value:.6g}\n")
    return Path(path)


def write_bigwig(tracks: dict, sizes: dict, path) -> Path:
    """The per-base tracks as a bigWig (pyBigWig)."""
    import pyBigWig

    handle = pyBigWig.open(str(path), "w")
    try:
        handle.addHeader([(chrom, int(sizes[chrom])) for chrom in sorted(tracks)])
        for chrom in sorted(tracks):
            runs = list(_intervals(*tracks[chrom]))
            if runs:
                starts, ends, values = zip(*runs)
                handle.addEntries([chrom] * len(runs), list(starts), ends=list(ends), values=list(values))
    finally:
        handle.close()
    return Path(path)


def modisco_arrays(table) -> tuple[np.ndarray, np.ndarray]:
    """One-hot and hypothetical-contribution arrays (N, 4, L) as tfmodisco-lite reads them (shorter sequences
    padded with zeros to the longest). For ism, base b's hypothetical contribution at position i is the target
    logit with b there minus the mean over the three non-reference bases, so that at the reference base it equals
    ``attribution``; for ig and attention, only the reference base carries its attribution."""
    sequences = table.column("sequence").to_pylist()
    length = max(map(len, sequences))
    onehot = np.zeros((len(sequences), 4, length), np.float32)
    contributions = np.zeros_like(onehot)
    attributions = table.column("attribution").to_pylist()
    hypothetical = table.column("hypothetical").to_pylist() if "hypothetical" in table.column_names else None
    for n, sequence in enumerate(sequences):
        bases = one_hot(sequence)
        onehot[n, :, : len(sequence)] = bases.T
        attribution = np.asarray(attributions[n], np.float32)
        if hypothetical is None:
            contributions[n, :, : len(sequence)] = (bases * attribution[:, None]).T
        else:
            changes = np.asarray(hypothetical[n], np.float32).reshape(-1, 4)
            contributions[n, :, : len(sequence)] = (changes + attribution[:, None]).T
    return onehot, contributions


def write_modisco_inputs(table, folder) -> dict[str, Path]:
    """``ohe.npy`` and ``attr.npy`` (``modisco_arrays``) and ``rows.tsv`` (index, name, start, end per row)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    onehot, contributions = modisco_arrays(table)
    paths = {"one_hot": folder / "ohe.npy", "attribution": folder / "attr.npy", "rows": folder / "rows.tsv"}
    np.save(paths["one_hot"], onehot)
    np.save(paths["attribution"], contributions)
    rows = table.select(["index", "name", "start", "end"]).to_pylist()
    paths["rows"].write_text(
        "index\tname\tstart\tend\n" + "".join(f"{r['index']}\t{r['name']}\t{r['start']}\t{r['end']}\n" for r in rows)
    )
    return paths


def plot_logos(table, path, top: int = 5, max_bases: int = 200) -> Path:
    """Attribution logos (logomaker: each base's letter scaled by its attribution) of the ``top`` rows with the
    highest score, one panel each, up to ``max_bases`` bases around each row's strongest base; one png."""
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    scores = np.asarray(table.column("score").to_pylist())
    order = np.argsort(-scores, kind="stable")[:top]
    rows = table.select(["name", "start", "end", "method", "target"]).to_pylist()
    sequences = table.column("sequence").to_pylist()
    attributions = table.column("attribution").to_pylist()
    figure, axes = plt.subplots(len(order), 1, figsize=(14, 2.2 * len(order)), squeeze=False)
    for axis, n in zip(axes[:, 0], order):
        values = np.asarray(attributions[n], np.float64)
        peak = int(np.argmax(np.abs(values))) if len(values) else 0
        first = max(0, min(peak - max_bases // 2, len(values) - max_bases))
        last = min(len(values), first + max_bases)
        matrix = one_hot(sequences[n][first:last]) * values[first:last, None]
        logomaker.Logo(pd.DataFrame(matrix, columns=list(BASES), index=np.arange(first, last)), ax=axis)
        row = rows[n]
        axis.set_title(
            f"{row['name']}:{row['start']}-{row['end']}  {row['method']} for {row['target']}  "
            f"(logit {scores[n]:.2f}; bases {first}-{last})",
            fontsize=9,
        )
        axis.set_ylabel("attribution")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return Path(path)
