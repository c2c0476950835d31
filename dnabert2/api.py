"""The Python API: ``embed``, ``predict``, ``score`` and ``score_variants``, each the computation of its command line
(dnabert2-embed, -predict, -score, -score-variants: the same reader, compute step and model loading), returned in
memory.

Sequences are given as a list (strings, or tuples of two for pair tasks) or as a path (``str`` or ``Path``) to a
FASTA/FASTQ(.gz), CSV or BED (with ``fasta``) file; a string is always a path, so wrap one sequence in a list.
``model`` defaults to the shipped model (``dnabert2.SHIPPED_MODEL``).
"""

from pathlib import Path

import numpy as np

from dnabert2.inference.arguments import SHIPPED


def _reader(sequences, fasta, window, stride, skip_unusable: bool):
    """The pipeline's reader over a path or a list of sequences."""
    from dnabert2.inference.inputs import as_pieces, check_windows, iter_inputs
    from dnabert2.inference.pipeline import PieceReader

    check_windows(window, stride)
    pieces = iter_inputs(sequences, fasta) if isinstance(sequences, (str, Path)) else as_pieces(sequences)
    return PieceReader(pieces, window, stride, skip_unusable)


def embed(
    sequences,
    model: str = SHIPPED,
    pooling: str = "mean",
    window: int | None = None,
    stride: int | None = None,
    rc_average: bool = False,
    fasta: str | None = None,
    max_tokens_per_batch: int = 16384,
    progress: bool = False,
):
    """Embeddings of ``sequences`` (one per sequence, or per window with ``window``/``stride`` in bp, in input
    order) by ``model``'s encoder. ``mean`` and ``cls`` pooling give a float32 array (N, hidden); ``nucleotide`` a
    list of (bases, hidden) arrays; ``token`` a list of (vectors, spans) pairs, spans the tokens' [start, end) in bp.
    An empty sequence or one without A/C/G/T has no embedding: it is an error naming it (dnabert2-embed skips and
    counts such records instead)."""
    from dnabert2.data.tokenizer import load_tokenizer
    from dnabert2.inference.embedding import embedding_job
    from dnabert2.inference.loading import load_encoder
    from dnabert2.inference.pipeline import run_in_memory
    from dnabert2.runtime.errors import InputError

    reader = _reader(sequences, fasta, window, stride, skip_unusable=True)
    job = embedding_job(
        load_encoder(model), load_tokenizer(model), reader, pooling, rc_average, "float32", max_tokens_per_batch
    )
    table = run_in_memory(job, progress)
    if reader.skipped:
        raise InputError(f"no embedding for {reader.skipped_counts()} input(s) (records by reason): remove them.")
    vectors = [np.asarray(v, np.float32) for v in (table.column("embedding").to_pylist() if table else [])]
    if pooling in ("mean", "cls"):
        return np.stack(vectors) if vectors else np.zeros((0, 0), np.float32)
    if pooling == "token":
        spans = [np.asarray(s, np.int64) for s in table.column("spans").to_pylist()]
        return list(zip(vectors, spans))
    return vectors


def predict(
    sequences,
    model: str,
    window: int | None = None,
    stride: int | None = None,
    rc_average: bool = False,
    max_length: int | None = None,
    fasta: str | None = None,
    max_tokens_per_batch: int = 16384,
    progress: bool = False,
):
    """A fine-tuned classifier's predictions as a pandas DataFrame, one row per sequence or window in input order:
    name, start, end, prediction (the label, or the regressed value) and ``prob_<label>`` per class (the columns
    of dnabert2-predict's CSV, as numbers)."""
    from dnabert2.data.tokenizer import load_tokenizer
    from dnabert2.inference.batching import LengthLimit
    from dnabert2.inference.loading import load_classifier
    from dnabert2.inference.pipeline import run_in_memory
    from dnabert2.inference.prediction import prediction_job

    classifier = load_classifier(model)
    reader = _reader(sequences, fasta, window, stride, skip_unusable=False)
    limit = LengthLimit(max_length)
    job = prediction_job(classifier, load_tokenizer(model), reader, max_tokens_per_batch, limit, False, rc_average)
    table = run_in_memory(job, progress)
    if limit.report():
        import warnings

        warnings.warn(limit.report())
    frame = table.to_pandas() if table else None
    columns = ["name", "start", "end", "prediction"]
    if frame is None:
        import pandas as pd

        return pd.DataFrame(columns=columns)
    return frame[columns + [c for c in frame.columns if c.startswith("prob_")]]


def score(
    sequences,
    model: str = SHIPPED,
    mask_stride: int | None = None,
    window: int | None = None,
    stride: int | None = None,
    region: tuple[int, int] | None = None,
    fasta: str | None = None,
    max_tokens_per_batch: int = 16384,
):
    """Pseudo-log-likelihoods under a masked language model as a pandas DataFrame, one row per sequence or window in
    input order: name, start, end, tokens (scored), pll (natural log), pll_per_bp; the rows of dnabert2-score's TSV,
    as numbers. Exact (every token masked once) unless ``mask_stride`` (k copies, every k-th token masked in each);
    ``region`` (start, end) in bp scores only the tokens overlapping it. Definitions: ``dnabert2.inference.likelihood``.
    """
    import pandas as pd

    from dnabert2.inference.likelihood import COLUMNS, load_scorer, score_job
    from dnabert2.inference.pipeline import run_in_memory

    scorer, tokenizer = load_scorer(model)
    reader = _reader(sequences, fasta, window, stride, skip_unusable=False)
    table = run_in_memory(score_job(scorer, tokenizer, reader, mask_stride, region, max_tokens_per_batch))
    return pd.DataFrame(columns=COLUMNS) if table is None else table.select(COLUMNS).to_pandas()


def score_variants(
    vcf,
    fasta,
    model: str = SHIPPED,
    classifier: str | None = None,
    window: int = 512,
    on_ref_mismatch: str = "error",
    batch_size: int = 16,
    progress: bool = False,
):
    """Variant-effect scores of every ALT allele of ``vcf`` against the reference ``fasta`` as a pandas DataFrame,
    in VCF order: CHROM, POS, ID, REF, ALT, embedding_distance, llr, llr_tokens (and ``delta_<label>`` with a
    fine-tuned ``classifier``); the columns of dnabert2-score-variants' TSV. Definitions in
    ``dnabert2.inference.variants``."""
    from dnabert2.data.tokenizer import load_tokenizer
    from dnabert2.inference.loading import load_classifier, load_masked_lm
    from dnabert2.inference.pipeline import run_in_memory
    from dnabert2.inference.variants import Reference, SkipCounts, variant_columns, variant_job
    from dnabert2.runtime.errors import existing_path

    existing_path(vcf, "VCF")
    existing_path(fasta, "reference FASTA")
    mlm = load_masked_lm(model)
    head = load_classifier(classifier) if classifier else None
    with Reference(fasta) as reference:
        job = variant_job(
            vcf, reference, mlm, load_tokenizer(model), window, head, on_ref_mismatch, batch_size, SkipCounts()
        )
        table = run_in_memory(job, progress)
    import pandas as pd

    return table.to_pandas()[variant_columns(head)] if table else pd.DataFrame(columns=variant_columns(head))
