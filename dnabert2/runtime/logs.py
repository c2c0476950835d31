"""Logging of the command lines: INFO from the project's scripts, warnings from the libraries."""

import logging
import os
import sys


def configure_logging():
    """INFO logs from the scripts, warnings from the libraries."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO, stream=sys.stdout)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
