"""Optimizer base class: parameter groups, zero_grad() and state_dict()."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from chainrule._show import shown
from chainrule.nn.module import Parameter
from chainrule.optim._flat import FlatPlan


def check_range(
    owner: str,
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    """``value`` as a float, or a ValueError naming it and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number, got {shown(value)}")
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below) or math.isnan(value):
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(
            f"{owner}: {name} must be in {left}{low:g}, {high:g}{right}, got {value!r}"
        )
    return value


class Optimizer:
    """Holds parameter groups and per-parameter state.

    Parameters
    ----------
    params : iterable of Parameter, or of dicts ``{"params": [...], "lr": ...}``
    defaults : dict
        Hyperparameters for groups that do not set their own.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, np.ndarray]] = {}
        # Each group's flat buffers (see chainrule.optim._flat), by group index.
        self._plans: dict[int, FlatPlan] = {}
        items = list(params)
        if not items:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        params = list(group["params"])
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{type(self).__name__} optimizes Parameters, got {type(p).__name__}; "
                    "pass model.parameters()"
                )
        known = {id(p) for p in self._params()}
        if len({id(p) for p in params}) != len(params) or known & {id(p) for p in params}:
            raise ValueError(
                f"{type(self).__name__}: a parameter appears more than once in the parameter "
                "groups; give each parameter to one group, once"
            )
        full = {**self.defaults, **group, "params": params}
        self._validate(full)
        self.param_groups.append(full)

    def __getstate__(self) -> dict[str, Any]:
        # The state goes by parameter index, as in state_dict(): a copy's parameters are
        # new objects, with new ids. The flat buffers are made again on the next step (a
        # copy of the state's views would no longer share memory with them).
        state = self.__dict__.copy()
        state["state"] = self.state_dict()["state"]
        state["_plans"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        params = self._params()
        self.state = {id(params[i]): entry for i, entry in state["state"].items()}

    def _validate(self, group: dict[str, Any]) -> None:
        """Subclasses check their hyperparameters here."""

    def _params(self) -> list[Parameter]:
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (the next backward starts from zero)."""
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters and per-parameter buffers (copies), keyed by parameter index."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = [
            {
                **{k: v for k, v in g.items() if k != "params"},
                "params": [index[id(p)] for p in g["params"]],
            }
            for g in self.param_groups
        ]
        state = {
            index[key]: {name: np.array(buf, copy=True) for name, buf in entry.items()}
            for key, entry in self.state.items()
            if key in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                "optimizer state_dict does not match this optimizer's parameter groups"
            )
        for own, saved in zip(self.param_groups, groups):
            for key, value in saved.items():
                if key != "params":
                    own[key] = value
        self.state = {}
        self._plans = {}
        for i, entry in state_dict["state"].items():
            param = params[int(i)]
            self.state[id(param)] = {
                name: np.array(
                    buf, dtype=param.dtype if np.asarray(buf).dtype.kind == "f" else None
                )
                for name, buf in entry.items()
            }

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"
