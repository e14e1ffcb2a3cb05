"""Property-based bad-input tests of the core API: whatever arrays come in, either the
call works or a ValueError/TypeError naming the problem comes out; nothing else escapes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn

DTYPES = st.sampled_from(
    [np.float32, np.float64, np.int64, np.bool_, np.complex128, np.str_, object]
)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def arrays(draw):
    dtype = draw(DTYPES)
    shape = draw(SHAPES)
    if dtype in (np.str_, object):
        return np.full(shape, "x", dtype=dtype)
    elements = None
    if dtype in (np.float32, np.float64):
        elements = st.floats(
            allow_nan=True, allow_infinity=True, width=32 if dtype == np.float32 else 64
        )
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _calls_cleanly(fn, *args):
    try:
        with np.errstate(all="ignore"):
            fn(*args)
    except (ValueError, TypeError) as err:
        message = str(err)
        assert message and "\n" not in message.strip(), message
        return False
    return True


def _model():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


@SETTINGS
@given(x=arrays())
def test_model_forward_accepts_good_input_and_names_bad_input(x):
    model = _model()
    ok = _calls_cleanly(model, x)
    good = (x.ndim == 2 and x.shape[1] == 4 and x.dtype == np.float32 and np.isfinite(x).all()) or (
        x.ndim == 2 and x.shape[1] == 4 and x.dtype.kind in "ib"
    )
    assert ok == good, (x.dtype, x.shape)


@SETTINGS
@given(target=arrays(), n=st.integers(1, 4))
def test_cross_entropy_targets(target, n):
    scores = np.zeros((n, 3), dtype=np.float32)
    ok = _calls_cleanly(nn.CrossEntropyLoss(), scores, target)
    if ok:  # what was accepted really is labels in range or probability rows
        t = np.asarray(target, dtype=float)
        assert t.shape in ((n,), (n, 3))
        if t.shape == (n,):
            assert ((t >= 0) & (t < 3) & (t == np.round(t))).all()


@SETTINGS
@given(pred=arrays(), target=arrays())
def test_mse_and_bce(pred, target):
    for loss in (nn.MSELoss(), nn.BCEWithLogitsLoss(), nn.BCELoss()):
        ok = _calls_cleanly(loss, pred, target)
        if ok:
            assert pred.size > 0


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_tensor_backward_with_bad_gradient_shape_is_a_value_error(bad):
    x = cr.tensor([1.0, bad], requires_grad=True)
    with pytest.raises(ValueError):
        (x * 2).backward(np.ones(3))
