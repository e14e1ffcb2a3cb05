"""Output streams that a closed pipe cannot break.

When the reader of standard output goes away (``chainrule train ... | head -1``), the
next write raises :class:`BrokenPipeError`. Progress and messages are worth less than
the work they describe, so :class:`PipeSafe` swallows that error, points the stream's
file descriptor at ``os.devnull`` (so the interpreter's final flush cannot fail either)
and drops everything written afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

__all__ = ["PipeSafe", "pipe_safe", "pipe_safe_stdio"]


class PipeSafe:
    """A text stream wrapper whose ``write`` and ``flush`` never raise for a closed pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._silence()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _silence(self) -> None:
        self.broken = True
        # The stream's buffer still holds what could not be written; with the descriptor
        # on devnull, flushing it (now or at exit) succeeds instead of raising again.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)


def pipe_safe(stream: TextIO | PipeSafe) -> PipeSafe:
    """``stream`` wrapped once in :class:`PipeSafe`."""
    return stream if isinstance(stream, PipeSafe) else PipeSafe(stream)


@contextlib.contextmanager
def pipe_safe_stdio() -> Iterator[None]:
    """Make ``sys.stdout`` and ``sys.stderr`` pipe-safe for the duration, then flush them."""
    saved = sys.stdout, sys.stderr
    out, err = pipe_safe(sys.stdout), pipe_safe(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        out.flush()
        err.flush()
        sys.stdout, sys.stderr = saved
