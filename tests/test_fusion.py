"""Layer fusion: nn.Sequential runs Linear + activation as one `dense` op; the values must be
bit-identical to the unfused graph (which explanations show)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.fusion import fusion

# Every elementwise activation layer, and a leaky ReLU whose slope is not the default.
_ELEMENTWISE = nn.activation_layers(elementwise=True)
ACTIVATIONS = [*_ELEMENTWISE, lambda: nn.LeakyReLU(0.1)]
_IDS = [cls.op_name for cls in _ELEMENTWISE] + ["leaky-0.1"]
LOSSES = [
    (nn.MSELoss(), None),
    (nn.CrossEntropyLoss(), None),
    (nn.BCELoss(), nn.Sigmoid),
    (nn.CrossEntropyLoss(from_probs=True), nn.Softmax),
]


def _run(model, x, y, loss_fn, fused: bool):
    model.zero_grad()
    with fusion(fused):
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
    return out, loss, {n: p.grad.copy() for n, p in model.named_parameters()}


@pytest.mark.parametrize("bias", [True, "shared"], ids=str)
@pytest.mark.parametrize("loss_fn, head", LOSSES, ids=["mse", "ce", "bce", "softmax-ce"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=_IDS)
def test_fused_and_unfused_are_bit_identical(activation, loss_fn, head, bias):
    rng = np.random.default_rng(0)
    layers = [
        nn.Linear(3, 4, bias=bias, rng=rng),
        activation(),
        nn.Linear(4, 2, bias=bias, rng=rng),
    ]
    if head is not None:
        layers.append(head())
    model = nn.Sequential(*layers)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    y = (
        rng.integers(0, 2, 5)
        if isinstance(loss_fn, nn.CrossEntropyLoss)
        else rng.integers(0, 2, (5, 2)).astype(np.float32)
    )
    out_f, loss_f, grads_f = _run(model, x, y, loss_fn, fused=True)
    out_u, loss_u, grads_u = _run(model, x, y, loss_fn, fused=False)
    assert np.array_equal(out_f.data, out_u.data)
    assert loss_f.item() == loss_u.item()
    for name in grads_u:
        assert np.array_equal(grads_f[name], grads_u[name]), name


def test_fused_graph_has_one_node_per_run_of_layers_and_unfused_one_per_stage():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    x = np.ones((1, 2), dtype=np.float32)
    out = model(x)
    assert out.node.op.name == "dense_stack2"
    assert out.node.attrs["activations"] == ("tanh", "sigmoid")
    assert all(t.node is None for t in out.node.inputs)  # X and the parameters
    with fusion(False):
        out = model(x)
    assert out.node.op.name == "sigmoid" and out.node.inputs[0].node.op.name == "linear"


def _plan(model):
    model(np.ones((1, model[0].in_features), dtype=np.float32))
    return [
        step.op.name if isinstance(step, nn.fusion.FusedRun) else type(step).__name__
        for step in model._plan
    ]


def test_the_plan_fuses_runs_of_up_to_four_layers_whose_sizes_chain():
    relu = nn.ReLU
    # the large benchmark MLP: one op, its last layer without an activation
    mlp = nn.Sequential(nn.Linear(4, 3), relu(), nn.Linear(3, 3), relu(), nn.Linear(3, 2))
    assert _plan(mlp) == ["dense_stack3"]
    # a single Linear + activation is a dense op; a lone Linear stays itself
    assert _plan(nn.Sequential(nn.Linear(4, 3), relu())) == ["dense"]
    assert _plan(nn.Sequential(nn.Linear(4, 3))) == ["Linear"]
    # six layers: four, then two
    deep = [m for _ in range(6) for m in (nn.Linear(4, 4), nn.Tanh())]
    assert _plan(nn.Sequential(*deep)) == ["dense_stack4", "dense_stack2"]
    # a layer that is not fusable (Softmax, a Linear without bias) ends the run
    no_bias = nn.Linear(3, 3, bias=False)
    model = nn.Sequential(nn.Linear(4, 3), relu(), no_bias, nn.Linear(3, 2), nn.Softmax())
    assert _plan(model) == ["dense", "Linear", "Linear", "Softmax"]


def test_sizes_that_do_not_chain_get_the_layers_own_error():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(5, 2), nn.ReLU())
    with pytest.raises(ValueError, match=r"Linear\(5, 2\) expects 5 input features"):
        model(np.ones((2, 4), dtype=np.float32))


def test_a_layer_changed_after_planning_runs_unfused_with_its_own_checks():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.Sigmoid())
    x = np.ones((2, 4), dtype=np.float32)
    model(x)
    model[2].bias = None  # no bias now: this call cannot use the stack op
    out = model(x)
    assert out.node.op.name == "sigmoid"
    with fusion(False):
        assert np.array_equal(out.data, model(x).data)
    model[2].weight.data = model[2].weight.data.astype(np.float64)
    with pytest.raises(TypeError, match="float64 weights but got float32 input"):
        model(x)


def test_a_pickled_or_copied_model_plans_again():
    import copy
    import pickle

    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    x = np.ones((2, 2), dtype=np.float32)
    out = model(x).data
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert np.array_equal(clone(x).data, out)
        clone[0].weight.data[...] = 0  # the clone's plan runs the clone's layers
        assert np.array_equal(model(x).data, out)


def test_bce_after_fused_sigmoid_is_computed_from_logits():
    model = nn.Sequential(nn.Linear(1, 1, dtype=np.float64))
    model[0].weight.data[...] = 1000.0
    model.append(nn.Sigmoid())
    # probabilities round to exactly 1 and 0; the loss is still exact: log(1 + e^-1000) ~ 0 and 1000
    with np.errstate(all="raise"):
        loss = nn.BCELoss(reduction="sum")(
            model(np.array([[1.0], [-1.0]])), np.array([[0.0], [0.0]])
        )
    assert loss.item() == pytest.approx(1000.0 + model[0].bias.item())


def test_bce_after_a_fused_run_ending_in_sigmoid_is_computed_from_logits():
    model = nn.Sequential(nn.Linear(1, 1, dtype=np.float64), nn.ReLU())
    model.append(nn.Linear(1, 1, dtype=np.float64))
    model.append(nn.Sigmoid())
    model[0].weight.data[...] = 1.0
    model[0].bias.data[...] = 0.0
    model[2].weight.data[...] = 1000.0
    x = np.array([[1.0], [2.0]])
    assert model(x).node.op.name == "dense_stack2"
    # probabilities round to exactly 1; the loss is still exact: 1000 x + b for target 0
    with np.errstate(all="raise"):
        loss = nn.BCELoss(reduction="sum")(model(x), np.array([[0.0], [0.0]]))
        loss.backward()
    assert loss.item() == pytest.approx(3000.0 + 2 * model[2].bias.item())
    assert np.isfinite(model[2].weight.grad).all()


def test_appending_a_layer_replans_the_fusion():
    model = nn.Sequential(nn.Linear(2, 2))
    x = np.ones((1, 2), dtype=np.float32)
    assert model(x).node.op.name == "linear"
    model.append(nn.ReLU())
    assert model(x).node.op.name == "dense"
    assert cr.nn.fusion.fusion_enabled()


@pytest.mark.parametrize("depth", [2, 3, 4, 5, 9])
def test_deep_runs_fused_in_chunks_are_bit_identical_to_unfused(depth):
    rng = np.random.default_rng(depth)
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(3, 3, bias="shared" if i % 2 else True, rng=rng))
        if i % 3 != 2:  # some layers without an activation, inside the runs too
            layers.append([nn.Tanh, nn.ReLU, lambda: nn.LeakyReLU(0.2)][i % 3]())
    model = nn.Sequential(*layers)
    x = rng.normal(size=(4, 3)).astype(np.float32)
    y = rng.normal(size=(4, 3)).astype(np.float32)
    out_f, loss_f, grads_f = _run(model, x, y, nn.MSELoss(), fused=True)
    out_u, loss_u, grads_u = _run(model, x, y, nn.MSELoss(), fused=False)
    assert np.array_equal(out_f.data, out_u.data) and loss_f.item() == loss_u.item()
    for name in grads_u:
        assert np.array_equal(grads_f[name], grads_u[name]), name
