"""How the ``chainrule`` command's ``--help`` pages are laid out.

Every command has a description, a help text for every option (with its default) and
an ``examples:`` section of real invocations; ``tests/test_robust_outputs.py`` parses
each example with the real parser.
"""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["HelpFormatter", "usage_examples"]

_EXAMPLES_HEADING = "examples:"


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions and help texts, never inside an option name; keeps examples as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        # argparse measures subcommand names one indent short of where it prints them, so
        # the longest ("vanishing") would have its help pushed to the next line.
        commands = getattr(action, "_get_subactions", None)
        if commands is not None and action.help is not argparse.SUPPRESS:
            deeper = self._current_indent + 2 * self._indent_increment
            for command in commands():
                width = len(self._format_action_invocation(command)) + deeper
                self._action_max_length = max(self._action_max_length, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith(_EXAMPLES_HEADING):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )

    def _split_lines(self, text: str, width: int) -> list[str]:
        # An option such as --checkpoint-dir must never be split at its hyphens.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def usage_examples(*invocations: str) -> str:
    """The ``examples:`` epilog listing ``invocations``, one per line."""
    return f"{_EXAMPLES_HEADING}\n" + "\n".join(f"  {line}" for line in invocations)
