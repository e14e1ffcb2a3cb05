"""Weight initializers.

Each initializer is a callable ``init(shape, rng=None, dtype=np.float32) -> ndarray``
that layers call for their weights, e.g.
``nn.Linear(4, 5, init=chainrule.init.uniform(0, 1))`` for the textbook
U[0, 1) weights. Weight shapes follow ``Linear``: ``(in_features, out_features)``,
so ``fan_in = shape[0]`` and ``fan_out = shape[1]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.random import RandomState, get_rng

Initializer = Callable[..., np.ndarray]


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def _check_positive(name: str, value: float) -> float:
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


#: The most numbers an initializer draws at once (in float64, 512 KiB) when the weight has
#: another dtype: a float32 weight is filled a piece at a time instead of being drawn
#: whole in float64 and cast, which would hold three times its size at once.
DRAW_CHUNK = 2**16


@dataclass(frozen=True)
class _Init:
    name: str
    params: tuple[tuple[str, float], ...] = ()

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        """``size`` numbers (float64) of the distribution for a weight of ``shape``."""
        raise NotImplementedError

    def __call__(
        self, shape: tuple[int, ...], rng: RandomState = None, dtype: Any = np.float32
    ) -> np.ndarray:
        shape, generator, dtype = tuple(shape), get_rng(rng), np.dtype(dtype)
        count = math.prod(shape)
        if dtype == np.float64 or count <= DRAW_CHUNK:
            return np.asarray(self._draw(shape, generator, shape), dtype=dtype)
        # NumPy's generators draw uniform and normal numbers one after another, so draws
        # of consecutive pieces are the numbers of one draw of the whole, bit for bit.
        out = np.empty(shape, dtype)
        flat = out.reshape(-1)
        for start in range(0, count, DRAW_CHUNK):
            stop = min(start + DRAW_CHUNK, count)
            flat[start:stop] = self._draw(shape, generator, stop - start)
        return out

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params)
        return f"{self.name}({args})"


class uniform(_Init):  # noqa: N801  (functional-style name, as in Keras/PyTorch)
    """U[low, high): by default the textbook U[0, 1)."""

    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        if not high > low:
            raise ValueError(f"uniform(low, high) needs high > low, got low={low}, high={high}")
        super().__init__("uniform", (("low", float(low)), ("high", float(high))))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        low, high = (v for _, v in self.params)
        return rng.uniform(low, high, size=size)


class normal(_Init):  # noqa: N801
    """N(mean, std^2)."""

    def __init__(self, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__("normal", (("mean", float(mean)), ("std", _check_positive("std", std))))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        mean, std = (v for _, v in self.params)
        return rng.normal(mean, std, size=size)


class constant(_Init):  # noqa: N801
    """Every entry equal to ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__("constant", (("value", float(value)),))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        return np.full(size, self.params[0][1])


class zeros(constant):  # noqa: N801
    """Every entry 0."""

    def __init__(self) -> None:
        _Init.__init__(self, "zeros", (("value", 0.0),))


class xavier_uniform(_Init):  # noqa: N801
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); for tanh/sigmoid."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__("xavier_uniform", (("gain", _check_positive("gain", gain)),))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        bound = self.params[0][1] * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, size=size)


class xavier_normal(_Init):  # noqa: N801
    """Glorot: N(0, s^2) with s = gain * sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__("xavier_normal", (("gain", _check_positive("gain", gain)),))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        fan_in, fan_out = _fans(shape)
        return rng.normal(0.0, self.params[0][1] * math.sqrt(2.0 / (fan_in + fan_out)), size=size)


class he_uniform(_Init):  # noqa: N801
    """He/Kaiming: U(-a, a) with a = sqrt(6 / fan_in); for ReLU networks."""

    def __init__(self) -> None:
        super().__init__("he_uniform")

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        bound = math.sqrt(6.0 / _fans(shape)[0])
        return rng.uniform(-bound, bound, size=size)


class he_normal(_Init):  # noqa: N801
    """He/Kaiming: N(0, 2 / fan_in); for ReLU networks."""

    def __init__(self) -> None:
        super().__init__("he_normal")

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        return rng.normal(0.0, math.sqrt(2.0 / _fans(shape)[0]), size=size)


class fan_in_uniform(_Init):  # noqa: N801
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for Linear layers."""

    def __init__(self, fan_in: int | None = None) -> None:
        super().__init__("fan_in_uniform", (() if fan_in is None else (("fan_in", float(fan_in)),)))

    def _draw(
        self, shape: tuple[int, ...], rng: np.random.Generator, size: int | tuple[int, ...]
    ) -> np.ndarray:
        fan_in = self.params[0][1] if self.params else _fans(shape)[0]
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=size)


_BY_NAME: dict[str, Callable[[], _Init]] = {
    "uniform": uniform,
    "normal": normal,
    "zeros": zeros,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "fan_in_uniform": fan_in_uniform,
}


def names() -> list[str]:
    """The names :func:`get` accepts, one per initializer (its aliases left out)."""
    seen: set[Callable[[], _Init]] = set()
    found = []
    for name, make in _BY_NAME.items():
        if make not in seen:
            seen.add(make)
            found.append(name)
    return found


def get(init: str | Initializer) -> Initializer:
    """An initializer from its name (``"he_normal"``, ``"uniform"``...) or itself."""
    if callable(init):
        return init
    if isinstance(init, str) and init in _BY_NAME:
        return _BY_NAME[init]()
    raise ValueError(
        f"unknown initializer {init!r}; use one of {', '.join(sorted(_BY_NAME))} or a callable "
        "init(shape, rng, dtype)"
    )


__all__ = [
    "Initializer",
    "constant",
    "fan_in_uniform",
    "get",
    "he_normal",
    "he_uniform",
    "names",
    "normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
