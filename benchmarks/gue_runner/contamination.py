"""Overlap of GUE test sets with a pretraining corpus: whole test sequences found in it, long k-mers shared with it."""

import json
import re
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dnabert2.benchmarks.measure.docs_tables import write_results_markdown
from dnabert2.data.alphabet import ACGT, NOT_ACGT, acgt_codes, reverse_complement
from dnabert2.data.fasta import expand_paths, read_fasta
from dnabert2.data.gue import find_tasks, resolve_task
from dnabert2.data.tasks import read_csv_split
from dnabert2.runtime.files import write_text_atomic

COMPLEMENT = np.array([ACGT.index(reverse_complement(base)) for base in ACGT], dtype=np.uint64)
HASH_BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: k-mers map to 64-bit ints by a polynomial in it, modulo 2^64
DUST_LIMIT = 2.0
REPEAT_COPIES = 10
CHUNK = 1 << 22  # corpus positions hashed at a time (bounds memory)

METHOD = (
    "Corpus and test sequences are read as 50-mers (k below) on both strands: each k-mer is hashed to a 64-bit int "
    "(a polynomial over its 2-bit bases, modulo 2^64) for itself and for its reverse complement, and the smaller of "
    "the two is its canonical hash, so a k-mer and its reverse complement count as one; k-mers holding N or another "
    "ambiguity code are skipped. A test sequence is an exact match when it or its reverse complement occurs in a "
    "corpus record (every candidate, a sequence whose k-mers all occur, is checked as a string). It shares a k-mer "
    "when one of its k-mers that is not low-complexity occurs in the corpus. Low-complexity: the k-mer's DUST score "
    "(sum over its 64 triplet types of c(c-1)/2, divided by the number of triplets minus 1; Morgulis et al. 2006) is "
    f"above {DUST_LIMIT}: homopolymer and short-period repeats (a 50-mer of (CA)n scores 11.7, random sequence about "
    "0.4), so they never count. Interspersed repeats are not masked: a k-mer occurring at least "
    f"{REPEAT_COPIES} times in the corpus is a repeat; sequences whose shared k-mers are all repeats are counted "
    "apart (shared_only_repeat_kmers) and still not clean. Clean: neither an exact match nor a shared k-mer. Hash "
    "collisions could add a false shared k-mer (about 1e-4 expected over all test sets); exact matches are exact."
)


@dataclass
class ContaminationArguments:
    gue_dir: str = field(metadata={"help": "GUE root in the official CSV layout."})
    corpus: str = field(metadata={"help": "Pretraining FASTA files (glob, e.g. '../shared/data/genomes/*.fa.gz')."})
    tasks: str = field(default="complete", metadata={"help": "'complete', 'all' or comma-separated config names."})
    k: int = field(default=50, metadata={"help": "k-mer length for shared k-mers (at most 50 is typical)."})
    output: str = field(
        default="benchmarks/results/gue_contamination",
        metadata={"help": "Output path without extension: writes <output>.json and <output>.md."},
    )


def kmer_hashes(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(canonical 64-bit hashes, valid) of every k-mer along the last axis of ``codes`` (k-mer i is codes[..., i:i+k]);
    valid is False for k-mers holding a letter other than A, C, G, T (their hash is meaningless)."""
    n = codes.shape[-1] - k + 1
    if n <= 0:
        empty = np.zeros((*codes.shape[:-1], 0))
        return empty.astype(np.uint64), empty.astype(bool)
    invalid = np.concatenate(
        [np.zeros((*codes.shape[:-1], 1), dtype=np.int64), np.cumsum(codes == NOT_ACGT, axis=-1)], axis=-1
    )
    valid = invalid[..., k:] == invalid[..., :n]
    bases = np.where(codes == NOT_ACGT, 0, codes).astype(np.uint64)
    complement = COMPLEMENT[bases]
    forward = np.zeros((*codes.shape[:-1], n), dtype=np.uint64)
    backward = np.zeros_like(forward)
    with np.errstate(over="ignore"):
        for j in range(k):
            forward = forward * HASH_BASE + bases[..., j : j + n]
            backward = backward * HASH_BASE + complement[..., k - 1 - j : k - 1 - j + n]
    return np.minimum(forward, backward), valid


def dust_scores(codes: np.ndarray, k: int) -> np.ndarray:
    """DUST score of every k-mer along the last axis: sum over triplet types of c(c-1)/2 over (triplets - 1);
    triplets holding a letter other than A, C, G, T are not counted."""
    wide = codes.astype(np.int64)
    triplets = wide[..., :-2] * 16 + wide[..., 1:-1] * 4 + wide[..., 2:]
    bad = (codes[..., :-2] == NOT_ACGT) | (codes[..., 1:-1] == NOT_ACGT) | (codes[..., 2:] == NOT_ACGT)
    one_hot = np.zeros((*triplets.shape, 65), dtype=np.int16)
    np.put_along_axis(one_hot, np.where(bad, 64, triplets)[..., None], 1, axis=-1)
    counts = np.concatenate(
        [np.zeros((*triplets.shape[:-1], 1, 65), dtype=np.int16), np.cumsum(one_hot, axis=-2)], axis=-2
    )
    window = (counts[..., k - 2 :, :64] - counts[..., : counts.shape[-2] - k + 2, :64]).astype(np.float64)
    return (window * (window - 1) / 2).sum(axis=-1) / (k - 3)


@dataclass
class TestSet:
    """One task's test sequences with their k-mers: canonical hashes, valid and informative (not low-complexity)."""

    task: str
    sequences: list
    hashes: list = field(default_factory=list)
    valid: list = field(default_factory=list)
    informative: list = field(default_factory=list)


def read_test_set(task: str, csv_file: Path, k: int) -> TestSet:
    """A task's test split (every sequence column; an example of two sequences counts if either does) with k-mers."""
    columns = read_csv_split(csv_file)
    names = [name for name in columns if name.startswith("sequence")]
    test = TestSet(task, [tuple(values) for values in zip(*(columns[name] for name in names))])
    for example in test.sequences:
        codes = [acgt_codes(sequence) for sequence in example]
        pieces = [kmer_hashes(c, k) for c in codes]
        test.hashes.append(np.concatenate([hashes for hashes, _ in pieces]))
        test.valid.append(np.concatenate([valid for _, valid in pieces]))
        test.informative.append(
            np.concatenate([dust_scores(c, k) <= DUST_LIMIT if len(c) >= k else np.zeros(0, bool) for c in codes])
        )
    return test


def lookup(sorted_hashes: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found, position): which ``hashes`` occur in the sorted array, and where (binary search; sorting the big array
    once, not per call as np.isin would)."""
    if not len(sorted_hashes):
        return np.zeros(hashes.shape, dtype=bool), np.zeros(hashes.shape, dtype=np.intp)
    position = np.minimum(np.searchsorted(sorted_hashes, hashes), len(sorted_hashes) - 1)
    return sorted_hashes[position] == hashes, position


def corpus_matches(paths: list[Path], wanted: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    """(hashes of ``wanted`` (sorted) found in the corpus, their copy numbers there, the corpus records, corpus
    sizes): every k-mer of every record, hashed CHUNK positions at a time and kept only when wanted."""
    found, records, bases, kmers = [], [], 0, 0
    for path in paths:
        for record in read_fasta(path):
            codes = acgt_codes(record.sequence)
            records.append(record.sequence)
            bases += int((codes != NOT_ACGT).sum())
            for start in range(0, max(len(codes) - k + 1, 0), CHUNK):
                hashes, valid = kmer_hashes(codes[start : start + CHUNK + k - 1], k)
                hashes = hashes[valid]
                kmers += len(hashes)
                found.append(hashes[lookup(wanted, hashes)[0]])
    matched, copies = np.unique(np.concatenate(found) if found else np.zeros(0, np.uint64), return_counts=True)
    return matched, copies, records, {"files": [p.name for p in paths], "bases": bases, "kmers": kmers}


def occurs_in(sequence: str, records: list[str]) -> bool:
    """True when the sequence or its reverse complement is a substring of a record."""
    other = reverse_complement(sequence)
    return any(sequence in record or other in record for record in records)


def task_counts(test: TestSet, matched: np.ndarray, copies: np.ndarray, records: list[str], k: int) -> dict:
    """Per-task counts (exact matches, shared k-mers, shared repeats only, clean) and the clean example indices."""
    exact, shared, repeats_only, clean = [], [], [], []
    for index, (example, hashes, valid, informative) in enumerate(
        zip(test.sequences, test.hashes, test.valid, test.informative)
    ):
        found, position = lookup(matched, hashes)
        hit = valid & found
        candidate = any(len(s) < k for s in example) or bool(hit.all())  # every k-mer occurs: check as a string
        is_exact = candidate and any(occurs_in(sequence, records) for sequence in example)
        informative_hits = hit & informative
        if is_exact:
            exact.append(index)
        if informative_hits.any():
            shared.append(index)
            if (copies[position[informative_hits]] >= REPEAT_COPIES).all():
                repeats_only.append(index)
        if not is_exact and not informative_hits.any():
            clean.append(index)
    return {
        "test_sequences": len(test.sequences),
        "exact": len(exact),
        "shared_kmer": len(shared),
        "shared_only_repeat_kmers": len(repeats_only),
        "clean": len(clean),
        "exact_indices": exact,
        "clean_indices": clean,
    }


def selected_test_files(gue_dir, tasks: str) -> dict:
    """task config name -> test.csv of the tasks asked for ('complete', 'all' or names)."""
    if tasks in ("complete", "all"):
        chosen = [
            task
            for task in find_tasks(gue_dir)
            if (task.complete if tasks == "complete" else (task.folder / "test.csv").exists())
        ]
    else:
        chosen = [resolve_task(gue_dir, name.strip()) for name in tasks.split(",") if name.strip()]
    return {task.config_name: task.folder / "test.csv" for task in chosen}


def measure_contamination(args: ContaminationArguments) -> dict:
    """Every selected GUE test set against the corpus: the report of write_contamination, with run time and peak
    memory."""
    began = time.perf_counter()
    paths = expand_paths([args.corpus])
    tests = [read_test_set(task, path, args.k) for task, path in selected_test_files(args.gue_dir, args.tasks).items()]
    wanted = np.unique(np.concatenate([h[v] for test in tests for h, v in zip(test.hashes, test.valid)]))
    matched, copies, records, corpus = corpus_matches(paths, wanted, args.k)
    return {
        "k": args.k,
        "method": METHOD,
        "corpus": corpus,
        "tasks": {test.task: task_counts(test, matched, copies, records, args.k) for test in tests},
        "run": {
            "seconds": round(time.perf_counter() - began, 1),
            "test_kmers": len(wanted),
            "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        },
    }


def write_contamination(report: dict, output: Path) -> str:
    """Write <output>.json (index lists on one line each) and <output>.md; returns the markdown."""
    text = json.dumps(report, indent=2)
    text = re.sub(r"\[\s+(\d+(?:,\s+\d+)*)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output.with_suffix(".json"), text + "\n")
    corpus, k = report["corpus"], report["k"]
    lines = [
        f"Test sequences of GUE found in the pretraining corpus ({len(corpus['files'])} files, "
        f"{corpus['bases']:,} bases, {corpus['kmers']:,} {k}-mers), either strand.",
        "",
        f"| task | test sequences | exact match | share a {k}-mer | of those, repeats only | clean |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {task} | {c['test_sequences']:,} | {c['exact']:,} | {c['shared_kmer']:,} | "
        f"{c['shared_only_repeat_kmers']:,} | {c['clean']:,} ({100 * c['clean'] / c['test_sequences']:.1f} %) |"
        for task, c in report["tasks"].items()
    ]
    lines += [
        "",
        report["method"],
        "",
        f"Clean test-example indices (0-based rows of test.csv): "
        f"{output.with_suffix('.json').name}, tasks.<task>.clean_indices.",
        "",
        f"Run: {report['run']['seconds']} s, peak memory {report['run']['peak_memory_mb']} MB, "
        f"{report['run']['test_kmers']:,} distinct test {k}-mers.",
    ]
    table = "\n".join(lines) + "\n"
    write_results_markdown(output.with_suffix(".md"), table)
    return table
