"""History: what :func:`chainrule.fit` measured, epoch by epoch."""

from __future__ import annotations

import math
from typing import Any

from chainrule.train.history_html import history_html

__all__ = ["History"]


class History:
    """Loss, validation loss, metrics and learning rate per epoch (Keras's ``History``).

    Attributes
    ----------
    history : dict of str to list of float
        ``"loss"``, ``"val_loss"`` (with validation data), each metric and its
        ``"val_"`` twin, and ``"lr"``: one value per completed epoch.
    epoch : list of int
        The 0-based index of each completed epoch.
    stop_reason : str or None
        Why training ended before the last epoch (early stopping, a non-finite
        loss), or None when every epoch ran.
    stopped_epoch : int or None
        The 1-based epoch in which training stopped early.
    kept_epoch : int or None
        The 1-based epoch whose weights the model was given back at the end (by
        ``EarlyStopping(restore_best_weights=True)``); None when it keeps the last.
    diverged : bool
        Whether training stopped because the loss or a gradient became NaN or
        infinite (the guard of :func:`chainrule.fit`), rather than by a callback.

    Examples
    --------
    >>> history = History()
    >>> history.record(0, {"loss": 0.5, "val_loss": 0.6})
    >>> history.record(1, {"loss": 0.25, "val_loss": 0.4})
    >>> history["loss"], history.best("val_loss")
    ([0.5, 0.25], (2, 0.4))
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason: str | None = None
        self.stopped_epoch: int | None = None
        self.kept_epoch: int | None = None
        self.diverged = False

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one completed epoch's values."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def stop(self, epoch: int, reason: str) -> None:
        """Note that training stopped in (1-based) ``epoch`` and why."""
        self.stopped_epoch = int(epoch)
        self.stop_reason = reason

    def __getitem__(self, key: str) -> list[float]:
        try:
            return self.history[key]
        except KeyError:
            raise KeyError(
                f"no {key!r} in this history; it has "
                f"{', '.join(map(repr, self.history)) or 'nothing'}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def loss(self) -> list[float]:
        """Training loss per epoch (the mean over the epoch's samples)."""
        return self.history.get("loss", [])

    @property
    def val_loss(self) -> list[float]:
        """Validation loss per epoch; empty without validation data."""
        return self.history.get("val_loss", [])

    def best(self, key: str = "val_loss", mode: str = "auto") -> tuple[int, float]:
        """(1-based epoch, value) of the best value of ``key``; lowest for losses and
        errors, highest for accuracy and R^2 unless ``mode`` says "min" or "max"."""
        values = self[key]
        finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
        if not finite:
            raise ValueError(f"{key!r} has no finite value yet")
        biggest = higher_is_better(key) if mode == "auto" else mode == "max"
        value, index = max(finite) if biggest else min(finite)
        return index + 1, value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; :meth:`from_dict` reverses it."""
        return {
            "history": self.history,
            "epoch": self.epoch,
            "stop_reason": self.stop_reason,
            "stopped_epoch": self.stopped_epoch,
            "kept_epoch": self.kept_epoch,
            "diverged": self.diverged,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild from :meth:`to_dict` data."""
        history = cls()
        history.history = {str(k): [float(v) for v in vs] for k, vs in data["history"].items()}
        history.epoch = [int(e) for e in data["epoch"]]
        history.stop_reason = data.get("stop_reason")
        history.stopped_epoch = data.get("stopped_epoch")
        history.kept_epoch = data.get("kept_epoch")
        history.diverged = data.get("diverged") is True
        return history

    def _repr_html_(self) -> str:
        # Jupyter's rich display: a summary table and the loss curve (inline SVG).
        return history_html(self)

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v and k != "lr")
        stopped = f", stopped: {self.stop_reason}" if self.stop_reason else ""
        return f"History(epochs={len(self.epoch)}{', ' + last if last else ''}{stopped})"


def higher_is_better(key: str) -> bool:
    """Whether larger values of a logged quantity are better (accuracy, R^2)."""
    name = key.removeprefix("val_")
    return name in ("accuracy", "acc", "r2")
