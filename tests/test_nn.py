"""Module, Sequential, Linear and state_dict behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def make() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, bias="shared", rng=1), nn.Softmax()
    )


def test_named_parameters_follow_pytorch_names_and_shapes():
    shapes = {name: p.shape for name, p in make().named_parameters()}
    assert shapes == {"0.weight": (3, 4), "0.bias": (4,), "2.weight": (4, 2), "2.bias": (1,)}


def test_linear_computes_x_at_w_plus_b():
    layer = nn.Linear(3, 2, dtype=np.float64, rng=0)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data + layer.bias.data)
    shared = nn.Linear(3, 2, bias="shared", dtype=np.float64, rng=0)
    np.testing.assert_allclose(shared(x).data, x @ shared.weight.data + shared.bias.data[0])
    none = nn.Linear(3, 2, bias=False, dtype=np.float64)
    assert none.bias is None and len(list(none.parameters())) == 1
    np.testing.assert_allclose(none(x).data, x @ none.weight.data)


def test_default_init_is_pytorch_fan_in_uniform():
    layer = nn.Linear(100, 50, rng=0)
    bound = 1 / np.sqrt(100)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound
    assert layer.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.05)


def test_textbook_init_and_zero_bias_rule():
    layer = nn.Linear(4, 5, bias="shared", init=cr.init.uniform(0, 1), rng=0)
    assert (layer.weight.data >= 0).all() and (layer.weight.data < 1).all()
    assert layer.bias.data[0] == 0.0  # bias_init defaults to zeros once init is given
    layer = nn.Linear(4, 5, bias="shared", init="uniform", bias_init="uniform", rng=0)
    assert 0 <= layer.bias.data[0] < 1


def test_manual_seed_makes_initialisation_reproducible():
    cr.manual_seed(42)
    a = make_default()
    cr.manual_seed(42)
    b = make_default()
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    c = make_default()
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)


def make_default() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))


def test_state_dict_round_trip_and_copy_semantics():
    a, b = (
        make(),
        nn.Sequential(
            nn.Linear(3, 4, rng=5), nn.Tanh(), nn.Linear(4, 2, bias="shared", rng=6), nn.Softmax()
        ),
    )
    state = a.state_dict()
    state["0.weight"][0, 0] = 123.0  # a copy: the model is unchanged
    assert a[0].weight.data[0, 0] != 123.0
    b.load_state_dict(a.state_dict())
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_rejects_mismatches_and_changes_nothing():
    model = make()
    before = model.state_dict()
    bad_shape = {**before, "2.weight": np.zeros((2, 4))}
    with pytest.raises(ValueError, match=r"'2.weight' has shape \(2, 4\).*\(4, 2\)"):
        model.load_state_dict(bad_shape)
    with pytest.raises(ValueError, match=r"missing \['2.bias'\]"):
        model.load_state_dict({k: v for k, v in before.items() if k != "2.bias"})
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    model.load_state_dict({"0.bias": np.full(4, 7.0)}, strict=False)
    assert (model[0].bias.data == 7.0).all()


def test_sequential_is_indexable_iterable_and_prints_like_pytorch():
    model = make()
    assert len(model) == 4 and isinstance(model[1], nn.Tanh)
    assert isinstance(model[-1], nn.Softmax)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "Softmax"]
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert repr(model) == (
        "Sequential(\n  (0): Linear(3, 4)\n  (1): Tanh()\n  (2): Linear(4, 2, bias='shared')\n"
        "  (3): Softmax(axis=-1)\n)"
    )
    with pytest.raises(IndexError, match="out of range for a Sequential of 4 layers"):
        model[4]
    with pytest.raises(TypeError, match="argument 0 is int"):
        nn.Sequential(3)


def test_sequential_indexing_and_running_follow_every_change_of_its_layers():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Tanh())
    x = np.ones((1, 2))
    model.double()
    assert isinstance(model[1], nn.Tanh)
    model.append(nn.ReLU())
    assert isinstance(model[-1], nn.ReLU) and len(model) == 3
    with_relu = model(x).data
    assert (with_relu >= 0).all()
    delattr(model, "2")
    assert len(model) == 2 and isinstance(model[-1], nn.Tanh)
    np.testing.assert_array_equal(model(x).data, np.tanh(model[0](x).data))


def test_train_eval_and_dtype_conversion():
    model = make()
    assert model.training and all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert model[2].training
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model(np.ones((1, 3))).dtype == np.float64


def test_config_round_trip_builds_the_same_architecture():
    model = nn.Sequential(
        nn.Linear(2, 3, bias="shared"), nn.LeakyReLU(0.2), nn.Linear(3, 1, bias=False), nn.Sigmoid()
    )
    rebuilt = nn.from_config(model.get_config())
    assert repr(rebuilt) == repr(model)
    assert {n: p.shape for n, p in rebuilt.named_parameters()} == {
        n: p.shape for n, p in model.named_parameters()
    }
    with pytest.raises(ValueError, match="unknown module type 'Conv2d'"):
        nn.from_config({"type": "Conv2d"})


def test_custom_module_registers_parameters_and_submodules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 3)
            self.scale = nn.Parameter(np.ones(1, dtype=np.float32))

        def forward(self, x):
            return self.hidden(x) * self.scale

    net = Net()
    assert sorted(n for n, _ in net.named_parameters()) == ["hidden.bias", "hidden.weight", "scale"]
    net(np.ones((1, 2), dtype=np.float32)).sum().backward()
    assert net.scale.grad is not None
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())

    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"must call super\(\).__init__\(\)"):
        Forgetful()
