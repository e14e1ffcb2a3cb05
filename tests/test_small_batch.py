"""The lean per-step path of small batches: nothing it keeps from one step to the next
(the Sequential's fusion plan, a shared read-only backward seed, kept row numbers, the
exponential's clamp) may make a later step differ from what the unfused layers compute
or leak from one graph into another; integer labels are checked by their values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn.fusion import fusion
from chainrule.ops.constants import filled

# Changes a user may make to a model between two training steps.
CHANGES = [
    "replace weight",
    "replace bias",
    "freeze weight",
    "unfreeze weight",
    "drop bias",
    "to float64",
    "to float32",
    "eval",
    "train",
    "slope",
    "append layer",
    "replace activation",
    "edit values",
]


def _model(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(3, 4, rng=rng), nn.LeakyReLU(0.1),
        nn.Linear(4, 4, bias="shared", rng=rng), nn.Tanh(),
        nn.Linear(4, 2, rng=rng),
    )


def _change(model: nn.Sequential, change: str, rng: np.random.Generator) -> None:
    first, middle = model[0], model[2]
    dtype = first.weight.dtype
    if change == "replace weight":
        middle.weight = nn.Parameter(rng.normal(size=(4, 4)).astype(middle.weight.dtype))
    elif change == "replace bias":
        first.bias = nn.Parameter(rng.normal(size=(4,)).astype(dtype))
    elif change == "freeze weight":
        first.weight.requires_grad = False
    elif change == "unfreeze weight":
        first.weight.requires_grad = True
    elif change == "drop bias":
        middle.bias = None
    elif change == "to float64":
        model.to(np.float64)
    elif change == "to float32":
        model.to(np.float32)
    elif change == "eval":
        model.eval()
    elif change == "train":
        model.train()
    elif change == "slope":
        model[1].negative_slope = float(rng.uniform(0.01, 0.5))
    elif change == "append layer":
        if len(model) < 8:
            out = model[len(model) - 1]
            width = out.out_features if isinstance(out, nn.Linear) else 2
            model.append(nn.Sigmoid()).append(nn.Linear(width, 2, rng=rng, dtype=dtype))
    elif change == "replace activation":
        setattr(model, "3", nn.Sigmoid())
    elif change == "edit values":
        first.weight.data[...] = rng.normal(size=first.weight.shape)


def _step(model: nn.Sequential, x: np.ndarray, y: np.ndarray, fused: bool):
    model.zero_grad()
    with fusion(fused):
        out = model(x.astype(model.dtype))
        loss = nn.CrossEntropyLoss()(out, y)
        loss.backward()
    grads = {n: None if p.grad is None else p.grad.copy() for n, p in model.named_parameters()}
    return out.data, loss.item(), grads


@settings(max_examples=25, deadline=None)
@given(
    changes=st.lists(st.sampled_from(CHANGES), min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
    batch=st.integers(1, 5),
)
def test_a_model_changed_between_steps_computes_what_its_layers_compute(changes, seed, batch):
    """Each step after a change (of layers, parameters, requires_grad, dtype, mode, slope)
    is bit for bit what the unfused layers compute: the kept plan is never stale."""
    rng = np.random.default_rng(seed)
    model = _model(rng)
    x = rng.normal(size=(batch, 3))
    y = rng.integers(0, 2, batch)
    _step(model, x, y, fused=True)  # plan, and keep what a repeated step keeps
    for change in changes:
        _change(model, change, rng)
        out_f, loss_f, grads_f = _step(model, x, y, fused=True)
        out_u, loss_u, grads_u = _step(model, x, y, fused=False)
        assert np.array_equal(out_f, out_u)
        assert loss_f == loss_u
        assert grads_f.keys() == grads_u.keys()
        for name, grad in grads_u.items():
            if grad is None:
                assert grads_f[name] is None, name
            else:
                assert np.array_equal(grads_f[name], grad), name


def test_a_frozen_parameter_gets_no_gradient_on_the_next_step():
    model = _model(np.random.default_rng(0))
    x, y = np.ones((2, 3), np.float32), np.array([0, 1])
    _step(model, x, y, fused=True)
    model[0].weight.requires_grad = False
    _, _, grads = _step(model, x, y, fused=True)
    assert grads["0.weight"] is None
    assert grads["0.bias"] is not None


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_backward_seed_is_shared_read_only_and_never_written(shape, dtype):
    """backward() starts every scalar graph from one kept array of ones: a root that keeps
    its gradient (a leaf, or an intermediate with retain_grad) gets its own copy."""
    seed = filled(1.0, shape, np.dtype(dtype))
    leaf = cr.tensor(np.full(shape, 3.0, dtype), requires_grad=True)
    leaf.backward()
    leaf.backward()
    assert leaf.grad is not seed and leaf.grad.flags.writeable
    np.testing.assert_array_equal(leaf.grad, np.full(shape, 2.0))
    x = cr.tensor(np.full(shape, 2.0, dtype), requires_grad=True)
    root = (x * x).retain_grad()
    root.backward(retain_graph=True)
    root.grad += 5.0  # the retained gradient is the root's own
    root.backward()
    np.testing.assert_array_equal(x.grad, np.full(shape, 8.0))
    np.testing.assert_array_equal(root.grad, np.full(shape, 7.0))
    np.testing.assert_array_equal(seed, np.ones(shape))


def test_a_chain_and_a_branching_graph_give_the_same_gradients_as_by_hand():
    """The walk carries one gradient along a chain and switches to the sorted walk at the
    first result used twice; either way every leaf gets its whole gradient."""
    a = cr.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    b = cr.tensor([3.0, -1.0], requires_grad=True, dtype=np.float64)
    h = (a * b).tanh()  # a chain up to h
    loss = (h * h + h * a).sum()  # h and a are each used twice
    loss.backward()
    t = np.tanh(np.array([1.0, 2.0]) * np.array([3.0, -1.0]))
    dh = 2 * t + np.array([1.0, 2.0])
    dz = dh * (1 - t * t)
    np.testing.assert_allclose(a.grad, dz * np.array([3.0, -1.0]) + t, rtol=1e-12)
    np.testing.assert_allclose(b.grad, dz * np.array([1.0, 2.0]), rtol=1e-12)


INTEGER_DTYPES = ["i1", "i2", "<i4", ">i4", "<i8", ">i8", "u1", "u2", "<u4", ">u8"]


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(INTEGER_DTYPES),
    classes=st.integers(2, 9),
    labels=st.lists(st.integers(-130, 140), min_size=1, max_size=90),
)
def test_integer_labels_are_accepted_exactly_when_they_name_a_class(dtype, classes, labels):
    """Any integer dtype, byte order and batch size (a few labels or many): labels in
    [0, classes) give the loss of their one-hot rows, any other is refused by value."""
    info = np.iinfo(np.dtype(dtype))
    labels = [v for v in labels if info.min <= v <= info.max] or [0]
    target = np.array(labels, dtype=dtype)
    scores = cr.tensor(np.random.default_rng(0).normal(size=(len(labels), classes)))
    loss_fn = nn.CrossEntropyLoss()
    bad = [i for i, v in enumerate(labels) if not 0 <= v < classes]
    if bad:
        with pytest.raises(ValueError, match=f"sample {bad[0]} has label {labels[bad[0]]}$"):
            loss_fn(scores, target)
    else:
        one_hot = np.eye(classes)[labels]
        assert loss_fn(scores, target).item() == loss_fn(scores, one_hot).item()


def test_the_softmax_loss_of_each_batch_size_picks_its_own_rows():
    """Row numbers kept per batch size: batches of different sizes, taking turns, each get
    the loss and gradient of their own rows."""
    rng = np.random.default_rng(1)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    for n in [3, 1, 5, 3, 40, 1, 5, *range(20, 40)]:
        logits = rng.normal(size=(n, 4))
        labels = rng.integers(0, 4, n)
        z = cr.tensor(logits, requires_grad=True)
        loss_fn(z, labels).backward()
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(z.grad, probs - np.eye(4)[labels], atol=1e-12)


_SPECIAL = st.sampled_from([0.0, -0.0, 1.5, -2.25, 1e308, -1e308, 5e-324, np.inf, -np.inf, np.nan])


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 5),
    columns=st.integers(1, 4),
    bias_shape=st.sampled_from(["()", "(1,)", "(width,)"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    bias_value=_SPECIAL,
    seed=st.integers(0, 2**16),
)
def test_the_linear_forward_adds_every_kind_of_bias_as_broadcasting_would(
    rows, columns, bias_shape, dtype, bias_value, seed
):
    # A one-number bias is added as a 0-d view of itself: every sum must stay the one
    # broadcasting gives, bit for bit, whatever the value (signed zeros, inf, NaN).
    from chainrule.ops.shape import linear_forward

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3)).astype(dtype)
    weight = rng.normal(size=(3, columns)).astype(dtype)
    shape = {"()": (), "(1,)": (1,), "(width,)": (columns,)}[bias_shape]
    with np.errstate(all="ignore"):  # 1e308 is inf in float32
        bias = np.full(shape, bias_value, dtype=dtype)
        expected = x.dot(weight) + bias
        got = linear_forward(x, weight, bias)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    assert bias.shape == shape  # the parameter itself is left as it was
