"""A fuzzed input surface (Hypothesis): every generated FASTA or CSV file parses to what a plain reference parser
gives, or raises the project's own InputError, never another exception; the tokenizer round-trips any bases."""

import gzip
import string

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnabert2.data.fasta import read_fasta
from dnabert2.data.tasks import read_csv_split
from dnabert2.data.tokenizer import load_tokenizer
from dnabert2.runtime.errors import InputError

EXAMPLES = 150  # per property; docs/finetuning.md's section on bad input counts them
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LETTERS = "ACGTacgtNnRYKMSWBDHVUu-.*"
NOISE = "0123456789EFIJLOPQXZ!?@#,;\x00\xff"
TOKENIZER = load_tokenizer(ROOT)


def reference_fasta(text: str):
    """A plain FASTA parser written for the test: [(header, sequence)] or None when the text is not valid FASTA."""
    text = text.removeprefix("\ufeff")
    records, header, sequence = [], None, []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        if line.startswith(">"):
            if header is not None:
                records.append((header, "".join(sequence)))
            header, sequence = line[1:].strip(), []
            continue
        if header is None:
            return None
        bases = "".join(line.split()).upper().replace("U", "T")
        bases = "".join(b for b in bases if b not in "-.*")
        if any(b not in "ACGTNRYKMSWBDHV" for b in bases):
            return None
        sequence.append(bases)
    if header is None:
        return None
    return records + [(header, "".join(sequence))]


record = st.tuples(
    st.text(alphabet=string.ascii_letters + string.digits + " _|.", max_size=20),
    st.lists(st.text(alphabet=LETTERS, max_size=90), max_size=4),
)


@FUZZ
@given(
    records=st.lists(record, max_size=4),
    noise=st.one_of(st.just(""), st.text(alphabet=NOISE, max_size=3)),
    crlf=st.booleans(),
    bom=st.booleans(),
    compress=st.sampled_from(["plain", "gzip", "truncated gzip"]),
    preamble=st.booleans(),
)
def test_fasta_reader_matches_a_plain_parser_or_raises_its_own_error(
    tmp_path, records, noise, crlf, bom, compress, preamble
):
    lines = ["ACGT"] * preamble
    for header, sequence_lines in records:
        lines += [">" + header, *sequence_lines]
    if lines and noise:
        lines[-1] += noise
    text = ("\ufeff" * bom) + ("\r\n" if crlf else "\n").join(lines) + "\n" * bool(lines)
    data = text.encode("utf-8", errors="surrogatepass")
    path = tmp_path / "input.fa"
    if compress != "plain":
        data = gzip.compress(data)
        data = data[: max(1, len(data) // 2)] if compress == "truncated gzip" else data
    path.write_bytes(data)
    expected = None if compress == "truncated gzip" else reference_fasta(text)
    if expected is None or any(ord(c) > 127 for c in text.removeprefix("\ufeff")):
        with pytest.raises(InputError):
            list(read_fasta(path))
        return
    assert [(r.header, r.sequence) for r in read_fasta(path)] == expected


def reference_csv(rows):
    """What a valid sequence,label file holds, from the generated rows: (sequences, labels) or None."""
    sequences, labels = [], []
    for sequence, label in rows:
        bases = "".join(sequence.split()).upper().replace("U", "T")
        bases = "".join(b for b in bases if b not in "-.*")
        if not bases or any(b not in "ACGTNRYKMSWBDHV" for b in bases):
            return None
        try:
            value = float(label)
        except ValueError:
            return None
        if value != value or value in (float("inf"), float("-inf")):
            return None
        sequences.append(bases)
        labels.append(value)
    return (sequences, labels) if rows else None


@FUZZ
@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet=LETTERS + NOISE[:6], max_size=30),
            st.sampled_from(["0", "1", "2.5", "-1", "", "x", "nan", "1.0"]),
        ),
        max_size=6,
    ),
    bom=st.booleans(),
    crlf=st.booleans(),
    delimiter=st.sampled_from([",", ",", "\t"]),
)
def test_csv_reader_matches_a_plain_parser_or_raises_its_own_error(tmp_path, rows, bom, crlf, delimiter):
    newline = "\r\n" if crlf else "\n"
    lines = [f"sequence{delimiter}label"] + [f"{s}{delimiter}{label}" for s, label in rows]
    path = tmp_path / "train.csv"
    path.write_text(("\ufeff" * bom) + newline.join(lines) + newline, newline="")
    expected = reference_csv(rows) if delimiter == "," else None
    if expected is None:
        with pytest.raises(InputError):
            read_csv_split(path)
        return
    columns = read_csv_split(path)
    assert columns["sequence"] == expected[0] and [float(v) for v in columns["label"]] == expected[1]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(alphabet="ACGTacgtUu \n", max_size=300))
def test_tokenizer_round_trips_bases_whatever_their_case_and_whitespace(text):
    expected = "".join(text.split()).upper().replace("U", "T")
    ids = TOKENIZER(text, add_special_tokens=False)["input_ids"]
    assert TOKENIZER.unk_token_id not in ids
    assert TOKENIZER.decode(ids).replace(" ", "") == expected


def reference_fastq(lines):
    """A plain FASTQ parser written for the test: [(header, sequence)] or None when the lines are not valid FASTQ."""
    records, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        if not lines[i].startswith("@") or len(lines) - i < 4:
            return None
        header, sequence, plus, quality = lines[i : i + 4]
        bases = "".join(sequence.split()).upper().replace("U", "T")
        bases = "".join(b for b in bases if b not in "-.*")
        if not plus.startswith("+") or len(quality) != len(sequence) or any(b not in "ACGTNRYKMSWBDHV" for b in bases):
            return None
        records.append((header[1:].strip(), bases))
        i += 4
    return records or None


fastq_record = st.tuples(
    st.text(alphabet=string.ascii_letters + string.digits + " _", max_size=12),
    st.text(alphabet=LETTERS + "XZ", max_size=40),
    st.sampled_from(["+", "+x", "", "-"]),
    st.integers(-1, 1),
)


@FUZZ
@given(
    records=st.lists(fastq_record, max_size=4),
    crlf=st.booleans(),
    truncate=st.integers(0, 2),
    compress=st.sampled_from(["plain", "gzip", "truncated gzip"]),
    blank=st.booleans(),
)
def test_fastq_reader_matches_a_plain_parser_or_raises_its_own_error(
    tmp_path, records, crlf, truncate, compress, blank
):
    from dnabert2.data.fastq import read_fastq

    lines = []
    for header, sequence, plus, quality_offset in records:
        lines += ["@" + header, sequence, plus, "I" * max(0, len(sequence) + quality_offset)] + [""] * blank
    lines = lines[: len(lines) - truncate] if truncate < len(lines) else lines
    text = ("\r\n" if crlf else "\n").join(lines) + "\n" * bool(lines)
    data = text.encode()
    if compress != "plain":
        data = gzip.compress(data)
        data = data[: max(1, len(data) // 2)] if compress == "truncated gzip" else data
    path = tmp_path / "reads.fq"
    path.write_bytes(data)
    expected = (
        None
        if compress == "truncated gzip"
        else reference_fastq(text.replace("\r\n", "\n").split("\n")[:-1] if lines else [])
    )
    if expected is None:
        with pytest.raises(InputError):
            list(read_fastq(path))
        return
    assert [(r.header, r.sequence) for r in read_fastq(path)] == expected


@pytest.fixture(scope="module")
def indexed_reference(tmp_path_factory):
    """A two-contig reference FASTA (50 and 30 bp), indexed by pysam on first use."""
    folder = tmp_path_factory.mktemp("reference")
    (folder / "ref.fa").write_text(">chr1\n" + "ACGTACGTAC" * 5 + "\n>chr2\n" + "GGGCCCAAAT" * 3 + "\n")
    return folder / "ref.fa", {"chr1": "ACGTACGTAC" * 5, "chr2": "GGGCCCAAAT" * 3}


@FUZZ
@given(
    regions=st.lists(
        st.tuples(
            st.sampled_from(["chr1", "1", "chr2", "chr3", "#x", "track"]),
            st.integers(-2, 55),
            st.integers(-2, 55),
            st.sampled_from(["", "r", "a b"]),
            st.sampled_from(["\t", " "]),
        ),
        max_size=5,
    ),
    noise=st.sampled_from(["", "x\n", "chr1\t1\n", "\xff\n"]),
)
def test_bed_regions_match_a_plain_slicer_or_raise_their_own_error(tmp_path, indexed_reference, regions, noise):
    from dnabert2.data.bed import read_bed_sequences

    fasta, contigs = indexed_reference
    lines = [
        sep.join([chrom, str(start), str(end)] + ([name] if name else [])) for chrom, start, end, name, sep in regions
    ]
    path = tmp_path / "r.bed"
    path.write_bytes(("\n".join(lines) + "\n" + noise).encode("utf-8"))
    expected = []
    for chrom, start, end, name, sep in regions:
        if chrom.startswith(("#", "track")):
            continue
        contig = {"1": "chr1"}.get(chrom, chrom)
        if contig not in contigs or not 0 <= start <= end or end > len(contigs[contig]):
            expected = None
            break
        name = name.split()[0] if sep == " " and name else name  # space-separated: a name is one word
        expected.append((name or f"{chrom}:{start}-{end}", contigs[contig][start:end]))
    if noise.strip() and expected is not None:
        expected = None
    if expected is None:
        with pytest.raises(InputError):
            list(read_bed_sequences(path, fasta))
        return
    assert [(r.header, r.sequence) for r in read_bed_sequences(path, fasta)] == expected


@FUZZ
@given(
    alleles=st.lists(
        st.tuples(
            st.text(alphabet="ACGTNacgtX", min_size=0, max_size=3),
            st.sampled_from(["A", "T", "GA", "<DEL>", "*", "AX", "C,G", "."]),
        ),
        max_size=5,
    ),
    garbage=st.booleans(),
)
def test_vcf_reader_yields_plain_alleles_or_raises_its_own_error(tmp_path, alleles, garbage):
    from dnabert2.inference.variants import SkipCounts, read_variants

    header = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    rows = [f"chr1\t{i + 1}\t.\t{ref or 'A'}\t{alt}\t.\t.\t." for i, (ref, alt) in enumerate(alleles)]
    path = tmp_path / "v.vcf"
    path.write_text(header + "".join(row + "\n" for row in rows) + ("chr1\tten\n" if garbage else ""))
    expected, skipped = [], 0
    for ref, alt_field in alleles:
        ref = (ref or "A").upper()
        for alt in [] if alt_field == "." else alt_field.split(","):
            if alt in ("<DEL>", "*") or "X" in ref + alt:
                skipped += 1
            else:
                expected.append((ref, alt))
    counts = SkipCounts()
    if garbage:
        with pytest.raises(InputError):
            list(read_variants(path, counts))
        return
    assert [(v.ref, v.alt) for v in read_variants(path, counts)] == expected
    assert sum(counts.skipped.values()) == skipped
