"""Random access to an indexed reference FASTA (pysam), shared by variant scoring and BED regions."""

from dnabert2.data.alphabet import clean_bases
from dnabert2.runtime.errors import InputError


class ReferenceError(InputError):
    """A reference that cannot be opened, or a contig it lacks; the message names it."""


class IndexedFasta:
    """An indexed FASTA (plain, or bgzipped with .fai/.gzi; indexed if needed), accepting "chr1" for "1" and the
    reverse. Subclasses set ``error`` to the exception class their callers expect."""

    error = ReferenceError

    def __init__(self, fasta_path):
        import pysam

        try:
            self.fasta = pysam.FastaFile(str(fasta_path))
        except (OSError, ValueError) as failure:
            with open(fasta_path, "rb") as handle:
                gzipped = handle.read(2) == b"\x1f\x8b"
            hint = (
                " A plain-gzip FASTA has no random access: recompress it with bgzip (gunzip, then bgzip), or "
                "decompress it."
                if gzipped
                else ""
            )
            raise self.error(f"{fasta_path}: cannot open or index the reference ({failure}).{hint}") from None
        self.lengths = dict(zip(self.fasta.references, self.fasta.lengths))

    def __enter__(self):
        return self

    def __exit__(self, *exception):
        self.close()

    def close(self):
        """Close the FASTA file (also at the end of a ``with`` block)."""
        self.fasta.close()

    def contig(self, name: str) -> str:
        """The FASTA's name for a contig name from another file; ``error`` when absent under both namings."""
        bare = name[3:] if name.startswith("chr") else name
        for candidate in (name, bare, f"chr{bare}", *(("MT", "chrMT", "chrM", "M") if bare in ("M", "MT") else ())):
            if candidate in self.lengths:
                return candidate
        raise self.error(f"contig {name!r} is not in the reference (which has e.g. {list(self.lengths)[:3]}).")

    def fetch(self, contig: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` (0-based) of a contig named as the FASTA names it, cleaned by the alphabet."""
        return clean_bases(self.fasta.fetch(contig, start, end))
