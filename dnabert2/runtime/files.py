"""Outputs written whole or not at all: a temporary file beside the target, renamed over it once complete."""

import os
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = (
    ".tmp-"  # the marker of an unfinished output's name: .<name>.tmp-<pid> (hidden: readers of a folder skip it)
)


@contextmanager
def atomic_output(path):
    """Yield a temporary path beside ``path``; when the block ends without an error it becomes ``path`` (one
    rename), otherwise it is removed, so a reader never sees a half-written file under the final name."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}{TEMPORARY}{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_output(path) as temporary:
        Path(temporary).write_text(text)
    return Path(path)
