"""How :func:`chainrule.fit` reports progress.

``verbose=0`` prints nothing. ``verbose=1`` shows a progress bar per epoch (with
`rich <https://github.com/Textualize/rich>`_) when standard output is a terminal and
rich is installed, and otherwise one plain line per epoch; ``verbose=2`` always prints
plain lines. Finished epochs always leave one line: the epoch, its loss and metrics.
Progress never costs the training: once the reader of the output has gone (a closed
pipe), further progress is dropped and training goes on.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from chainrule._show import shown
from chainrule._streams import PipeSafe, pipe_safe

__all__ = ["Progress", "make_progress"]


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234  accuracy 0.9500  val_loss ...`` (the learning rate left out).

    Values too small or too large for four decimals (errors in a target's own units can
    be 3e-06 or 4e+08) keep four significant digits instead.
    """
    return "  ".join(f"{key} {_number(value)}" for key, value in logs.items() if key != "lr")


def _number(value: float) -> str:
    return f"{value:.4f}" if value == 0 or 1e-2 <= abs(value) < 1e6 else f"{value:.4g}"


class Progress:
    """Plain-text progress: one line per epoch, and one per message."""

    def __init__(self, epochs: int, steps: int, stream: TextIO | PipeSafe | None = None) -> None:
        self.epochs, self.steps = epochs, steps
        self.stream = pipe_safe(stream if stream is not None else sys.stdout)
        self._width = len(str(epochs))

    def epoch_begin(self, epoch: int) -> None:
        """An epoch with ``steps`` batches starts (0-based ``epoch``)."""

    def batch_end(self, batch: int, loss: float) -> None:
        """Batch ``batch`` (0-based) ended with ``loss``."""

    def epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        counter = f"epoch {epoch + 1:{self._width}d}/{self.epochs}"
        self.message(f"{counter}  {format_logs(logs)}  ({seconds:.2f} s)")

    def message(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """Release the display."""


class _Silent(Progress):
    def epoch_end(self, epoch: int, logs: dict[str, float], seconds: float) -> None:
        pass

    def message(self, text: str) -> None:
        pass


class _RichBar(Progress):
    """A live bar for the current epoch; finished epochs stay as plain lines above it."""

    def __init__(self, epochs: int, steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        super().__init__(epochs, steps)
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        self._bar.start()
        self._task: Any = None
        self._loss_sum = 0.0

    def epoch_begin(self, epoch: int) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._loss_sum = 0.0
        self._task = self._bar.add_task(
            f"epoch {epoch + 1}/{self.epochs}", total=self.steps, info=""
        )

    def batch_end(self, batch: int, loss: float) -> None:
        self._loss_sum += loss
        self._bar.update(self._task, advance=1, info=f"loss {self._loss_sum / (batch + 1):.4g}")

    def message(self, text: str) -> None:
        self._bar.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self._bar.stop()


def make_progress(verbose: int, epochs: int, steps: int) -> Progress:
    """The display for ``verbose`` (0, 1 or 2) and ``steps`` batches per epoch."""
    if isinstance(verbose, bool):
        verbose = int(verbose)
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0 (silent), 1 (bar) or 2 (lines), got {shown(verbose)}")
    if verbose == 0:
        return _Silent(epochs, steps)
    if verbose == 1 and sys.stdout.isatty():
        try:
            return _RichBar(epochs, steps)
        except ImportError:
            pass
    return Progress(epochs, steps)
