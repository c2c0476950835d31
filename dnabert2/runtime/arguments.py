"""Command-line parsing for every command: a short usage line, the project's own flags first with each default shown
once, and the Trainer's many inherited flags listed only with ``--help_all``."""

import argparse
import dataclasses
import sys

from transformers import HfArgumentParser, TrainingArguments

INHERITED = {field.name for field in dataclasses.fields(TrainingArguments)}
REQUIRED = dataclasses.MISSING


def model_field(help_text: str, default=None):
    """The one model flag of every command, ``--model_name_or_path`` (``--model`` accepted too); ``default``
    ``REQUIRED`` makes it required."""
    metadata = {"help": help_text, "aliases": ["--model"]}
    if default is REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class _DefaultOnce(argparse.HelpFormatter):
    """Appends "(default: X)" to a flag's help unless the help already says what the default is."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, argparse.SUPPRESS):
            return text
        return f"{text} (default: {action.default})".strip()


def own_fields(dataclass_type) -> set[str]:
    """The flags a dataclass declares or overrides itself (for a TrainingArguments subclass, not the inherited)."""
    names = {field.name for field in dataclasses.fields(dataclass_type)}
    if issubclass(dataclass_type, TrainingArguments):
        return {name for name in names if name not in INHERITED or name in vars(dataclass_type)}
    return names


def command_parser(dataclass_types, description: str, usage: str | None = None) -> HfArgumentParser:
    """An HfArgumentParser over ``dataclass_types`` whose ``--help`` shows ``usage`` (default: argparse's) and this
    project's flags (each dataclass's own before those it shares with other commands through a base class);
    ``--help_all`` also lists the inherited transformers TrainingArguments flags (all are accepted either way)."""
    dataclass_types = list(dataclass_types) if isinstance(dataclass_types, (list, tuple)) else [dataclass_types]
    parser = HfArgumentParser(dataclass_types, usage=usage, description=description, formatter_class=_DefaultOnce)
    depth = {}  # flag -> how far up its dataclass's bases it is declared (0: by the dataclass itself)
    for kind in dataclass_types:
        for level, base in enumerate(kind.__mro__):
            for name in vars(base).get("__annotations__", {}):
                depth.setdefault(name, level)
    for group in parser._action_groups:
        # required flags first; stable, so declaration order is kept within each rank
        group._group_actions.sort(key=lambda action: (not action.required, depth.get(action.dest, 0)))
    own = set().union(*(own_fields(t) for t in dataclass_types))
    hidden = [a for a in parser._actions if a.dest not in own and a.dest != "help" and a.help != argparse.SUPPRESS]
    for action in parser._actions:
        if any(option.startswith("--no_") for option in action.option_strings):
            action.help = argparse.SUPPRESS  # the --no_X twin of a boolean flag: its default is the flag's
        elif action.dest in own and not action.help:
            action.help = "(default: %(default)s)"
    if hidden:
        parser.add_argument("--help_all", action="help", help="Show every flag, the Trainer's included, and exit.")
        parser.epilog = (
            f"{len(hidden)} more flags of transformers' TrainingArguments are accepted (e.g. --seed, "
            "--gradient_accumulation_steps, --report_to): --help_all lists them."
        )
        if "--help_all" not in sys.argv[1:]:
            for action in hidden:
                action.help = argparse.SUPPRESS
    return parser
