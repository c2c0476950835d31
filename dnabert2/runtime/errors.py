"""The user's input errors and how every command reports them: one ``error:`` line and exit code 2, no traceback.

Only ``InputError`` is the user's to fix; any other exception is a bug and keeps its traceback. Paths a user names
are checked before any work starts (``existing_path``), so a missing file is one line, not a traceback halfway in.
"""

import logging
import sys
from pathlib import Path

from dnabert2.runtime.logs import configure_logging


class InputError(ValueError):
    """An input the user can fix (a file, a row, a flag); its message names where and, when it can, how."""


def existing_path(path, what: str = "input", folder: bool = False) -> Path:
    """``path`` as a Path if it exists (a folder when ``folder``, else a file, a folder of files or a glob that
    matches); else ``InputError("<what> not found: PATH")``."""
    path = Path(path)
    if folder:
        if not path.is_dir():
            reason = "not a folder" if path.exists() else "not found"
            raise InputError(f"{what} {reason}: {path}")
        return path
    if path.exists() or any(character in str(path) for character in "*?[") and list(path.parent.glob(path.name)):
        return path
    raise InputError(f"{what} not found: {path}")


def run_command(main):
    """Run a command line's ``main()`` with the one logging set-up; an ``InputError`` ends as ``error: <message>``
    on stderr with exit code 2. ``--debug`` (anywhere on the command line, removed before parsing) shows its
    traceback too."""
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv = [sys.argv[0], *(arg for arg in sys.argv[1:] if arg != "--debug")]
    configure_logging()
    try:
        main()
    except InputError as error:
        if debug:
            raise
        logging.shutdown()  # flush what was logged before the error line
        sys.stdout.flush()
        print(f"error: {error} (--debug shows the traceback)", file=sys.stderr)
        sys.exit(2)
