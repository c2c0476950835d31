"""The inference commands as library calls: each checks its inputs, opens its run, loads the model it needs and runs
its job through the pipeline (``run_embed``, ``run_predict``, ``run_score``, ``run_score_variants``; a command line
is argument parsing plus one of these)."""

import logging
import os
from dataclasses import asdict

import torch

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.arguments import EmbedArguments, PredictArguments, ScoreArguments, VariantArguments
from dnabert2.inference.batching import LengthLimit
from dnabert2.inference.embedding import embedding_job, pooling_for
from dnabert2.inference.inputs import check_inputs, check_windows, iter_inputs
from dnabert2.inference.likelihood import load_scorer, parse_region, score_job, score_writer
from dnabert2.inference.loading import load_classifier, load_encoder, load_masked_lm
from dnabert2.inference.pipeline import PieceReader, run_job
from dnabert2.inference.prediction import prediction_job, prediction_writer
from dnabert2.inference.sharding import open_run, worker_device
from dnabert2.inference.variants import Reference, SkipCounts, variant_columns, variant_job, variant_writer
from dnabert2.models import resolve_model
from dnabert2.runtime.errors import InputError, existing_path

logger = logging.getLogger(__name__)


def _settings(args, names) -> dict:
    """The flags a run's output depends on, as recorded in its manifest."""
    return {key: value for key, value in asdict(args).items() if key in names}


def sharded(args) -> bool:
    """Whether this run is one of several workers (flags or a multi-process launcher)."""
    return args.num_shards > 1 or int(os.environ.get("WORLD_SIZE", "1")) > 1


def _log_merge(counts: dict, what: str, output, also: str | None = None):
    """Log what this worker's merge wrote, if it merged (``also``: a second file, e.g. "tracks to t.parquet")."""
    if "merged rows" in counts:
        logger.info("Wrote %d %s to %s%s", counts["merged rows"], what, output, f" and {also}" if also else "")


def run_embed(args: EmbedArguments) -> dict:
    """Embed this worker's shard of ``args.input`` into ``args.output_dir``; returns the run's counts."""
    check_inputs(args.input, args.fasta)
    check_windows(args.window, args.stride)
    pooling_for(args.pooling, args.dtype, args.rc_average)
    model = resolve_model(args.model_name_or_path)
    settings = _settings(
        args, ("pooling", "window", "stride", "rc_average", "dtype", "part_size", "base_model", "kmer")
    )
    store = open_run(args.output_dir, model, settings, args.input, args.fasta, args.shard_index, args.num_shards)
    encoder = load_encoder(model, args.base_model).to(worker_device())
    if encoder.device.type == "cuda" and args.dtype != "float32":  # half precision compute on GPUs only
        encoder.to(getattr(torch, args.dtype))
    reader = PieceReader(iter_inputs(args.input, args.fasta), args.window, args.stride, skip_unusable=True)
    job = embedding_job(
        encoder,
        load_tokenizer(model, args.kmer),
        reader,
        args.pooling,
        args.rc_average,
        args.dtype,
        args.max_tokens_per_batch,
    )
    return run_job(job, store, args.part_size)


def run_predict(args: PredictArguments) -> dict:
    """Predict this worker's shard of ``args.input``; the worker that completes the run (one process: this one)
    merges the parts into ``args.output`` (and ``args.embeddings``), unless ``args.output_dir`` keeps the parts as
    the output. Returns the run's counts."""
    if args.aggregate not in (None, "mean"):
        raise InputError(f"--aggregate must be 'mean', got {args.aggregate!r}.")
    if not args.merge_only:
        check_inputs(args.input, args.fasta)
    check_windows(args.window, args.stride)
    limit = LengthLimit(args.max_length, args.long_inputs)
    model_path = resolve_model(args.model_name_or_path)
    names = (
        "max_length",
        "long_inputs",
        "window",
        "stride",
        "rc_average",
        "quantize",
        "base_model",
        "part_size",
        "kmer",
    )
    settings = {**_settings(args, names), "embeddings": args.embeddings is not None}
    parts = args.output_dir or f"{args.output}.parts"
    store = open_run(parts, model_path, settings, args.input, args.fasta, args.shard_index, args.num_shards)
    model = load_classifier(model_path, args.quantize, args.base_model, args.allow_untrained_head)
    model = model.to(worker_device())
    reader = PieceReader(iter_inputs(args.input, args.fasta), args.window, args.stride, skip_unusable=False)
    job = prediction_job(
        model,
        load_tokenizer(model_path, args.kmer),
        reader,
        args.max_tokens_per_batch,
        limit,
        args.embeddings is not None,
        args.rc_average,
    )
    write = None
    if args.merge_only or not args.output_dir:
        write = prediction_writer(args.output, model.config, args.embeddings, args.aggregate == "mean")
    counts = run_job(job, store, args.part_size, write, args.merge_only, keep_parts=sharded(args) or args.merge_only)
    if limit.report():
        logger.warning(limit.report())
    _log_merge(counts, "predictions", args.output, f"embeddings to {args.embeddings}" if args.embeddings else None)
    return counts


def run_score(args: ScoreArguments) -> dict:
    """Score this worker's shard of ``args.input`` (pseudo-log-likelihoods); the worker that completes the run (one
    process: this one) merges the parts (``<output>.parts/``) into ``args.output`` (and ``args.tracks``). Returns the
    run's counts."""
    region = parse_region(args.region)
    if not args.merge_only:
        check_inputs(args.input, args.fasta)
    check_windows(args.window, args.stride)
    model_path = resolve_model(args.model_name_or_path)
    names = ("window", "stride", "region", "mask_stride", "part_size", "kmer")
    settings = {**_settings(args, names), "tracks": args.tracks is not None}
    store = open_run(
        f"{args.output}.parts", model_path, settings, args.input, args.fasta, args.shard_index, args.num_shards
    )
    model, tokenizer = load_scorer(model_path, kmer=args.kmer)
    reader = PieceReader(iter_inputs(args.input, args.fasta), args.window, args.stride, skip_unusable=False)
    job = score_job(
        model, tokenizer, reader, args.mask_stride, region, args.max_tokens_per_batch, args.tracks is not None
    )
    write = score_writer(args.output, args.tracks)
    counts = run_job(job, store, args.part_size, write, args.merge_only, keep_parts=sharded(args) or args.merge_only)
    _log_merge(counts, "scores", args.output, f"tracks to {args.tracks}" if args.tracks else None)
    return counts


def run_score_variants(args: VariantArguments) -> SkipCounts:
    """Score this worker's shard of the ALT alleles of ``args.vcf``; the worker that completes the run (one
    process: this one) writes the TSV. Returns this worker's skip counts."""
    existing_path(args.vcf, "VCF")
    existing_path(args.fasta, "reference FASTA")
    if args.on_ref_mismatch not in ("error", "skip"):
        raise InputError(f"--on_ref_mismatch must be 'error' or 'skip', got {args.on_ref_mismatch!r}.")
    model_path = resolve_model(args.model_name_or_path)
    settings = _settings(args, ("classifier", "window", "on_ref_mismatch", "part_size"))
    store = open_run(
        f"{args.output}.parts", model_path, settings, args.vcf, args.fasta, args.shard_index, args.num_shards
    )
    tokenizer = load_tokenizer(model_path)
    mlm = load_masked_lm(model_path).to(worker_device())
    classifier = load_classifier(args.classifier).to(worker_device()) if args.classifier else None
    counts = SkipCounts()
    with Reference(args.fasta) as reference:
        job = variant_job(
            args.vcf,
            reference,
            mlm,
            tokenizer,
            args.window,
            classifier,
            args.on_ref_mismatch,
            args.batch_size,
            counts,
        )
        write = variant_writer(args.output, variant_columns(classifier))
        run_job(job, store, args.part_size, write, args.merge_only, keep_parts=sharded(args) or args.merge_only)
    logger.info("Shard %d of %d: %s", store.shard.index, store.shard.count, counts.summary())
    return counts
