"""What the divergence guard of :func:`chainrule.fit` remembers of the weights.

The guard puts back the weights from before the last update when a batch's loss or an
updated weight is NaN or infinite. It keeps two copies of the weights: those from
before the last update and those after it (the current ones, as the update left them).
After each update the new weights are copied over the older copy, and that copy is
checked: so one copy and one check serve both purposes, and when the check fails the
other copy holds the weights from before the update.

Between updates, code outside the loop's arithmetic may change the weights (callbacks,
resuming from a checkpoint): :meth:`WeightGuard.outdated` says so, and the current
weights are then copied again before the next update.
"""

from __future__ import annotations

import numpy as np

from chainrule.nn.module import Parameter
from chainrule.ops.constants import concatenate
from chainrule.tensor import all_finite

__all__ = ["WeightGuard"]


class WeightGuard:
    """Two copies of ``params``' values: before the last update and after it.

    With one dtype for all the parameters, each copy is one flat buffer (a copy and a
    check are then one NumPy call each); otherwise one array per parameter.
    """

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        datas = [p.data for p in params]
        self.flat = len({data.dtype for data in datas}) == 1
        if self.flat:
            total = sum(data.size for data in datas)
            self.before: list[np.ndarray] = [np.empty(total, datas[0].dtype)]
            self.after: list[np.ndarray] = [np.empty(total, datas[0].dtype)]
        else:
            self.before = [np.empty_like(data) for data in datas]
            self.after = [np.empty_like(data) for data in datas]
        self.has_before = False  # whether an update has been made and copied
        self.current = False  # whether ``after`` holds the current weights

    def outdated(self) -> None:
        """The weights may have changed since the last update: copy them before the next."""
        self.current = False

    def before_update(self) -> None:
        """Make sure ``after`` holds the weights the coming update starts from."""
        if not self.current:
            self._copy_into(self.after)
            self.current = True

    def after_update(self) -> bool:
        """Whether every weight is finite after the update; if not, the weights from before
        it are put back."""
        before = self.before
        self._copy_into(before)
        finite = all_finite(before[0]) if self.flat else all(map(all_finite, before))
        if finite:
            self.before, self.after = self.after, self.before
            self.has_before = True
            return True
        self._put_back(self.after)
        return False

    def restore_before_last(self) -> bool:
        """Put back the weights from before the last update; False if none was made."""
        if self.has_before:
            self._put_back(self.before)
        return self.has_before

    def _copy_into(self, copies: list[np.ndarray]) -> None:
        if self.flat:
            concatenate([p.data for p in self.params], axis=None, out=copies[0])
        else:
            for copy, param in zip(copies, self.params, strict=True):
                np.copyto(copy, param.data)

    def _put_back(self, copies: list[np.ndarray]) -> None:
        if self.flat:
            start = 0
            for param in self.params:
                data = param.data
                data[...] = copies[0][start : start + data.size].reshape(data.shape)
                start += data.size
        else:
            for copy, param in zip(copies, self.params, strict=True):
                param.data[...] = copy
