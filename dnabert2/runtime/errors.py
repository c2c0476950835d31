"""Expected input errors and how command lines report them: one ``error:`` line and exit code 2, no traceback."""

import sys


class InputError(ValueError):
    """An input the user can fix (a file, a row, a flag); its message names where and, when it can, how."""


# What a command line reports as one line: input errors, files that cannot be read, and bad values of flags.
REPORTED = (ValueError, OSError)


def run_command(main):
    """Run a command line's ``main()``; an expected error ends as ``error: <message>`` on stderr with exit code 2.

    ``--debug`` (anywhere on the command line, removed before parsing) shows the traceback instead.
    """
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv = [sys.argv[0], *(arg for arg in sys.argv[1:] if arg != "--debug")]
    try:
        main()
    except REPORTED as error:
        if debug:
            raise
        message = str(error) or type(error).__name__
        print(f"error: {message} (--debug shows the traceback)", file=sys.stderr)
        sys.exit(2)
