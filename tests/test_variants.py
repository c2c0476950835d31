"""Variant scoring on a generated genome and VCF: the llr against masked forward passes built by hand, antisymmetry,
zero for identical alleles, REF checks, skipped alleles counted, chr naming, contig ends, bgzipped inputs."""

import csv

import numpy as np
import pysam
import pytest
import torch

from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.inference.variants import Reference, SkipCounts, Variant, VariantError, score_variants
from dnabert2.train.score_variants import main as score_main
from modeling_dnabert2 import DNABert2ForMaskedLM

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n##contig=<ID=1>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)


def genome(seed=0):
    rng = np.random.default_rng(seed)
    return {name: "".join(rng.choice(list("ACGT"), n)) for name, n in (("chr1", 5000), ("chr2", 3000))}


def write_fasta(path, contigs):
    path.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in contigs.items()))
    return path


def write_vcf(path, rows):
    path.write_text(HEADER + "".join("\t".join(map(str, row)) + "\t.\t.\t.\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def mlm(tiny_pretrained):
    torch.manual_seed(0)
    return DNABert2ForMaskedLM.from_pretrained(tiny_pretrained).eval(), load_tokenizer(tiny_pretrained)


def score(variants, fasta, mlm, **kwargs):
    model, tokenizer = mlm
    return list(score_variants(variants, Reference(fasta), model, tokenizer, window=200, batch_size=3, **kwargs))


def test_llr_is_antisymmetric_and_zero_for_identical_alleles(tmp_path, mlm):
    contigs = genome()
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    checks = []
    for pos in (1000, 2500, 4000):  # SNVs, an insertion and a deletion
        ref = contigs["chr1"][pos - 1]
        checks += [
            (pos, ref, "A" if ref != "A" else "C"),
            (pos, contigs["chr1"][pos - 1 : pos + 2], ref),
            (pos, ref, ref + "GT"),
        ]
    for pos, ref, alt in checks:
        forward = score([Variant("chr1", pos, ".", ref, alt)], fasta, mlm)[0]
        edited = dict(contigs)
        edited["chr1"] = contigs["chr1"][: pos - 1] + alt + contigs["chr1"][pos - 1 + len(ref) :]
        backward = score([Variant("chr1", pos, ".", alt, ref)], write_fasta(tmp_path / "e.fa", edited), mlm)[0]
        assert forward["llr"] != 0 and backward["llr"] == pytest.approx(-forward["llr"], abs=1e-4), (pos, ref, alt)
        assert backward["embedding_distance"] == pytest.approx(forward["embedding_distance"], abs=1e-5)
        (tmp_path / "e.fa.fai").unlink()
    same = score([Variant("chr1", 1000, ".", contigs["chr1"][999], contigs["chr1"][999])], fasta, mlm)[0]
    assert same["llr"] == 0 and same["embedding_distance"] == pytest.approx(0, abs=1e-6)


def test_llr_equals_masked_log_likelihoods_computed_by_hand(tmp_path, mlm):
    """The llr of a SNV, an insertion and a deletion against the definition, built here independently: windows cut
    from the genome string (equal flanks around the allele, adding up to the window minus the longer allele), the
    tokens overlapping the allele found from the BPE token strings, masked all at once, one unpadded forward each."""
    model, tokenizer = mlm
    contigs = genome()
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    chrom, window = contigs["chr1"], 200

    def allele_score(left, allele, right):
        ids = tokenizer(left + allele + right)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)[1:-1]  # between [CLS] and [SEP]
        assert "".join(pieces) == left + allele + right
        ends = np.cumsum([len(piece) for piece in pieces])
        masked = [
            1 + i for i, end in enumerate(ends) if end - len(pieces[i]) < len(left) + len(allele) and end > len(left)
        ]
        inputs = torch.tensor([ids])
        inputs[0, masked] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits[0]
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        return sum(float(log_probs[p, ids[p]]) for p in masked), len(masked)

    variants = [
        (1000, chrom[999], "A" if chrom[999] != "A" else "C"),
        (2500, chrom[2499], chrom[2499] + "GT"),
        (4000, chrom[3999:4002], chrom[3999]),
    ]  # a SNV, an insertion, a deletion
    for pos, ref, alt in variants:
        flanks = window - max(len(ref), len(alt))
        start, end = pos - 1, pos - 1 + len(ref)  # 0-based, end exclusive; far from the contig ends
        left, right = chrom[start - flanks // 2 : start], chrom[end : end + flanks - flanks // 2]
        (ref_score, ref_tokens), (alt_score, alt_tokens) = (allele_score(left, allele, right) for allele in (ref, alt))
        row = score([Variant("chr1", pos, ".", ref, alt)], fasta, mlm)[0]
        assert row["llr"] == pytest.approx(alt_score - ref_score, abs=1e-4), (pos, ref, alt)
        assert row["llr_tokens"] == f"{ref_tokens}/{alt_tokens}"


def test_ref_mismatch_names_the_variant_or_is_skipped_and_counted(tmp_path, mlm):
    contigs = genome()
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    wrong = "A" if contigs["chr2"][99] != "A" else "C"
    bad = Variant("chr2", 100, "rs9", wrong, "G")
    with pytest.raises(VariantError, match="chr2:100 .* \\(rs9\\): REF .* does not match"):
        score([bad], fasta, mlm)
    counts = SkipCounts()
    assert score([bad], fasta, mlm, on_ref_mismatch="skip", counts=counts) == []
    assert counts.skipped == {"REF mismatches": 1}


def test_script_rows_equal_input_alleles_minus_skipped(tmp_path, tiny_pretrained):
    contigs = genome()
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    c1, c2 = contigs["chr1"], contigs["chr2"]
    rows = [  # unsorted, with a multi-allelic record, a symbolic allele, "1" for chr1, both contig ends
        ("chr2", 2999, "v1", c2[2998], "A,C" if c2[2998] not in "AC" else "G,T"),
        ("chr1", 3, "v2", c1[2], "<DEL>"),
        ("1", 2000, "v3", c1[1999], "ACGT"),
        ("chr1", 1, "v4", c1[0], "G" if c1[0] != "G" else "T"),
        ("chr1", 2, "v5", "NN"[:1] if c1[1] != "N" else "A", "C"),  # REF mismatch
    ]
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    pysam.tabix_compress(str(fasta), str(tmp_path / "g.fa.gz"))  # bgzipped reference
    pysam.tabix_compress(str(vcf), str(tmp_path / "v.vcf.gz"))  # bgzipped VCF
    counts = score_main(
        [
            "--vcf",
            str(tmp_path / "v.vcf.gz"),
            "--fasta",
            str(tmp_path / "g.fa.gz"),
            "--model_name_or_path",
            str(tiny_pretrained),
            "--output",
            str(tmp_path / "s.tsv"),
            "--window",
            "300",
            "--on_ref_mismatch",
            "skip",
        ]
    )
    with open(tmp_path / "s.tsv") as handle:
        written = list(csv.DictReader(handle, delimiter="\t"))
    assert counts.read == 6 and counts.skipped == {"symbolic or structural alleles": 1, "REF mismatches": 1}
    assert [(r["CHROM"], r["POS"], r["ALT"]) for r in written] == [
        ("chr2", "2999", rows[0][4][0]),
        ("chr2", "2999", rows[0][4][2]),
        ("1", "2000", "ACGT"),
        ("chr1", "1", rows[3][4]),
    ]
    assert all(np.isfinite(float(r["llr"])) and float(r["embedding_distance"]) >= -1e-6 for r in written)


def test_missing_contigs_are_skipped_and_counted_and_mito_names_match(tmp_path, mlm):
    contigs = {"MT": genome()["chr2"][:1000], "chr1": genome()["chr1"]}
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    counts = SkipCounts()
    variants = [
        Variant("chrM", 500, ".", contigs["MT"][499], "A" if contigs["MT"][499] != "A" else "C"),
        Variant("chrUn_gl000220", 10, ".", "A", "C"),
    ]
    rows = score(variants, fasta, mlm, on_ref_mismatch="skip", counts=counts)
    assert [r["CHROM"] for r in rows] == ["chrM"] and counts.skipped == {"contigs not in the reference": 1}


def test_plain_gzip_reference_gets_a_clear_error(tmp_path):
    import gzip

    with gzip.open(tmp_path / "g.fa.gz", "wt") as handle:
        handle.write(">chr1\nACGT\n")
    with pytest.raises(VariantError, match="bgzip"):
        Reference(tmp_path / "g.fa.gz")


def test_sharded_scoring_merges_into_the_tsv_one_process_writes(tmp_path, tiny_pretrained):
    contigs = genome(3)
    fasta = write_fasta(tmp_path / "g.fa", contigs)
    rng = np.random.default_rng(4)
    rows = []
    for i in range(14):  # SNVs and small indels on both contigs, one symbolic allele, one REF mismatch
        chrom = ("chr1", "chr2")[i % 2]
        pos = int(rng.integers(1, len(contigs[chrom]) - 10))
        ref = contigs[chrom][pos - 1]
        alt = "<DEL>" if i == 5 else ("T" if ref != "T" else "G") + ("A" * (i % 3))
        rows.append((chrom, pos, f"v{i}", "A" if i == 9 and ref != "A" else ref, alt))
    vcf = write_vcf(tmp_path / "v.vcf", rows)
    common = [
        "--vcf",
        str(vcf),
        "--fasta",
        str(fasta),
        "--model_name_or_path",
        str(tiny_pretrained),
        "--window",
        "200",
        "--on_ref_mismatch",
        "skip",
        "--batch_size",
        "4",
    ]
    score_main([*common, "--output", str(tmp_path / "one.tsv")])
    sharded = [*common, "--output", str(tmp_path / "two.tsv"), "--num_shards", "2", "--part_size", "3"]
    score_main([*sharded, "--shard_index", "0"])
    assert not (tmp_path / "two.tsv").exists()
    counts = score_main([*sharded, "--shard_index", "1"])  # the last worker merges
    assert counts.read == 7  # its own alleles only
    with open(tmp_path / "one.tsv") as one, open(tmp_path / "two.tsv") as two:
        expected, merged = list(csv.DictReader(one, delimiter="\t")), list(csv.DictReader(two, delimiter="\t"))
    assert [{k: v for k, v in r.items() if k not in ("llr", "embedding_distance")} for r in merged] == [
        {k: v for k, v in r.items() if k not in ("llr", "embedding_distance")} for r in expected
    ]
    for key in ("llr", "embedding_distance"):  # batches differ between the runs: equal up to float rounding
        np.testing.assert_allclose([float(r[key]) for r in merged], [float(r[key]) for r in expected], atol=1e-5)
