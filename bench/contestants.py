"""The contestants of the benchmarks: one training epoch (or N steps) each.

Every contestant exposes ``setup(...)`` returning a callable that runs the
measured work once, so the driver can alternate contestants in one process.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr

Runner = Callable[[], None]


# -- 1. the large MLP: 784-256-256-10, ReLU, softmax cross-entropy, SGD -----------------
def mlp_sizes(width: int) -> list[int]:
    return [784, width, width, 10]


def mlp_layers(width: int, linear: Callable[[int, int], Any], relu: Callable[[], Any]) -> list[Any]:
    """Linear layers of the sizes above with a ReLU between each two, in any library."""
    sizes = mlp_sizes(width)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(relu())
    return layers


def chainrule_mlp(X: np.ndarray, y: np.ndarray, batch: int, lr: float, width: int = 256) -> Runner:
    cr.manual_seed(0)
    model = cr.nn.Sequential(*mlp_layers(width, cr.nn.Linear, cr.nn.ReLU))
    loss_fn = cr.nn.CrossEntropyLoss()
    optimizer = cr.optim.SGD(model.parameters(), lr=lr)
    return chainrule_epoch(model, loss_fn, optimizer, X, y, batch)


def chainrule_epoch(
    model: Any, loss_fn: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, batch: int
) -> Runner:
    """One epoch of the usual PyTorch-style loop over ``X`` in order, in batches."""

    def epoch() -> None:
        for start in range(0, len(X), batch):
            xb, yb = X[start : start + batch], y[start : start + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()

    return epoch


def numpy_mlp_weights(width: int = 256) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The NumPy references' weights and biases, float32."""
    rng = np.random.default_rng(0)
    sizes = mlp_sizes(width)
    Ws = [
        (rng.uniform(-1, 1, (a, b)) / np.sqrt(a)).astype(np.float32)
        for a, b in zip(sizes, sizes[1:])
    ]
    return Ws, [np.zeros(b, np.float32) for b in sizes[1:]]


def numpy_cross_entropy_delta(z: np.ndarray, yb: np.ndarray) -> np.ndarray:
    """The mean softmax cross-entropy of logits ``z`` for labels ``yb`` (computed, as a
    training loop does) and its gradient dE/dZ = (P - Y) / N, written directly."""
    n = len(z)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, yb])  # noqa: F841  (as a loop does)
    p = e / total
    p[rows, yb] -= 1
    return p / n


def numpy_mlp_deltas(
    Ws: list[np.ndarray], bs: list[np.ndarray], xb: np.ndarray, yb: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward, loss and backward of the 3-layer ReLU network written directly with @:
    (layer input, dE/dZ) for each layer, last layer first."""
    z1 = xb @ Ws[0] + bs[0]
    h1 = np.maximum(z1, 0)
    z2 = h1 @ Ws[1] + bs[1]
    h2 = np.maximum(z2, 0)
    z3 = h2 @ Ws[2] + bs[2]
    d3 = numpy_cross_entropy_delta(z3, yb)
    d2 = (d3 @ Ws[2].T) * (z2 > 0)
    d1 = (d2 @ Ws[1].T) * (z1 > 0)
    return [(h2, d3), (h1, d2), (xb, d1)]


def numpy_mlp(X: np.ndarray, y: np.ndarray, batch: int, lr: float, width: int = 256) -> Runner:
    """The same maths written directly with @: the floor a framework can reach."""
    Ws, bs = numpy_mlp_weights(width)

    def epoch() -> None:
        for start in range(0, len(X), batch):
            deltas = numpy_mlp_deltas(Ws, bs, X[start : start + batch], y[start : start + batch])
            for W, b, (h, d) in zip(Ws[::-1], bs[::-1], deltas):
                W -= lr * (h.T @ d)
                b -= lr * d.sum(axis=0)

    return epoch


def matmul_floor(X: np.ndarray, y: np.ndarray, batch: int, lr: float, width: int = 256) -> Runner:
    """The epoch's matrix products alone: the floor no contestant can go below.

    Per batch the eight products of the other contestants, with their shapes, dtype and
    operand layouts (the transposes are views, as in the NumPy reference): forward
    X @ W1, H1 @ W2, H2 @ W3; backward H2^T @ D3, D3 @ W3^T, H1^T @ D2, D2 @ W2^T,
    X^T @ D1. Nothing else: every result goes into a buffer made once per batch size,
    and the operands are fixed random arrays (the values do not change a product's cost).
    """
    rng = np.random.default_rng(0)
    sizes = mlp_sizes(width)
    Ws = [
        (rng.normal(size=(a, b)) / np.sqrt(a)).astype(np.float32)
        for a, b in zip(sizes, sizes[1:])
    ]
    buffers: dict[int, dict[str, np.ndarray]] = {}

    def arrays(n: int) -> dict[str, np.ndarray]:
        made = buffers.get(n)
        if made is None:
            shapes = {"h1": width, "h2": width, "z3": sizes[3], "d3": sizes[3]}
            shapes |= {"g2": width, "d2": width, "g1": width, "d1": width}
            made = {k: rng.normal(size=(n, m)).astype(np.float32) for k, m in shapes.items()}
            made |= {f"gw{i}": np.empty_like(W) for i, W in enumerate(Ws)}
            buffers[n] = made
        return made

    def epoch() -> None:
        matmul = np.matmul
        W1, W2, W3 = Ws  # noqa: N806
        for start in range(0, len(X), batch):
            xb = X[start : start + batch]
            a = arrays(len(xb))
            matmul(xb, W1, out=a["h1"])
            matmul(a["h1"], W2, out=a["h2"])
            matmul(a["h2"], W3, out=a["z3"])
            matmul(a["h2"].T, a["d3"], out=a["gw2"])
            matmul(a["d3"], W3.T, out=a["g2"])
            matmul(a["h1"].T, a["d2"], out=a["gw1"])
            matmul(a["d2"], W2.T, out=a["g1"])
            matmul(xb.T, a["d1"], out=a["gw0"])

    return epoch


def torch_mlp(
    X: np.ndarray, y: np.ndarray, batch: int, lr: float, width: int = 256
) -> Runner | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(*mlp_layers(width, torch.nn.Linear, torch.nn.ReLU))
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return torch_epoch(torch, model, loss_fn, optimizer, X, y, batch)


def torch_epoch(
    torch: Any, model: Any, loss_fn: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, batch: int
) -> Runner:
    """One epoch of PyTorch's usual loop over ``X`` in order, in batches."""
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))

    def epoch() -> None:
        for start in range(0, len(Xt), batch):
            optimizer.zero_grad()
            loss = loss_fn(model(Xt[start : start + batch]), yt[start : start + batch])
            loss.backward()
            optimizer.step()

    return epoch


def sklearn_mlp(
    X: np.ndarray, y: np.ndarray, batch: int, lr: float, width: int = 256
) -> Runner | None:
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None

    def epoch() -> None:
        clf = MLPClassifier(
            hidden_layer_sizes=(width, width),
            solver="sgd",
            momentum=0.0,
            nesterovs_momentum=False,
            batch_size=batch,
            learning_rate_init=lr,
            max_iter=1,
            alpha=0.0,
            shuffle=False,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    return epoch


# -- 2. the tiny textbook network: [4, 5, 1], sigmoid, E = 1/2 sum (Y - O)^2 ------------
TINY_LR = 0.5


def tiny_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (6, 4)), rng.uniform(0.1, 0.9, (6, 1))


def chainrule_tiny_model() -> tuple[Any, Any]:
    """The tiny network and its loss: U[0, 1) weights, shared biases, float64."""
    init = cr.init.uniform(0, 1)
    model = cr.nn.Sequential(
        cr.nn.Linear(4, 5, bias="shared", init=init, dtype=np.float64, rng=0),
        cr.nn.Sigmoid(),
        cr.nn.Linear(5, 1, bias="shared", init=init, dtype=np.float64, rng=1),
        cr.nn.Sigmoid(),
    )
    return model, cr.nn.MSELoss(reduction="sum", half=True)


def chainrule_tiny(steps: int) -> Runner:
    X, y = tiny_data()
    model, loss_fn = chainrule_tiny_model()
    optimizer = cr.optim.SGD(model.parameters(), lr=TINY_LR)
    return chainrule_steps(model, loss_fn, optimizer, X, y, steps)


def chainrule_steps(
    model: Any, loss_fn: Any, optimizer: Any, X: np.ndarray, y: np.ndarray, steps: int
) -> Runner:
    """``steps`` full-batch steps of the usual PyTorch-style loop."""

    def run() -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()

    return run


def numpy_tiny_weights() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W1, W2 and the two shared biases of the hand-written tiny network."""
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (4, 5)), rng.uniform(0, 1, (5, 1)), np.zeros(2)


def numpy_tiny_deltas(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray, b: np.ndarray  # noqa: N803
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tiny network's forward pass, loss and dE/dZ by hand: (hidden output, dE/dZ1, dE/dZ2)."""
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b[0])))
    o = 1.0 / (1.0 + np.exp(-(h @ W2 + b[1])))
    error = o - y
    loss = 0.5 * np.vdot(error, error)  # noqa: F841  (computed, as a training loop does)
    d2 = error * o * (1.0 - o)
    d1 = (d2 @ W2.T) * h * (1.0 - h)
    return h, d1, d2


def numpy_tiny(steps: int) -> Runner:
    X, y = tiny_data()
    W1, W2, b = numpy_tiny_weights()

    def run() -> None:
        nonlocal W1, W2  # updated in place
        for _ in range(steps):
            h, d1, d2 = numpy_tiny_deltas(X, y, W1, W2, b)
            W2 -= TINY_LR * (h.T @ d2)
            W1 -= TINY_LR * (X.T @ d1)
            b[1] -= TINY_LR * d2.sum()
            b[0] -= TINY_LR * d1.sum()

    return run


def torch_tiny(steps: int) -> Runner | None:
    try:
        import torch
    except ImportError:
        return None
    model = torch_tiny_model(torch)
    return torch_tiny_steps(torch, model, torch.optim.SGD(model.parameters(), lr=TINY_LR), steps)


def torch_tiny_model(torch: Any) -> Any:
    """The tiny network in PyTorch, float64 (its own default initialisation)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 5), torch.nn.Sigmoid(), torch.nn.Linear(5, 1), torch.nn.Sigmoid()
    ).double()


def torch_tiny_steps(torch: Any, model: Any, optimizer: Any, steps: int) -> Runner:
    """``steps`` full-batch steps of the tiny network in PyTorch, E = 1/2 sum (Y - O)^2."""
    X, y = (torch.from_numpy(a) for a in tiny_data())

    def run() -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = 0.5 * ((model(X) - y) ** 2).sum()
            loss.backward()
            optimizer.step()

    return run


def sklearn_tiny(steps: int) -> Runner | None:
    """scikit-learn has no sigmoid output for regression: identity output, logistic hidden."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return None
    X, y = tiny_data()

    def run() -> None:
        reg = MLPRegressor(
            hidden_layer_sizes=(5,),
            activation="logistic",
            solver="sgd",
            momentum=0.0,
            nesterovs_momentum=False,
            batch_size=6,
            learning_rate_init=TINY_LR,
            max_iter=steps,
            alpha=0.0,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=steps + 1,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit(X, y.ravel())

    return run
