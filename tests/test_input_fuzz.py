"""A fuzzed input surface (Hypothesis): every generated FASTA or CSV file parses to what a plain reference parser
gives, or raises the project's own InputError, never another exception; the tokenizer round-trips any bases."""

import gzip
import string

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnabert2.train.data.fasta import read_fasta
from dnabert2.train.data.tasks import read_csv_split
from dnabert2.train.data.tokenizer import load_tokenizer
from dnabert2.train.runtime.errors import InputError

EXAMPLES = 150  # per property; the README's reliability section counts them
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
@given(records=st.lists(record, max_size=4), noise=st.one_of(st.just(""), st.text(alphabet=NOISE, max_size=3)),
       crlf=st.booleans(), bom=st.booleans(), compress=st.sampled_from(["plain", "gzip", "truncated gzip"]),
       preamble=st.booleans())
def test_fasta_reader_matches_a_plain_parser_or_raises_its_own_error(tmp_path, records, noise, crlf, bom, compress,
                                                                     preamble):
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
@given(rows=st.lists(st.tuples(st.text(alphabet=LETTERS + NOISE[:6], max_size=30),
                               st.sampled_from(["0", "1", "2.5", "-1", "", "x", "nan", "1.0"])), max_size=6),
       bom=st.booleans(), crlf=st.booleans(), delimiter=st.sampled_from([",", ",", "\t"]))
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
