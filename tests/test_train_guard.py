"""The divergence guard's two copies of the weights: whatever happens to the weights
between updates (callbacks, loading), a trip puts back exactly the weights from before
the last update, as one copy taken right before every update would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.nn.module import Parameter
from chainrule.train.guard import WeightGuard

_EVENTS = st.sampled_from(["update", "bad update", "outside change", "restore"])


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(st.sampled_from([(1,), (3,), (2, 3), (4, 1)]), min_size=1, max_size=4),
    mixed=st.booleans(),
    events=st.lists(_EVENTS, min_size=1, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_the_guard_puts_back_the_weights_from_before_the_last_update(
    shapes, mixed, events, seed
):
    """Against the plain rule: copy every weight right before each update; after an
    update that leaves a non-finite weight, or on restore(), put that copy back."""
    rng = np.random.default_rng(seed)
    dtypes = [np.float32 if mixed and i % 2 else np.float64 for i in range(len(shapes))]
    params = [
        Parameter(rng.normal(size=shape).astype(dtype))
        for shape, dtype in zip(shapes, dtypes)
    ]
    guard = WeightGuard(params)
    kept: list[np.ndarray] | None = None  # the plain rule's copy from before the last update
    for event in events:
        if event == "outside change":
            for p in params:
                p.data[...] = rng.normal(size=p.data.shape)
            guard.outdated()
        elif event == "restore":
            restored = guard.restore_before_last()
            assert restored == (kept is not None)
            if kept is not None:
                for p, value in zip(params, kept):
                    np.testing.assert_array_equal(p.data, value)
            return  # training stops after a trip
        else:
            guard.before_update()
            before = [p.data.copy() for p in params]
            for p in params:
                p.data += rng.normal(size=p.data.shape).astype(p.data.dtype)
            if event == "bad update":
                params[-1].data.reshape(-1)[0] = np.inf
            finite = guard.after_update()
            assert finite == (event == "update")
            if not finite:
                for p, value in zip(params, before):
                    np.testing.assert_array_equal(p.data, value)
                return
            kept = before


def test_weights_a_callback_set_are_those_put_back(tmp_path):
    """A callback sets new weights at the end of an epoch; the next update diverges: the
    guard puts back the callback's weights (those from before the update), not the
    ones the last update of the epoch before left."""
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = X @ np.array([[1.0], [-1.0]])
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0)).double()
    set_to = {name: np.full_like(v, 3.0) for name, v in model.state_dict().items()}

    class Blow(cr.train.Callback):
        def on_epoch_end(self, epoch, logs):
            self.context.model.load_state_dict(set_to)
            # The next batch's update overflows every weight.
            for group in self.context.optimizer.param_groups:
                group["lr"] = 1e308

    history = cr.fit(
        model, X, y, loss="mse", optimizer=cr.optim.SGD(model.parameters(), lr=0.01),
        epochs=3, batch_size=8, shuffle=False, verbose=0, callbacks=[Blow()],
    )
    assert history.stop_reason.startswith("an update made a weight NaN or infinite in epoch 2")
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, set_to[name])


@pytest.mark.parametrize("hook", ["on_backward_end", "on_batch_end"])
def test_weights_a_batch_hook_set_are_those_put_back(hook):
    """The same for a hook that runs at every batch."""
    X = np.random.default_rng(0).normal(size=(8, 2))
    y = X @ np.array([[1.0], [-1.0]])
    model = cr.nn.Sequential(cr.nn.Linear(2, 1, rng=0)).double()
    set_to = {name: np.full_like(v, 3.0) for name, v in model.state_dict().items()}

    class Blow(cr.train.Callback):
        calls = 0

        def hook(self, *args):
            type(self).calls += 1
            if type(self).calls == 2:  # in the second batch: new weights, then a huge step
                self.context.model.load_state_dict(set_to)
                for group in self.context.optimizer.param_groups:
                    group["lr"] = 1e308

    setattr(Blow, hook, Blow.hook)
    history = cr.fit(
        model, X, y, loss="mse", optimizer=cr.optim.SGD(model.parameters(), lr=0.01),
        epochs=1, batch_size=2, shuffle=False, verbose=0, callbacks=[Blow()],
    )
    # (the huge step trips the guard at once, or makes the next batch's loss overflow)
    assert "the weights from before the last update were restored" in history.stop_reason
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, set_to[name])
