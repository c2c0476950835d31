"""FASTQ reading: plain and gzipped reads, and bad records that must fail with the file and line named."""

import gzip

import pytest

from dnabert2.data.fastq import FastqError, read_fastq


def test_plain_and_gzip_reads_first_word_and_cleaned_bases(tmp_path):
    text = "@read1 extra words\nacgtn\n+\nIIIII\n\n@read2\r\nGGUC\r\n+read2\r\n!!!!\r\n@read3\n\n+\n\n"
    (tmp_path / "r.fq").write_text(text)
    with gzip.open(tmp_path / "r.fq.gz", "wt") as handle:
        handle.write(text)
    for name in ("r.fq", "r.fq.gz"):
        records = list(read_fastq(tmp_path / name))
        assert [(r.name, r.sequence) for r in records] == [("read1", "ACGTN"), ("read2", "GGTC"), ("read3", "")]
        assert records[0].description == "extra words"


@pytest.mark.parametrize(
    "text, message",
    [
        ("@a\nACGT\n+\nIIII\n@b\nACGT\n+\nIII\n", r"r\.fq:8: quality line has 3 characters for a sequence of 4"),
        ("@a\nACGT\nIIII\n@b\n", r"r\.fq:3: expected the '\+' line"),
        ("@a\nACGT\n+\nIIII\n@b\nACGT\n", r"r\.fq:5: truncated record"),
        ("@a\nACGZ\n+\nIIII\n", r"r\.fq:2: characters that are not nucleotides: 'Z'"),
        (">a\nACGT\n", r"r\.fq:1: expected a '@' header"),
        ("", r"r\.fq: empty file"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, text, message):
    (tmp_path / "r.fq").write_text(text)
    with pytest.raises(FastqError, match=message):
        list(read_fastq(tmp_path / "r.fq"))


def test_truncated_gzip_is_a_fastq_error(tmp_path):
    data = gzip.compress(b"@a\nACGT\n+\nIIII\n" * 1000)
    (tmp_path / "r.fq.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(FastqError, match="corrupt or truncated gzip"):
        list(read_fastq(tmp_path / "r.fq.gz"))
