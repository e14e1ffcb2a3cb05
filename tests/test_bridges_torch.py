"""to_torch and from_torch against the real PyTorch: same outputs, same parameters, same dtypes.

Networks are generated over every layer type, bias kind and dtype; a round trip
chainrule -> PyTorch -> chainrule (and PyTorch -> chainrule -> PyTorch) gives back every
parameter bit for bit. What has no equivalent is refused by name and position.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import chainrule as cr
from bridge_networks import (
    ACTIVATION_TYPES,
    BIAS_KINDS,
    flattened,
    inputs_for,
    networks,
    relative_error,
)

torch = pytest.importorskip("torch")
from chainrule.bridges import SharedBias  # noqa: E402  (a PyTorch module)

nn = cr.nn
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Outputs agree to this, relative to the largest output, per dtype.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def _torch_outputs(module, x):
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def _chainrule_outputs(model, x):
    with cr.no_grad():
        return model(x).data


@SETTINGS
@given(networks())
def test_to_torch_computes_the_same_outputs_in_the_same_dtype(model):
    module = cr.to_torch(model)
    x = inputs_for(model)
    ours, theirs = _chainrule_outputs(model, x), _torch_outputs(module, x)
    assert theirs.dtype == ours.dtype == model.dtype
    assert relative_error(ours, theirs) <= TOLERANCE[model.dtype]
    for param in module.parameters():
        assert param.dtype == getattr(torch, model.dtype.name)


@SETTINGS
@given(networks(dtypes=(np.float16, np.float32, np.float64)))
def test_chainrule_to_torch_and_back_keeps_every_parameter_exactly(model):
    back = cr.from_torch(cr.to_torch(model))
    assert back.get_config() == flattened(model).get_config()
    ours, theirs = flattened(model).state_dict(), back.state_dict()
    assert list(ours) == list(theirs)
    for name, values in ours.items():
        assert theirs[name].dtype == values.dtype
        np.testing.assert_array_equal(theirs[name], values, err_msg=name)


@SETTINGS
@given(networks())
def test_torch_to_chainrule_and_back_keeps_every_parameter_exactly(model):
    module = cr.to_torch(model)
    again = cr.to_torch(cr.from_torch(module))
    assert [type(m) for m in again] == [type(m) for m in module]
    mine, theirs = module.state_dict(), again.state_dict()
    assert list(mine) == list(theirs)
    for name, values in mine.items():
        assert torch.equal(theirs[name], values), name
    x = inputs_for(model)
    np.testing.assert_array_equal(_torch_outputs(again, x), _torch_outputs(module, x))


@pytest.mark.parametrize("activation", ACTIVATION_TYPES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("bias", BIAS_KINDS, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_every_layer_type_and_bias_kind_crosses_over(activation, bias, dtype):
    model = nn.Sequential(nn.Linear(3, 4, bias=bias, dtype=dtype, rng=1), activation())
    module = cr.to_torch(model)
    assert type(module[-1]).__name__ == activation.__name__
    x = inputs_for(model, rows=9)
    assert relative_error(_chainrule_outputs(model, x), _torch_outputs(module, x)) <= TOLERANCE[
        np.dtype(dtype)
    ]
    assert type(cr.from_torch(module)[-1]) is activation


def test_a_shared_bias_becomes_a_module_of_one_parameter():
    model = nn.Sequential(nn.Linear(3, 2, bias="shared", rng=0))
    model[0].bias.data[:] = 0.25
    module = cr.to_torch(model)
    linear, shared = module
    assert linear.bias is None and isinstance(shared, SharedBias)
    assert [tuple(p.shape) for p in shared.parameters()] == [(1,)]
    assert shared.bias.item() == 0.25
    np.testing.assert_array_equal(linear.weight.detach().numpy(), model[0].weight.data.T)


def test_arguments_training_mode_and_frozen_parameters_carry_over():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.LeakyReLU(0.3), nn.Linear(3, 2), nn.Softmax(0))
    model[0].weight.requires_grad = False
    model.eval()
    module = cr.to_torch(model)
    assert module[1].negative_slope == 0.3 and module[3].dim == 0
    assert not module.training
    assert not module[0].weight.requires_grad and module[0].bias.requires_grad
    back = cr.from_torch(module)
    assert back[1].negative_slope == 0.3 and back[3].axis == 0
    assert not back[0].weight.requires_grad and back[0].bias.requires_grad


def test_to_torch_draws_no_random_numbers():
    state = torch.get_rng_state()
    cr.to_torch(nn.Sequential(nn.Linear(20, 30), nn.Tanh(), nn.Linear(30, 1)))
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.filterwarnings("ignore:Implicit dimension choice for softmax")
def test_from_torch_flattens_nested_sequentials_and_leaves_the_model_unchanged():
    tnn = torch.nn
    module = tnn.Sequential(
        tnn.Sequential(tnn.Linear(2, 3), tnn.ReLU()),
        tnn.Sequential(tnn.Sequential(tnn.Linear(3, 3, bias=False), SharedBias(0.5))),
        tnn.Softmax(dim=None),
    )
    before = {k: v.clone() for k, v in module.state_dict().items()}
    model = cr.from_torch(module)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "Softmax"]
    assert model[2].bias_kind == "shared" and model[2].bias.data.tolist() == [0.5]
    assert model[3].axis == -1  # dim=None: PyTorch's implicit choice for rows
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())
    assert all(p.grad is None for p in module.parameters())
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    assert relative_error(_chainrule_outputs(model, x), _torch_outputs(module, x)) <= 1e-6


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda t: t.Sequential(t.Conv1d(1, 1, 1)), "Conv1d at position 0 is not supported"),
        (
            lambda t: t.Sequential(t.Linear(2, 2), t.Sequential(t.ReLU(), t.Dropout())),
            "Dropout at position 1.1 is not supported",
        ),
        (lambda t: t.Sequential(t.Linear(2, 2), t.PReLU()), "PReLU at position 1 is not"),
        (lambda t: t.Sequential(t.Linear(2, 2), t.GELU()), "GELU at position 1 is not"),
        (lambda t: t.Linear(2, 2), "from_torch takes a torch.nn.Sequential, got Linear"),
        (
            lambda t: t.Sequential(t.Linear(2, 2), SharedBias()),
            "SharedBias at position 1 is not supported there",
        ),
        (
            lambda t: t.Sequential(t.Linear(2, 2, dtype=torch.bfloat16)),
            "Linear at position 0 has bfloat16 parameters",
        ),
    ],
)
def test_from_torch_refuses_what_chainrule_has_no_layer_for_by_name_and_position(build, message):
    with pytest.raises(TypeError) as caught:
        cr.from_torch(build(torch.nn))
    assert message in str(caught.value)


def test_a_subclass_of_a_supported_module_is_refused_since_it_may_compute_otherwise():
    class Doubled(torch.nn.ReLU):
        def forward(self, x):
            return 2 * super().forward(x)

    with pytest.raises(TypeError, match="Doubled at position 1 is not supported"):
        cr.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), Doubled()))


def test_an_attribute_outside_chainrules_range_is_named_with_its_position():
    module = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LeakyReLU(2.0))
    with pytest.raises(ValueError, match=r"LeakyReLU at position 1 cannot be translated.*2\.0"):
        cr.from_torch(module)


def test_to_torch_refuses_a_module_that_is_not_a_layer_type():
    class Scale(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="Scale at position 1 is not supported"):
        cr.to_torch(nn.Sequential(nn.Linear(2, 2), Scale()))
    with pytest.raises(TypeError, match="MSELoss at position 1.0 is not supported"):
        cr.to_torch(nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.MSELoss())))
