"""chainrule.fit runs exactly the hand-written mini-batch loop, whatever the layout of the
data: the batches, the labels, the weights and the hooks between backward and the update."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.train import inputs


def _network(n_in: int, n_out: int) -> cr.nn.Sequential:
    return cr.nn.Sequential(
        cr.nn.Linear(n_in, 5, rng=0), cr.nn.Tanh(), cr.nn.Linear(5, n_out, rng=1)
    ).double()


def _hand_loop(model, loss_fn, X, y, w, epochs, batch_size, shuffle, seed):
    """The loop written out: a permutation per epoch, rows picked by fancy indexing,
    labels in the model's dtype, a batch of zero weights skipped."""
    optimizer = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    for _ in range(epochs):
        order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            optimizer.zero_grad()
            if w is None:
                loss = loss_fn(model(X[rows]), y[rows])
            else:
                if not w[rows].any():
                    continue
                loss = loss_fn(model(X[rows]), y[rows], sample_weight=w[rows])
            loss.backward()
            optimizer.step()


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 23),
    batch_size=st.integers(1, 9),
    shuffle=st.booleans(),
    column_major=st.booleans(),
    task=st.sampled_from(["labels", "one-hot", "regression"]),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_fit_is_the_hand_written_loop(n, batch_size, shuffle, column_major, task, weighted, seed):
    """Bit for bit: integer class labels (kept as integers), column-major features
    (copied to rows once), rows gathered with take() and sample weights make the very
    updates of the plain loop over fancy-indexed float batches."""
    data = np.random.default_rng(seed)
    X = data.normal(size=(n, 3))
    if column_major:
        X = np.asfortranarray(X)
    labels = data.integers(0, 3, n)
    if task == "labels":
        y, loss = labels, cr.nn.CrossEntropyLoss()
    elif task == "one-hot":
        y, loss = np.eye(3)[labels].astype(np.int64), cr.nn.CrossEntropyLoss()
    else:
        y, loss = data.normal(size=(n, 3)), cr.nn.MSELoss()
    w = data.choice([0.0, 0.5, 2.0], size=n) if weighted else None
    if w is not None and not w.any():
        w[0] = 1.0
    fitted, by_hand = _network(3, 3), _network(3, 3)
    cr.fit(
        fitted, X, y, loss=loss, optimizer=cr.optim.SGD(fitted.parameters(), lr=0.1, momentum=0.5),
        epochs=2, batch_size=batch_size, shuffle=shuffle, verbose=0, rng=seed, sample_weight=w,
    )
    _hand_loop(by_hand, loss, X, y, w, 2, batch_size, shuffle, seed)
    for name, value in fitted.state_dict().items():
        np.testing.assert_array_equal(value, by_hand.state_dict()[name], err_msg=name)


def test_integer_labels_stay_integers_and_float_labels_are_still_checked():
    X = np.zeros((3, 2))
    kept = inputs.targets(np.array([0, 2, 1], dtype=np.uint8), np.float32, 3, "y", labels=True)
    assert kept.dtype == np.uint8
    assert inputs.targets(np.array([0, 2, 1]), np.float32, 3, "y").dtype == np.float32
    with pytest.raises(ValueError, match="sample 1 has label 1.5"):
        inputs.targets(np.array([0.0, 1.5, 1.0]), np.float32, 3, "y", labels=True)
    with pytest.raises(ValueError, match=r"integers in \[0, 1\].*label 7"):
        cr.fit(
            _network(2, 2), X, np.array([0, 7, 1]), loss="cross-entropy", epochs=1, verbose=0
        )


class _Recorder(cr.train.Callback):
    """Notes, at each on_backward_end, the batch, whether every gradient is there and
    whether the weights are still those of before the update; then scales the gradients."""

    def __init__(self, factor: float) -> None:
        self.factor, self.calls = factor, []

    def on_train_begin(self) -> None:
        self.params = list(self.context.model.parameters())

    def on_batch_end(self, batch, logs):
        self.last = [p.data.copy() for p in self.params]

    def on_backward_end(self, batch: int) -> None:
        before = getattr(self, "last", None)
        unchanged = before is None or all(
            np.array_equal(b, p.data) for b, p in zip(before, self.params, strict=True)
        )
        self.calls.append((batch, all(p.grad is not None for p in self.params), unchanged))
        for p in self.params:
            p.grad *= self.factor


def test_on_backward_end_sees_the_gradients_before_the_update_and_may_change_them():
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = X @ np.array([[1.0], [-2.0]])
    w = np.array([1.0] * 4 + [0.0] * 4 + [1.0] * 2)  # the middle batch has no weight
    scaled, doubled_lr = _network(2, 1), _network(2, 1)
    recorder = _Recorder(2.0)
    cr.fit(
        scaled, X, y, loss="mse", optimizer=cr.optim.SGD(scaled.parameters(), lr=0.05),
        epochs=2, batch_size=4, shuffle=False, verbose=0, callbacks=[recorder], sample_weight=w,
    )
    cr.fit(
        doubled_lr, X, y, loss="mse", optimizer=cr.optim.SGD(doubled_lr.parameters(), lr=0.1),
        epochs=2, batch_size=4, shuffle=False, verbose=0, sample_weight=w,
    )
    # Batches 0 and 2 of each epoch; the batch of zero weights makes no update and no call.
    assert recorder.calls == [(0, True, True), (2, True, True)] * 2
    for name, value in scaled.state_dict().items():
        np.testing.assert_allclose(value, doubled_lr.state_dict()[name], rtol=1e-12)


def test_the_data_is_hashed_only_for_a_checkpoint(tmp_path, monkeypatch):
    """Without checkpoint_dir no pass over the data is spent on its fingerprint."""
    X, y = np.random.default_rng(0).normal(size=(8, 2)), np.arange(8) % 2
    hashed = []
    digest = inputs.digest
    monkeypatch.setattr(inputs, "digest", lambda *arrays: hashed.append(1) or digest(*arrays))
    cr.fit(_network(2, 2), X, y, loss="cross-entropy", epochs=1, verbose=0)
    assert hashed == []
    cr.fit(
        _network(2, 2), X, y, loss="cross-entropy", epochs=1, verbose=0, checkpoint_dir=tmp_path
    )
    assert hashed == [1]


# -- the lean path: fit's batches through a fused Sequential on arrays ----------------------

_ACTIVATIONS = [cr.nn.ReLU, cr.nn.Tanh, cr.nn.Sigmoid, lambda: cr.nn.LeakyReLU(0.1), None]


def _chain(sizes: list[int], between: list[int], dtype: type, seed: int) -> cr.nn.Sequential:
    """Linear layers of ``sizes``, each but the last followed by the activation
    ``between[i]`` indexes (None: no activation, so two Linear layers meet)."""
    layers: list[cr.nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(cr.nn.Linear(n_in, n_out, rng=seed + i))
        make = _ACTIVATIONS[between[i]] if i < len(sizes) - 2 else None
        if make is not None:
            layers.append(make())
    return cr.nn.Sequential(*layers).to(dtype)


def usual_runs(patch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets an entry at every call of a Sequential as a module from now on
    (a batch going the usual way; the lean path calls its ops' functions instead)."""
    runs: list[int] = []
    call = cr.nn.Sequential.__call__  # (calling a module runs its forward)
    patch.setattr(cr.nn.Sequential, "__call__", lambda self, x: runs.append(1) or call(self, x))
    return runs


def _lean_hand_loop(model, loss_fn, X, y, epochs, batch_size, seed):
    """The plain loop with Adam, a penalized loss's parts taken as fit takes them."""
    optimizer = cr.optim.Adam(model.parameters(), lr=0.05)
    penalty = inputs.penalty_of(loss_fn)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            optimizer.zero_grad()
            output = model(X[rows])
            if penalty is None:
                loss_fn(output, y[rows]).backward()
            else:
                data_term, _ = penalty.penalty_terms(output, y[rows])
                data_term.backward()
                penalty.add_gradients()
            optimizer.step()


@settings(max_examples=40, deadline=None)
@given(
    depth=st.integers(1, 6),
    between=st.lists(st.integers(0, len(_ACTIVATIONS) - 1), min_size=5, max_size=5),
    task=st.sampled_from(["labels", "regression"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    frozen=st.integers(-1, 11),
    alpha=st.sampled_from([None, 0.0, 0.5]),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_the_lean_path_is_the_hand_written_loop(
    depth, between, task, dtype, frozen, alpha, batch_size, seed
):
    """Networks of one to six Linear layers (one fused op, several, or a lone Linear),
    some parameter frozen or not, cross-entropy on integer labels or squared error, with
    or without the estimators' L2 penalty: fit runs no module (the lean path) and ends
    with the very weights of the plain loop, bit for bit."""
    from chainrule._sklearn_support import PenalizedLoss

    data = np.random.default_rng(seed)
    n = int(data.integers(1, 20))
    X = data.normal(size=(n, 3))
    sizes = [3, *data.integers(1, 5, size=depth - 1).tolist(), 3]
    if task == "labels":
        y, loss = data.integers(0, 3, n), cr.nn.CrossEntropyLoss()
    else:
        y, loss = data.normal(size=(n, 3)), cr.nn.MSELoss(half=True)
    models = [_chain(sizes, between, dtype, seed) for _ in range(2)]
    losses = []
    for model in models:
        params = list(model.parameters())
        if 0 <= frozen < len(params):
            params[frozen].requires_grad = False
        weights = [layer.weight for layer in model if isinstance(layer, cr.nn.Linear)]
        losses.append(loss if alpha is None else PenalizedLoss(loss, weights, alpha))
    fitted, by_hand = models
    with pytest.MonkeyPatch.context() as patch:
        runs = usual_runs(patch)
        cr.fit(
            fitted, X, y, loss=losses[0], optimizer=cr.optim.Adam(fitted.parameters(), lr=0.05),
            epochs=2, batch_size=batch_size, verbose=0, rng=seed,
        )
    assert runs == []  # every batch went the lean way
    targets = y if task == "labels" else y.astype(dtype)
    _lean_hand_loop(by_hand, losses[1], X.astype(dtype), targets, 2, batch_size, seed)
    for name, value in fitted.state_dict().items():
        np.testing.assert_array_equal(value, by_hand.state_dict()[name], err_msg=name)


def test_batches_the_lean_path_declines_go_the_usual_way(monkeypatch):
    """Out-of-range labels, one-hot rows, sample weights, a non-fused layer, recording
    switched off or every parameter frozen: the batches run the modules, with their
    checks and messages."""
    X = np.random.default_rng(0).normal(size=(6, 2))
    labels = np.array([0, 1, 1, 0, 1, 0])
    runs = usual_runs(monkeypatch)

    def fit(model, y, **kwargs):
        runs.clear()
        cr.fit(model, X, y, loss="cross-entropy", epochs=1, batch_size=3, verbose=0, **kwargs)
        return len(runs)

    assert fit(_network(2, 2), labels) == 0  # the lean path itself
    assert fit(_network(2, 2), np.eye(2)[labels]) == 2
    assert fit(_network(2, 2), labels, sample_weight=np.ones(6)) == 2
    softmax_last = cr.nn.Sequential(cr.nn.Linear(2, 2), cr.nn.Softmax())
    with pytest.raises(ValueError, match=r"integers in \[0, 1\].*label 2"):
        fit(_network(2, 2), np.array([0, 1, 2, 0, 1, 0]))
    assert fit(softmax_last, labels) == 2
    with pytest.raises(ValueError, match="does not require grad"), cr.no_grad():
        fit(_network(2, 2), labels)
    frozen = _network(2, 2)
    for param in frozen.parameters():
        param.requires_grad = False
    with pytest.raises(ValueError, match="does not require grad"):
        fit(frozen, labels)


@pytest.mark.parametrize("between", [cr.nn.Tanh, None])
def test_a_layer_used_twice_gets_both_gradients_on_the_lean_path(between):
    """The same Linear twice in a row: its parameters' gradients are the sums backward()
    makes, and fit's lean path adds them the same way."""

    def model() -> cr.nn.Sequential:
        shared = cr.nn.Linear(3, 3, rng=0)
        middle = [between()] if between is not None else []
        return cr.nn.Sequential(shared, *middle, shared).double()

    data = np.random.default_rng(1)
    X, y = data.normal(size=(12, 3)), data.integers(0, 3, 12)
    fitted, by_hand = model(), model()
    with pytest.MonkeyPatch.context() as patch:
        runs = usual_runs(patch)
        cr.fit(
            fitted, X, y, loss=cr.nn.CrossEntropyLoss(),
            optimizer=cr.optim.Adam(fitted.parameters(), lr=0.05), epochs=2, batch_size=5,
            verbose=0, rng=3,
        )
    assert runs == []
    _lean_hand_loop(by_hand, cr.nn.CrossEntropyLoss(), X, y, 2, 5, 3)
    for name, value in fitted.state_dict().items():
        np.testing.assert_array_equal(value, by_hand.state_dict()[name], err_msg=name)
