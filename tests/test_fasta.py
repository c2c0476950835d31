"""FASTA reading: formats that must work, and bad files that must fail with the file named."""

import gzip

import pytest

from dnabert2.data.alphabet import acgt_segments
from dnabert2.data.fasta import FastaError, expand_paths, is_held_out, read_fasta, read_segments
from dnabert2.runtime.errors import InputError


def test_multi_record_wrapped_lower_case_crlf_and_gzip(tmp_path):
    text = ">one desc\r\nacgtN\r\nNNuu\r\n\r\n>two\r\nGG-CC\r\n"
    (tmp_path / "a.fa").write_bytes(text.encode())
    with gzip.open(tmp_path / "b.fa.gz", "wb") as handle:
        handle.write(text.encode())
    for name in ("a.fa", "b.fa.gz"):
        records = list(read_fasta(tmp_path / name))
        assert [(r.header, r.sequence) for r in records] == [("one desc", "ACGTNNNTT"), ("two", "GGCC")]
        assert [(r.name, r.description) for r in records] == [("one", "desc"), ("two", "")]


def test_n_runs_split_segments():
    assert acgt_segments("ACGTNNNNAARYTTTT", min_length=3) == ["ACGT", "TTTT"]


def test_expand_paths_and_split_by_whole_records(tmp_path):
    lines = "".join(f">r{i}\n{'ACGT' * 5}\n" for i in range(200))
    (tmp_path / "x.fa").write_text(lines)
    assert expand_paths(str(tmp_path)) == [tmp_path / "x.fa"] == expand_paths(str(tmp_path / "*.fa"))
    held = sum(1 for _ in read_segments(tmp_path, "held_out", 10.0))
    train = sum(1 for _ in read_segments(tmp_path, "train", 10.0))
    assert held + train == 200 and 5 <= held <= 40
    assert is_held_out("x.fa", "r7", 10.0) == is_held_out("x.fa", "r7", 10.0)
    with pytest.raises(InputError, match="nothing"):
        expand_paths(str(tmp_path / "nothing*.fa"))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"\n\n", "empty file"),
        (b"ACGT\n>x\nACGT\n", "before the first '>'"),
        (b">x\n\x89PNG\x00\x01\xff\xfe\n", "binary"),
        (b">x\nACGT123\n", "not nucleotides"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.fa"
    path.write_bytes(content)
    with pytest.raises(FastaError, match=message) as error:
        list(read_fasta(path))
    assert str(path) in str(error.value)


def test_truncated_gzip_names_the_file(tmp_path):
    data = gzip.compress(b">x\n" + b"ACGT" * 10000)
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FastaError, match="truncated") as error:
        list(read_fasta(path))
    assert str(path) in str(error.value)
