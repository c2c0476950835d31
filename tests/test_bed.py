"""BED regions: sequences cut from an indexed FASTA (either contig naming), and bad regions named by line."""

import pytest

from dnabert2.data.bed import BedError, read_bed_sequences

GENOME = {"chr1": "ACGTACGTAC" * 5, "2": "ggggccccaaaattttNNNN"}


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "genome.fa"
    path.write_text("".join(f">{name} some description\n{seq[:25]}\n{seq[25:]}\n" for name, seq in GENOME.items()))
    return path


def test_regions_with_and_without_names_and_contig_naming(tmp_path, fasta):
    bed = tmp_path / "r.bed"
    bed.write_text("track name=x\n# comment\n1\t3\t12\tfirst\tscore\n\nchr2\t10\t20\nchr1 0 0 empty\n")
    records = list(read_bed_sequences(bed, fasta))
    assert [(r.name, r.sequence) for r in records] == [
        ("first", GENOME["chr1"][3:12]),
        ("chr2:10-20", GENOME["2"][10:20].upper()),
        ("empty", ""),
    ]


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t45\t51\n", r"r\.bed:2: region chr1:45-51 goes past the end of contig 'chr1' \(50 bp\)"),
        ("chr3\t0\t5\n", r"r\.bed:2: contig 'chr3' is not in the reference"),
        ("chr1\tten\t20\n", r"r\.bed:2: expected chrom, start, end"),
        ("chr1\t20\t10\n", r"r\.bed:2: start 20 and end 10 do not make a region"),
    ],
)
def test_bad_regions_name_bed_file_and_line(tmp_path, fasta, line, message):
    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t5\n" + line)
    with pytest.raises(BedError, match=message):
        list(read_bed_sequences(bed, fasta))
