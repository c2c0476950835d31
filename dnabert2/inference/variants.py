"""Variant-effect scores from DNA language models: VCF/BCF + indexed reference FASTA -> one row per ALT allele.

Reading uses pysam (VCF/BCF, plain or bgzipped; FASTA plain or bgzipped with a .fai index, built if missing).
For each variant a window of ``window`` bp centred on it is cut from the reference (shifted, not truncated, at a
contig end); the alternate window is the same window with REF replaced by ALT (indels change its length).

Scores, in a TSV streamed as they are computed:
- ``embedding_distance``: cosine distance between the mean-pooled last-layer embeddings of the reference and the
  alternate windows (as BEND scores variants with DNABERT-2).
- ``llr``: masked log-likelihood ratio adapted to BPE. REF and ALT are tokenized differently, so each allele is
  scored in its own window and tokenization: every token that overlaps the allele's bases is replaced by [MASK]
  (all at once), and the allele's score is the sum, over those tokens, of log p(the window's own token at that
  position | the masked window). ``llr = score(ALT window) - score(REF window)``: positive when the model finds the
  alternate sequence more likely. Swapping REF and ALT negates it exactly; identical alleles score 0. The two sums
  can cover different numbers of tokens (a SNV can change the BPE segmentation around it); ``llr_tokens`` gives the
  counts as "ref/alt".
- with ``classifier``: ``delta_<label>``, the classifier's probability of each class on the ALT window minus on the
  REF window.
"""

import re
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from dnabert2.data.alphabet import MODEL_READS_AMBIGUITY, clean_bases, invalid_characters, non_acgt_count
from dnabert2.data.reference import IndexedFasta
from dnabert2.inference.heads import outputs_of
from dnabert2.runtime.errors import InputError

COLUMNS = ["CHROM", "POS", "ID", "REF", "ALT", "embedding_distance", "llr", "llr_tokens"]
SYMBOLIC = re.compile(r"^<.*>$|[\[\]]|^\*$|^\.$")


class VariantError(InputError):
    """A variant that cannot be scored as asked; the message names it."""


@dataclass
class Variant:
    """One ALT allele of a VCF record (1-based position, as in the VCF); ``index`` is its position among the file's
    ALT alleles (skipped ones included), which shards and merges key on."""

    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    index: int = 0

    def __str__(self):
        return f"{self.chrom}:{self.pos} {self.ref}>{self.alt}" + (f" ({self.id})" if self.id != "." else "")


@dataclass
class SkipCounts:
    """Variants read, and those skipped, by reason."""

    read: int = 0
    skipped: dict = field(default_factory=dict)
    with_n: int = 0

    def skip(self, reason: str):
        """Count one skipped allele."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def summary(self) -> str:
        """One line: alleles read, skipped by reason, and scored with N (read as [UNK]) in their window."""
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items())) or "none"
        return (
            f"{self.read} ALT allele(s) read; skipped: {skipped}; scored with N or another ambiguity code in the "
            f"window ({MODEL_READS_AMBIGUITY}): {self.with_n}"
        )


def read_variants(vcf_path, counts: SkipCounts, owns=lambda index: True) -> Iterator[Variant]:
    """Every ALT allele of the VCF/BCF, in file order (sorted or not); symbolic and structural alleles
    (``<DEL>``, breakends, ``*``) and alleles with letters that are not nucleotides are skipped and counted. A file
    that pysam cannot read is a ``VariantError`` naming it. ``owns(index)``: the alleles this worker reads (a shard);
    the others are passed over, uncounted."""
    import pysam

    try:
        with pysam.VariantFile(str(vcf_path)) as vcf:
            alleles = ((record, alt) for record in vcf for alt in record.alts or ())
            for index, (record, alt) in enumerate(alleles):
                if not owns(index):
                    continue
                counts.read += 1
                ref, alt_bases = clean_bases(record.ref or ""), clean_bases(alt)
                if SYMBOLIC.search(alt):
                    counts.skip("symbolic or structural alleles")
                elif not ref or not alt_bases or invalid_characters(ref + alt_bases):
                    counts.skip("alleles with letters that are not nucleotides")
                else:
                    yield Variant(record.chrom, record.pos, record.id or ".", ref, alt_bases, index)
    except (ValueError, OSError) as error:
        raise VariantError(f"{vcf_path}: not a readable VCF/BCF file ({error}).") from None


class Reference(IndexedFasta):
    """Random access to an indexed reference FASTA for variant windows; errors are ``VariantError``."""

    error = VariantError

    def windows(self, variant: Variant, window: int) -> tuple[str, str, int]:
        """(reference window, alternate window, offset of the allele in both) for ``variant``.

        Both windows are the same left flank + the allele + the same right flank, the flanks adding up to
        ``window`` minus the longer allele and split evenly; at a contig end the missing bases move to the other
        flank. So REF>ALT and ALT>REF (on the edited genome) give the same pair of windows, swapped.
        Raises VariantError when REF does not match the reference.
        """
        contig = self.contig(variant.chrom)
        length = self.lengths[contig]
        start0, end0 = variant.pos - 1, variant.pos - 1 + len(variant.ref)
        found = self.fetch(contig, start0, end0)
        if found != variant.ref:
            raise VariantError(f"{variant}: REF {variant.ref!r} does not match the reference ({found!r} there).")
        flanks = max(0, window - max(len(variant.ref), len(variant.alt)))
        left = min(flanks // 2, start0)
        right = min(flanks - left, length - end0)
        left = min(flanks - right, start0)
        left_flank = self.fetch(contig, start0 - left, start0)
        right_flank = self.fetch(contig, end0, end0 + right)
        return left_flank + variant.ref + right_flank, left_flank + variant.alt + right_flank, left


def _masked_for_allele(tokenizer, sequence: str, start: int, end: int) -> tuple[list, list, list]:
    """(masked ids, positions, original ids) of ``sequence`` with every token overlapping [start, end) masked."""
    encoded = tokenizer(sequence, return_offsets_mapping=True)
    ids, positions = list(encoded["input_ids"]), []
    for position, (a, b) in enumerate(encoded["offset_mapping"]):
        if b > a and a < end and b > start:
            positions.append(position)
    original = [ids[p] for p in positions]
    for p in positions:
        ids[p] = tokenizer.mask_token_id
    return ids, positions, original


@torch.no_grad()
def allele_log_likelihoods(mlm, tokenizer, windows: list[tuple[str, int, int]]) -> tuple[np.ndarray, list[int]]:
    """Sum of log p(own token) over the masked tokens overlapping each window's allele [start, end), and their
    count; one batch for all windows."""
    rows = [_masked_for_allele(tokenizer, sequence, start, end) for sequence, start, end in windows]
    batch = tokenizer.pad([{"input_ids": ids} for ids, _, _ in rows], return_tensors="pt").to(mlm.device)
    log_probs = torch.log_softmax(mlm(**batch).logits.float(), dim=-1).cpu()
    scores = [
        float(sum(log_probs[i, p, t] for p, t in zip(positions, original)))
        for i, (_, positions, original) in enumerate(rows)
    ]
    return np.array(scores), [len(positions) for _, positions, _ in rows]


@torch.no_grad()
def window_embeddings(encoder, tokenizer, sequences: list[str]) -> np.ndarray:
    """Mean-pooled last-layer embeddings of the windows, (n, hidden)."""
    batch = tokenizer(sequences, padding=True, return_tensors="pt").to(encoder.device)
    return encoder.encode_packed(**batch).mean().float().cpu().numpy()


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise 1 - cosine similarity."""
    return 1 - (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def score_variants(
    variants,
    reference: Reference,
    mlm,
    tokenizer,
    window: int = 512,
    classifier=None,
    on_ref_mismatch: str = "error",
    counts: SkipCounts | None = None,
    batch_size: int = 16,
) -> Iterator[dict]:
    """Rows (CHROM, POS, ID, REF, ALT, embedding_distance, llr, llr_tokens[, delta_<label>...]) in input order.

    ``on_ref_mismatch``: "error" (VariantError naming the variant) or "skip" (counted in ``counts``); it covers
    REF bases that differ from the FASTA and contigs the FASTA lacks.
    ``classifier`` is a fine-tuned sequence classifier (with the same tokenizer) for the ``delta_*`` columns.
    """
    if on_ref_mismatch not in ("error", "skip"):
        raise InputError(f"on_ref_mismatch must be 'error' or 'skip', got {on_ref_mismatch!r}.")
    counts = counts or SkipCounts()
    pending = []

    def flush():
        references = [(r, o, o + len(v.ref)) for v, r, _, o in pending]
        alternates = [(a, o, o + len(v.alt)) for v, _, a, o in pending]
        ref_scores, ref_tokens = allele_log_likelihoods(mlm, tokenizer, references)
        alt_scores, alt_tokens = allele_log_likelihoods(mlm, tokenizer, alternates)
        distance = cosine_distance(
            window_embeddings(mlm.bert, tokenizer, [r for r, _, _ in references]),
            window_embeddings(mlm.bert, tokenizer, [a for a, _, _ in alternates]),
        )
        deltas = None
        if classifier is not None:
            with torch.no_grad():
                outputs = [
                    outputs_of(
                        classifier(
                            **tokenizer([w for w, _, _ in side], padding=True, return_tensors="pt").to(
                                classifier.device
                            )
                        )
                        .logits.float()
                        .cpu()
                        .numpy(),
                        classifier.config,
                    )
                    for side in (references, alternates)
                ]
            deltas = outputs[1] - outputs[0]
        for i, (variant, _, _, _) in enumerate(pending):
            row = {
                "CHROM": variant.chrom,
                "POS": variant.pos,
                "ID": variant.id,
                "REF": variant.ref,
                "ALT": variant.alt,
                "embedding_distance": float(distance[i]),
                "llr": float(alt_scores[i] - ref_scores[i]),
                "llr_tokens": f"{ref_tokens[i]}/{alt_tokens[i]}",
                "index": variant.index,
            }
            if deltas is not None:
                row.update(
                    {f"delta_{classifier.config.id2label[k]}": float(deltas[i, k]) for k in range(deltas.shape[1])}
                )
            yield row
        pending.clear()

    for variant in variants:
        try:
            pending.append((variant, *reference.windows(variant, window)))
            counts.with_n += non_acgt_count(pending[-1][1]) + non_acgt_count(pending[-1][2]) > 0
        except VariantError as error:
            if on_ref_mismatch == "error":
                raise
            counts.skip("REF mismatches" if "does not match" in str(error) else "contigs not in the reference")
            continue
        if len(pending) == batch_size:
            yield from flush()
    if pending:
        yield from flush()


def variant_columns(classifier=None) -> list[str]:
    """The output's columns: ``COLUMNS`` and, with a classifier, ``delta_<label>`` per class."""
    labels = [classifier.config.id2label[k] for k in range(classifier.config.num_labels)] if classifier else []
    return COLUMNS + [f"delta_{label}" for label in labels]


def variant_job(
    vcf,
    reference: Reference,
    mlm,
    tokenizer,
    window: int,
    classifier,
    on_ref_mismatch: str,
    batch_size: int,
    counts: SkipCounts,
):
    """The score-variants job: this shard's ALT alleles of ``vcf`` (ALT allele i is shard i % count's), each part
    scored by ``score_variants`` into a table of ``variant_columns`` plus the allele's index."""
    import pyarrow as pa

    from dnabert2.inference.pipeline import Job

    def kind(name):
        if name in ("POS", "index"):
            return pa.int64()
        return pa.float64() if name in ("embedding_distance", "llr") or name.startswith("delta_") else pa.string()

    schema = pa.schema([(name, kind(name)) for name in ["index", *variant_columns(classifier)]])

    def rows(shard):
        return ((variant.index, variant) for variant in read_variants(vcf, counts, shard.owns))

    def compute(part, bar):
        scored = list(
            score_variants(
                [variant for _, variant in part],
                reference,
                mlm,
                tokenizer,
                window,
                classifier,
                on_ref_mismatch,
                counts,
                batch_size,
            )
        )
        bar.update(len(part))
        return pa.Table.from_pylist(scored, schema=schema)

    return Job(rows, compute, lambda: dict(counts.skipped), unit="variant", description="Scoring")


def variant_writer(output, columns: list[str]):
    """A writer of merged variant rows: the TSV of ``columns``, in VCF order."""
    from dnabert2.inference.writers import write_delimited

    def write(rows) -> int:
        return write_delimited(output, columns, ([row[c] for c in columns] for row in rows), delimiter="\t")

    return write
