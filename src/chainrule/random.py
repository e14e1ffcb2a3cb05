"""One seedable source of randomness for the whole library.

``chainrule.manual_seed(n)`` makes every later initialisation and shuffle
reproducible; functions that draw random numbers also take an ``rng`` argument
(a seed or a ``numpy.random.Generator``) for local control.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

from chainrule._show import shown

RandomState: TypeAlias = int | np.random.Generator | None

_global_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator (PyTorch's ``torch.manual_seed``) and return it."""
    global _global_rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _global_rng = np.random.default_rng(int(seed))
    return _global_rng


def get_rng(rng: RandomState = None) -> np.random.Generator:
    """The generator to use: ``rng`` itself, a new one seeded with it, or the global one."""
    if rng is None:
        return _global_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be None, a non-negative integer seed or a numpy.random.Generator, "
        f"got {shown(rng)}"
    )


def streams(rng: RandomState, count: int) -> list[np.random.Generator]:
    """``count`` generators for ``count`` separate draws (a layer's weights and bias).

    An integer seed is spawned into independent child streams
    (:meth:`numpy.random.SeedSequence.spawn`): seeding each draw with the same
    integer would make them start from the same numbers (a bias equal to the
    first row of the weights). A generator, or the global one, is shared: its
    draws follow one another and never repeat.
    """
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        children = np.random.SeedSequence(int(rng)).spawn(count)
        return [np.random.default_rng(child) for child in children]
    return [get_rng(rng)] * count
