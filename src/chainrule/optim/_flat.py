"""Flat buffers: one optimizer step over a whole parameter group in a handful of NumPy calls.

A step that loops over parameters pays NumPy's per-call cost about a dozen times per
parameter, which is most of an Adam step on a small network. PyTorch's "foreach"
optimizers show the way out: gather every gradient of a group into one flat buffer, keep
the optimizer's running buffers (Adam's moments, SGD's momentum) flat too, and update
them all with a few whole-buffer operations, whatever the number of layers.

``Optimizer.state`` keeps its per-parameter entries: each is a view into the flat
buffers, so ``state_dict()`` and checkpoints see the usual per-parameter arrays and an
update through either is seen by the other. The parameters' own arrays are never
replaced: the flat update is added into each ``param.data`` (the array the parameter
holds at that moment, even one assigned since the last step), so arrays a user keeps
from ``.data`` stay the parameter's storage.

A :class:`FlatPlan` holds one group's buffers for the parameters that received a
gradient, all of one dtype; :func:`flat_plan` checks each step that it still fits and
builds a new one when it does not (other parameters, a dtype or shape changed, or the
state was loaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.ops.constants import concatenate

State = dict[int, dict[str, np.ndarray]]


class FlatPlan:
    """Flat buffers for the parameters of one group that a step updates together.

    Attributes
    ----------
    params : list of Parameter
        The parameters the plan covers, in the group's order, all of one dtype.
    grad : ndarray
        Every parameter's gradient, raveled one after another (filled by
        :meth:`gather_grads`).
    buffers : dict of str to ndarray
        The optimizer's running buffers by state name, flat; ``Optimizer.state`` holds
        per-parameter views of them.
    steps : ndarray or None
        Per-parameter step counts (int64), when the optimizer counts steps; the state's
        ``"step"`` entries are 0-d views of it.
    fresh : list of bool
        For each parameter, whether it had no state when the plan was built. Its spans
        of the buffers start at zero (Adam's moments do; SGD's first step sets its
        momentum buffer) and join ``Optimizer.state`` only once it has stepped through
        the plan (:meth:`stepped`): until then the state holds what it held before, so a
        step taken parameter by parameter starts such a parameter as it always does.
    pending : bool
        Whether any parameter is fresh.
    together : bool
        Whether every step count is equal (always, when steps are not counted), so that
        one flat update serves all. Every step adds one to every count, so this does not
        change over the plan's life.
    work, spare : ndarray
        Scratch buffers of the same length, so that a step allocates nothing; the update
        that :meth:`add_work_to_params` applies is in ``work``.
    """

    __slots__ = (
        "params",
        "names",
        "datas",
        "shapes",
        "dtype",
        "state",
        "spans",
        "grad",
        "buffers",
        "steps",
        "fresh",
        "pending",
        "together",
        "work",
        "spare",
        "_vectors",
        "_singles",
        "_constants",
        "_one",
    )

    def __init__(
        self, params: list[Parameter], state: State, names: Sequence[str], counted: bool
    ) -> None:
        self.params = params
        self.names = tuple(names)
        self.datas = [p.data for p in params]
        self.shapes = [data.shape for data in self.datas]
        self.dtype = self.datas[0].dtype
        self.state = state
        ends = np.cumsum([data.size for data in self.datas]).tolist()
        self.spans = [slice(end - data.size, end) for data, end in zip(self.datas, ends)]
        total = ends[-1]
        self.grad = np.empty(total, self.dtype)
        self.work = np.empty(total, self.dtype)
        self.spare = np.empty(total, self.dtype)
        self._constants: list[np.ndarray] = []
        self._one = np.ones((), np.int64)
        self._aim()
        self.buffers = {name: np.zeros(total, self.dtype) for name in names}
        self.steps = np.zeros(len(params), np.int64) if counted else None
        self.fresh = []
        for i, (param, span) in enumerate(zip(params, self.spans)):
            old = state.get(id(param)) or {}
            known = all(name in old for name in names) and (not counted or "step" in old)
            self.fresh.append(not known)
            if known:
                for name, flat in self.buffers.items():
                    flat[span] = np.ravel(old[name])
                if self.steps is not None:
                    self.steps[i] = old["step"]
                self._enter(i)
        self.pending = any(self.fresh)
        self.together = self.steps is None or len(set(self.steps.tolist())) <= 1

    def _enter(self, i: int) -> None:
        """Make parameter ``i``'s state entries views of the flat buffers."""
        param, span, shape = self.params[i], self.spans[i], self.shapes[i]
        entry = {name: flat[span].reshape(shape) for name, flat in self.buffers.items()}
        if self.steps is not None:
            entry["step"] = self.steps[i : i + 1].reshape(())
        if entry:
            self.state[id(param)] = {**self.state.get(id(param), {}), **entry}

    def _aim(self) -> None:
        """Pair each parameter's array with its piece of :attr:`work`.

        NumPy's per-call cost grows with the dimensions and is highest for one-element
        arrays, so a contiguous array is updated through a 1-d view and a one-element
        array (a shared bias) as a number: the same arithmetic, in fewer nanoseconds.
        """
        self._vectors: list[tuple[np.ndarray, np.ndarray]] = []
        self._singles: list[tuple[np.ndarray, tuple[int, ...], int]] = []
        for data, span in zip(self.datas, self.spans):
            if data.size == 1:
                self._singles.append((data, (0,) * data.ndim, span.start))
            else:
                whole = data.reshape(-1) if data.flags.c_contiguous else data
                self._vectors.append((whole, self.work[span].reshape(whole.shape)))

    def fits(self, params: list[Parameter], state: State) -> bool:
        """Whether the plan covers exactly ``params``, with their current arrays' shapes
        and dtype, and its views are still the entries of ``state``."""
        if state is not self.state or len(params) != len(self.params):
            return False
        datas = self.datas
        replaced = False
        for i, (param, own) in enumerate(zip(params, self.params)):
            if param is not own:
                return False
            data = param.data
            if data is not datas[i]:
                # Assigned since the last step (loaded, say): update the new array,
                # provided it has the shape and dtype the buffers were laid out for.
                if data.shape != self.shapes[i] or data.dtype != self.dtype:
                    return False
                datas[i] = data
                replaced = True
        if replaced:
            self._aim()
        return True

    def covers(self, group_params: list[Parameter], state: State) -> bool:
        """Whether the plan covers the whole group as it stands, as at nearly every step:
        each parameter its own, with a gradient, trainable and holding the array of the
        last step (what :func:`trainable` and :meth:`fits` find, in one pass)."""
        if state is not self.state or len(group_params) != len(self.params):
            return False
        for param, own, data in zip(group_params, self.params, self.datas):
            if (
                param is not own
                or param.data is not data
                or param.grad is None
                or not param.requires_grad
            ):
                return False
        return True

    def gather_grads(self) -> bool:
        """Copy every gradient into :attr:`grad`; False if they do not fill it exactly
        (the caller then updates parameter by parameter, where NumPy names the mismatch).

        Gradients come from ``backward()`` with their parameters' shapes; only gradients
        assigned by hand can be of another size, and a wrong size changes the total.
        """
        try:
            concatenate([p.grad for p in self.params], axis=None, out=self.grad)  # type: ignore[misc]
        except ValueError:
            return False
        return True

    def add_weight_decay(self, decay: np.ndarray) -> None:
        """``grad += decay * data`` for the whole group (L2 weight decay, added to the
        gradient as a step parameter by parameter adds it), using :attr:`work`."""
        work = self.work
        concatenate(self.datas, axis=None, out=work)
        work *= decay
        self.grad += work

    def count_step(self) -> int:
        """Add one to every step count; the new count (all are equal: see
        :attr:`together`)."""
        steps = self.steps
        assert steps is not None
        np.add(steps, self._one, out=steps)
        return int(steps[0])

    def fresh_spans(self) -> list[slice]:
        """The spans of the parameters that had no state when the plan was built."""
        return [span for span, fresh in zip(self.spans, self.fresh) if fresh]

    def stepped(self) -> None:
        """Record that every parameter of the plan has taken a step through the flat
        buffers: the fresh ones' state entries are views of them from now on."""
        for i, fresh in enumerate(self.fresh):
            if fresh:
                self._enter(i)
        self.fresh = [False] * len(self.params)
        self.pending = False

    def constants(self, *values: float) -> list[np.ndarray]:
        """``values`` as 0-d arrays of the plan's dtype (the plan's own, refilled each
        call): NumPy converts a Python float on every operation, which costs about as much
        as the operation on a small buffer; the arithmetic is the same."""
        held = self._constants
        while len(held) < len(values):
            held.append(np.zeros((), self.dtype))
        for array, value in zip(held, values):
            array[()] = value
        return held

    def add_work_to_params(self) -> None:
        """``param.data += update`` for every parameter, the update being :attr:`work`."""
        for whole, piece in self._vectors:
            whole += piece
        work = self.work
        for data, index, position in self._singles:
            data[index] += work[position]


def trainable(group: dict[str, Any]) -> list[Parameter]:
    """The group's parameters that have a gradient and are not frozen."""
    return [p for p in group["params"] if p.grad is not None and p.requires_grad]


def stepped_one_by_one(plans: dict[int, FlatPlan], index: int) -> None:
    """Record that group ``index`` took its step parameter by parameter.

    The known parameters' state entries are views of the plan's buffers and were updated
    through them; the fresh ones' state is arrays of their own now, which the plan does
    not hold, so a plan that had fresh parameters is dropped (the next step lays out a
    new one from the state).
    """
    plan = plans.get(index)
    if plan is not None and plan.pending:
        del plans[index]


def flat_plan(
    plans: dict[int, FlatPlan],
    index: int,
    group: dict[str, Any],
    state: State,
    names: tuple[str, ...],
    counted: bool = False,
) -> tuple[list[Parameter], FlatPlan | None]:
    """The parameters group ``index`` updates this step (:func:`trainable`) and their
    plan: the last one if it still fits them, else a new one; no plan when the
    parameters do not share one dtype (they are then updated one by one) or there are
    none.

    Nearly every step finds the last plan covering the whole group as it stands
    (:meth:`FlatPlan.covers`), which one pass over the group says before anything else is
    looked at.
    """
    plan = plans.get(index)
    if plan is not None and plan.names != names:
        plan = None
    if plan is not None and plan.covers(group["params"], state):
        return plan.params, plan
    params = trainable(group)
    if plan is not None and plan.fits(params, state):
        return params, plan
    plans.pop(index, None)
    if not params:
        return params, None
    dtype = params[0].data.dtype
    if any(p.data.dtype != dtype for p in params):
        return params, None
    plan = plans[index] = FlatPlan(params, state, names, counted)
    return params, plan
