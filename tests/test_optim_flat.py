"""Optimizers stepping through flat buffers: the same numbers as a plain per-parameter
loop, whatever the layers, groups, dtypes, frozen parameters, missing gradients,
replaced arrays and saved states; PyTorch's Adam in float64 to rounding."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn


# -- references: the textbook loop, one parameter at a time, in PyTorch's order ----------
class Reference:
    def __init__(self, groups):
        self.groups = groups  # [(hyperparameters, [arrays])]
        self.state = {}

    def stepping(self, grads, active):
        """Each array that takes this step, with its group and its gradient (weight decay
        added)."""
        for hyper, arrays in self.groups:
            for array in arrays:
                key = id(array)
                if not active[key]:
                    continue
                grad = grads[key]
                if hyper["weight_decay"]:
                    grad = grad + hyper["weight_decay"] * array
                yield hyper, array, grad


class ReferenceAdam(Reference):
    def step(self, grads, active):
        for hyper, array, grad in self.stepping(grads, active):
            beta1, beta2 = hyper["betas"]
            key = id(array)
            if key not in self.state:
                self.state[key] = [0, np.zeros_like(array), np.zeros_like(array)]
            entry = self.state[key]
            entry[0] += 1
            t, m, v = entry
            m += (1 - beta1) * (grad - m)  # exp_avg.lerp_(grad, 1 - beta1)
            v *= beta2
            v += (1 - beta2) * grad * grad  # addcmul_(grad, grad, value=1 - beta2)
            denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + hyper["eps"]
            array += (-hyper["lr"] / (1 - beta1**t)) * m / denom


class ReferenceSGD(Reference):
    def step(self, grads, active):
        for hyper, array, grad in self.stepping(grads, active):
            if hyper["momentum"]:
                key = id(array)
                buf = self.state.get(key)
                if buf is None:
                    buf = self.state[key] = np.array(grad, copy=True)
                else:
                    buf *= hyper["momentum"]
                    buf += grad
                grad = grad + hyper["momentum"] * buf if hyper["nesterov"] else buf
            array -= hyper["lr"] * grad


ADAM_GROUP = st.fixed_dictionaries(
    {
        "lr": st.sampled_from([1e-3, 0.01, 0.3]),
        "betas": st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.99)]),
        "eps": st.sampled_from([1e-8, 1e-3]),
        "weight_decay": st.sampled_from([0.0, 0.0, 0.05]),
    }
)
SGD_GROUP = st.fixed_dictionaries(
    {
        "lr": st.sampled_from([0.01, 0.37]),
        "momentum": st.sampled_from([0.0, 0.5, 0.9]),
        "nesterov": st.booleans(),
        "weight_decay": st.sampled_from([0.0, 0.1]),
    }
).map(lambda g: {**g, "nesterov": g["nesterov"] and g["momentum"] > 0})
SHAPES = st.sampled_from([(), (1,), (3,), (1, 1), (4, 5), (5, 1), (2, 3, 2)])


@st.composite
def runs(draw, group_hypers):
    """Groups of parameters (several layers, dtypes) and a schedule of steps, each with
    some parameters lacking a gradient or frozen, data replaced, or state reloaded."""
    n_groups = draw(st.integers(1, 3))
    groups = []
    for _ in range(n_groups):
        hyper = draw(group_hypers)
        dtype = draw(st.sampled_from([np.float64, np.float32, "mixed"]))
        shapes = draw(st.lists(SHAPES, min_size=1, max_size=6))
        dtypes = [
            draw(st.sampled_from([np.float64, np.float32])) if dtype == "mixed" else dtype
            for _ in shapes
        ]
        groups.append((hyper, list(zip(shapes, dtypes))))
    n_params = sum(len(specs) for _, specs in groups)
    steps = draw(st.integers(1, 7))
    events = draw(
        st.lists(
            st.tuples(
                st.integers(0, steps - 1),
                st.sampled_from(["no grad", "frozen", "replace data", "reload state"]),
                st.integers(0, n_params - 1),
            ),
            max_size=4,
        )
    )
    return groups, steps, events, draw(st.integers(0, 2**16))


def run_against_reference(make, reference_class, groups, steps, events, seed):
    rng = np.random.default_rng(seed)
    params, arrays, specs = [], [], []
    for hyper, shape_dtypes in groups:
        group_params = []
        for shape, dtype in shape_dtypes:
            value = np.asarray(rng.normal(size=shape)).astype(dtype)
            group_params.append(nn.Parameter(value.copy()))
            arrays.append(value)
        params.extend(group_params)
        specs.append({**hyper, "params": group_params})
    optimizer = make(specs)
    reference = reference_class(
        [(hyper, arrays[start : start + len(spec)]) for hyper, spec, start in _spans(groups)]
    )
    for step in range(steps):
        todays = {(kind, index) for when, kind, index in events if when == step}
        active = {}
        grads = {}
        for index, (param, array) in enumerate(zip(params, arrays)):
            grad = np.asarray(rng.normal(size=array.shape)).astype(array.dtype)
            # Signed zeros too: a buffer that starts as the gradient keeps their sign.
            grad = np.where(rng.random(size=array.shape) < 0.2, -0.0, grad).astype(array.dtype)
            frozen = ("frozen", index) in todays
            missing = ("no grad", index) in todays
            param.requires_grad = not frozen
            param.grad = None if missing else grad.copy()
            grads[id(array)] = grad
            active[id(array)] = not (frozen or missing)
            if ("replace data", index) in todays:
                param.data = param.data.copy()
        if any(kind == "reload state" for kind, _ in todays):
            saved = optimizer.state_dict()
            optimizer = make(specs)
            optimizer.load_state_dict(saved)
        optimizer.step()
        reference.step(grads, active)
        for param, array in zip(params, arrays):
            assert_same_bits(param.data, array)
    return optimizer, params, reference, arrays


def assert_same_bits(ours, theirs):
    """Equal arrays, signed zeros included (assert_array_equal takes -0 for 0)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert (ours.dtype, ours.shape) == (theirs.dtype, theirs.shape)
    assert ours.tobytes() == theirs.tobytes(), (ours, theirs)


def _spans(groups):
    start = 0
    for hyper, spec in groups:
        yield hyper, spec, start
        start += len(spec)


@settings(max_examples=60, deadline=None)
@given(runs(ADAM_GROUP))
def test_adam_equals_the_per_parameter_loop_bit_for_bit(run):
    optimizer, params, reference, arrays = run_against_reference(
        lambda specs: cr.optim.Adam(specs), ReferenceAdam, *run
    )
    # The state the optimizer shows is the state it steps with.
    for param, array in zip(params, arrays):
        if id(array) in reference.state:
            t, m, v = reference.state[id(array)]
            entry = optimizer.state[id(param)]
            assert int(entry["step"]) == t
            assert_same_bits(entry["exp_avg"], m)
            assert_same_bits(entry["exp_avg_sq"], v)


@settings(max_examples=60, deadline=None)
@given(runs(SGD_GROUP))
def test_sgd_equals_the_per_parameter_loop_bit_for_bit(run):
    optimizer, params, reference, arrays = run_against_reference(
        lambda specs: cr.optim.SGD(specs, lr=0.1), ReferenceSGD, *run
    )
    for param, array in zip(params, arrays):
        if id(array) in reference.state:
            buf = optimizer.state[id(param)]["momentum_buffer"]
            assert_same_bits(buf, reference.state[id(array)])
        else:
            assert "momentum_buffer" not in optimizer.state.get(id(param), {})


def test_adam_follows_pytorch_in_float64_over_many_steps():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [(4, 5), (5,), (5, 1), (1,), (3, 3), ()]
    values = [rng.normal(size=shape) for shape in shapes]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.tensor(v.copy(), dtype=torch.float64, requires_grad=True) for v in values]

    def groups(ps):
        return [
            {"params": ps[:2]},
            {"params": ps[2:4], "lr": 0.05, "weight_decay": 0.1},
            {"params": ps[4:], "lr": 0.002, "betas": (0.5, 0.9), "eps": 1e-4},
        ]

    optimizer = cr.optim.Adam(groups(ours), lr=0.01)
    reference = torch.optim.Adam(groups(theirs), lr=0.01)
    for _ in range(300):
        for p, t in zip(ours, theirs):
            grad = rng.normal(size=p.shape)
            p.grad = grad.copy()
            t.grad = torch.from_numpy(grad.copy())
        optimizer.step()
        reference.step()
    for p, t in zip(ours, theirs):
        # PyTorch fuses a multiply-add where NumPy rounds twice: a last-bit difference.
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-14, atol=1e-15)
        state = reference.state[t]
        np.testing.assert_allclose(
            optimizer.state[id(p)]["exp_avg_sq"], state["exp_avg_sq"].numpy(), rtol=1e-14
        )
        assert int(optimizer.state[id(p)]["step"]) == int(state["step"]) == 300


def tiny_model(dtype=np.float64):
    return nn.Sequential(
        nn.Linear(4, 5, bias="shared", dtype=dtype, rng=0),
        nn.Sigmoid(),
        nn.Linear(5, 1, bias="shared", dtype=dtype, rng=1),
    )


def train_steps(model, optimizer, steps, rng):
    X, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 1))
    for _ in range(steps):
        optimizer.zero_grad()
        nn.MSELoss()(model(X.astype(model.dtype)), y.astype(model.dtype)).backward()
        optimizer.step()


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: cr.optim.Adam(ps, lr=0.05, weight_decay=0.01),
        lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    ],
)
def test_arrays_taken_from_data_stay_the_parameters_storage(make):
    model = tiny_model()
    kept = [p.data for p in model.parameters()]
    before = [a.copy() for a in kept]
    train_steps(model, make(list(model.parameters())), 3, np.random.default_rng(0))
    assert all(p.data is a for p, a in zip(model.parameters(), kept))
    assert all(not np.array_equal(a, b) for a, b in zip(kept, before))


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: cr.optim.Adam(ps, lr=0.05),
        lambda ps: cr.optim.SGD(ps, lr=0.05, momentum=0.9),
    ],
)
def test_data_replaced_mid_training_is_what_gets_updated(make):
    model = tiny_model()
    optimizer = make(list(model.parameters()))
    rng = np.random.default_rng(0)
    train_steps(model, optimizer, 2, rng)
    weight = model[0].weight
    old = weight.data
    weight.data = old.copy()  # as io.load or a user assigns
    frozen_old = old.copy()
    train_steps(model, optimizer, 2, rng)
    np.testing.assert_array_equal(old, frozen_old)  # the stale array is left alone
    assert not np.array_equal(weight.data, frozen_old)
    # A new dtype (Module.to) lays the buffers out again, in the new dtype.
    model.to(np.float32)
    train_steps(model, optimizer, 2, rng)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    state = optimizer.state[id(weight)]
    assert all(buf.dtype == np.float32 for name, buf in state.items() if name != "step")


def test_frozen_and_gradientless_parameters_keep_their_values_and_state():
    model = tiny_model()
    first, second = model[0], model[2]
    optimizer = cr.optim.Adam(model.parameters(), lr=0.1)
    rng = np.random.default_rng(1)
    train_steps(model, optimizer, 2, rng)
    first.weight.requires_grad = False
    frozen = first.weight.data.copy()
    moments = optimizer.state[id(first.weight)]["exp_avg"].copy()
    train_steps(model, optimizer, 3, rng)
    np.testing.assert_array_equal(first.weight.data, frozen)
    np.testing.assert_array_equal(optimizer.state[id(first.weight)]["exp_avg"], moments)
    assert int(optimizer.state[id(first.weight)]["step"]) == 2
    assert int(optimizer.state[id(second.weight)]["step"]) == 5
    # Unfrozen, it goes on from its own step count while the others go on from theirs.
    first.weight.requires_grad = True
    train_steps(model, optimizer, 1, rng)
    assert int(optimizer.state[id(first.weight)]["step"]) == 3
    assert int(optimizer.state[id(second.weight)]["step"]) == 6


def test_state_dict_keeps_the_per_parameter_format():
    model = tiny_model()
    optimizer = cr.optim.Adam(model.parameters(), lr=0.1)
    train_steps(model, optimizer, 3, np.random.default_rng(2))
    state = optimizer.state_dict()["state"]
    for index, param in enumerate(model.parameters()):
        entry = state[index]
        assert sorted(entry) == ["exp_avg", "exp_avg_sq", "step"]
        assert entry["step"].shape == () and entry["step"].dtype == np.int64
        assert int(entry["step"]) == 3
        assert entry["exp_avg"].shape == param.shape == entry["exp_avg_sq"].shape
        # Copies, not views of the optimizer's buffers.
        entry["exp_avg"][...] = 7.0
    assert not (optimizer.state_dict()["state"][0]["exp_avg"] == 7.0).any()
    momentum = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    train_steps(model, momentum, 1, np.random.default_rng(2))
    assert sorted(momentum.state_dict()["state"][0]) == ["momentum_buffer"]
    plain = cr.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.1)
    train_steps(model, plain, 1, np.random.default_rng(2))
    assert plain.state_dict()["state"] == {}


def test_a_saved_state_written_one_parameter_at_a_time_resumes_exactly():
    """A state dict as older checkpoints hold it (separate arrays, step counts as 0-d
    int64) continues exactly as the run that wrote it."""
    rng = np.random.default_rng(3)
    straight = tiny_model()
    optimizer = cr.optim.Adam(straight.parameters(), lr=0.05)
    train_steps(straight, optimizer, 4, np.random.default_rng(4))
    saved_weights = straight.state_dict()
    saved = {
        "param_groups": optimizer.state_dict()["param_groups"],
        "state": {
            i: {name: np.array(buf) for name, buf in entry.items()}
            for i, entry in optimizer.state_dict()["state"].items()
        },
    }
    train_steps(straight, optimizer, 3, rng)
    resumed = tiny_model()
    resumed.load_state_dict(saved_weights)
    again = cr.optim.Adam(resumed.parameters(), lr=0.05)
    again.load_state_dict(saved)
    train_steps(resumed, again, 3, np.random.default_rng(3))
    for a, b in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_hand_set_gradient_of_one_number_broadcasts_as_before():
    p = nn.Parameter(np.array([1.0, 2.0, 3.0]))
    q = nn.Parameter(np.array([1.0, 2.0, 3.0]))
    optimizer = cr.optim.SGD([p], lr=0.1, momentum=0.5)
    p.grad = np.array([1.0])
    optimizer.step()
    q.data -= 0.1 * np.array([1.0])
    np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize("nesterov", [False, True])
def test_a_parameter_starting_in_a_step_taken_one_by_one_starts_as_the_loop_does(nesterov):
    """A hand-set gradient of another size sends the step parameter by parameter while
    one parameter has momentum state and another starts now: each goes on as in the
    loop, and so do the steps after (through flat buffers again)."""
    values = [np.array([1.0, -2.0, 3.0]), np.array([0.5, 4.0])]
    params = [nn.Parameter(v.copy()) for v in values]
    optimizer = cr.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=nesterov)
    reference = ReferenceSGD(
        [({"momentum": 0.9, "nesterov": nesterov, "weight_decay": 0.0, "lr": 0.1}, values)]
    )
    schedule = [
        [np.array([0.3, -0.0, 1.0]), None],
        [np.array([-0.0]), np.array([1.5, -0.0])],  # the first broadcasts over its parameter
        [np.array([-1.0, 2.0, 0.5]), np.array([-0.0, 2.0])],
        [np.array([0.7, -0.4, 0.0]), np.array([0.25, 2.0])],
    ]
    for grads in schedule:
        for param, grad in zip(params, grads):
            param.grad = grad
        optimizer.step()
        reference.step(
            {id(v): g for v, g in zip(values, grads)},
            {id(v): g is not None for v, g in zip(values, grads)},
        )
        for param, value in zip(params, values):
            assert_same_bits(param.data, value)
            if id(value) in reference.state:
                buf = optimizer.state[id(param)]["momentum_buffer"]
                assert_same_bits(buf, reference.state[id(value)])


def test_a_parameter_given_twice_is_refused():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="appears more than once"):
        cr.optim.Adam([p, p])
    with pytest.raises(ValueError, match="appears more than once"):
        cr.optim.SGD([{"params": [p]}, {"params": [p], "lr": 1.0}], lr=0.1)


@pytest.mark.parametrize("copier", ["pickle", "deepcopy"])
def test_a_copied_optimizer_steps_and_reports_its_own_state(copier):
    import copy
    import pickle

    rng = np.random.default_rng(5)
    model = tiny_model()
    optimizer = cr.optim.Adam(model.parameters(), lr=0.05)
    train_steps(model, optimizer, 2, rng)
    pair = (model, optimizer)
    twin_model, twin = (
        pickle.loads(pickle.dumps(pair)) if copier == "pickle" else copy.deepcopy(pair)
    )
    train_steps(model, optimizer, 2, np.random.default_rng(6))
    train_steps(twin_model, twin, 2, np.random.default_rng(6))
    for a, b in zip(model.parameters(), twin_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    ours, theirs = optimizer.state_dict()["state"], twin.state_dict()["state"]
    for index, entry in ours.items():
        for name, buf in entry.items():
            np.testing.assert_array_equal(theirs[index][name], buf)


def test_momentum_switched_on_mid_training_starts_its_buffers():
    p = nn.Parameter(np.array([1.0, 2.0]))
    optimizer = cr.optim.SGD([p], lr=0.1, weight_decay=0.1)
    p.grad = np.array([0.5, 0.5])
    optimizer.step()
    optimizer.param_groups[0]["momentum"] = 0.9
    optimizer.step()
    optimizer.step()
    w = np.array([1.0, 2.0])
    w -= 0.1 * (0.5 + 0.1 * w)
    buf = 0.5 + 0.1 * w
    w -= 0.1 * buf
    buf = 0.9 * buf + (0.5 + 0.1 * w)
    w -= 0.1 * buf
    np.testing.assert_allclose(p.data, w, rtol=1e-15)
    np.testing.assert_allclose(optimizer.state[id(p)]["momentum_buffer"], buf, rtol=1e-15)
