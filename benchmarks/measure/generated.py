"""Generated (seeded random) inputs for the benchmarks: reads, a genome, and variants on it."""

import gzip
from pathlib import Path

import numpy as np

from dnabert2.data.alphabet import ACGT

LETTERS = np.array(list(ACGT))


def random_dna(rng: np.random.Generator, length: int) -> str:
    """``length`` uniformly random bases."""
    return "".join(LETTERS[rng.integers(0, 4, length)])


def write_reads(path: Path, count: int, length: int, seed: int = 0) -> Path:
    """A gzipped FASTQ of ``count`` random reads of ``length`` bp."""
    rng = np.random.default_rng(seed)
    with gzip.open(path, "wt", compresslevel=1) as handle:
        for i in range(count):
            handle.write(f"@read{i}\n{random_dna(rng, length)}\n+\n{'I' * length}\n")
    return path


def write_genome(path: Path, contig_lengths: dict, seed: int = 0) -> dict:
    """A FASTA of random contigs (60 bp lines); returns {name: sequence}."""
    rng = np.random.default_rng(seed)
    contigs = {name: random_dna(rng, length) for name, length in contig_lengths.items()}
    with open(path, "w") as handle:
        for name, sequence in contigs.items():
            handle.write(f">{name}\n")
            handle.writelines(sequence[i : i + 60] + "\n" for i in range(0, len(sequence), 60))
    return contigs


def generated_variants(contigs: dict, count: int, seed: int = 0) -> list[tuple[str, int, str, str]]:
    """``count`` variants (chrom, 1-based pos, ref, alt) on ``contigs``: 70 % SNVs, 30 % 1-5 bp indels."""
    rng = np.random.default_rng(seed)
    variants = []
    for _ in range(count):
        name = str(rng.choice(list(contigs)))
        pos = int(rng.integers(1000, len(contigs[name]) - 1000))
        ref = contigs[name][pos - 1]
        kind = rng.random()
        if kind < 0.7:
            alt = str(rng.choice([b for b in ACGT if b != ref]))
        elif kind < 0.85:
            alt = ref + random_dna(rng, int(rng.integers(1, 6)))
        else:
            ref = contigs[name][pos - 1 : pos + int(rng.integers(1, 6))]
            alt = ref[0]
        variants.append((name, pos, ref, alt))
    return variants


def write_vcf(path: Path, contigs: dict, variants: list) -> Path:
    """A VCF 4.2 of ``variants`` (sorted by contig and position)."""
    header = "##fileformat=VCFv4.2\n" + "".join(
        f"##contig=<ID={name},length={len(seq)}>\n" for name, seq in contigs.items()
    )
    rows = sorted(variants, key=lambda v: (list(contigs).index(v[0]), v[1]))
    path.write_text(
        header
        + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "".join(f"{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n" for c, p, r, a in rows)
    )
    return path
