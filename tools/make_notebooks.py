"""Write the notebooks in notebooks/ from the cells below, without outputs.

The notebooks are committed as this script writes them (no outputs, no execution
counts); edit the cells here and run ``python tools/make_notebooks.py``, or edit a
notebook in Jupyter and clear its outputs before committing (tests/test_notebooks.py
checks both: that they run, and that they hold no outputs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent / "notebooks"

Cell = tuple[str, str]  # ("md" or "py", source)

SOFTMAX: list[Cell] = [
    ("md", """# A softmax classifier, step by step

One step of gradient descent through a 2-3-2 network (sigmoid hidden layer, softmax
output, cross-entropy loss), explained by chainrule with its own numbers. Change the
data, the weights or the learning rate and run the notebook again: the explanation
follows."""),
    ("py", """import numpy as np
import chainrule as cr
from chainrule import nn

rng = np.random.default_rng(0)
model = nn.Sequential(
    nn.Linear(2, 3, dtype=np.float64, rng=rng), nn.Sigmoid(),
    nn.Linear(3, 2, dtype=np.float64, rng=rng), nn.Softmax(),
)
X = np.array([[0.5, 0.1]])
y = np.array([1])
model"""),
    ("md", """The model displays itself as a table of its layers. Now explain one step: the
explanation displays itself as its full report, with the forward pass, the loss, every
stage of the backward pass with its formula and numbers, the scalar view, the update,
the gates and the computation graph."""),
    ("py", """step = cr.explain(model, X, y, nn.CrossEntropyLoss(from_probs=True), lr=0.02)
step"""),
    ("md", """## The softmax and cross-entropy shortcut

The textbook route multiplies `dE/dO = -Y / O` by the softmax's Jacobian
`diag(O) - O^T O`. Do it by hand with NumPy and compare with the shortcut `O - Y`:"""),
    ("py", """O = model(X).data
Y = np.eye(2)[y]
dE_dO = -Y / O
jacobian = np.diag(O[0]) - O.T @ O
textbook = dE_dO @ jacobian
print("textbook route:", textbook)
print("O - Y:         ", O - Y)
assert np.allclose(textbook, O - Y)"""),
    ("md", """## The gradients are backward()'s

`step.gradients` holds what the real backward pass computed; the explanation checked
every stage against it."""),
    ("py", """for name, grad in step.gradients.items():
    print(name, grad.round(5).tolist())
print(f"loss {step.loss:.5f} -> {step.loss_after:.5f} after the step")"""),
    ("md", """## The short version

`brief=True` keeps the numbers and drops the derivations."""),
    ("py", """print(step.to_text(brief=True))"""),
]

HOUSES: list[Cell] = [
    ("md", """# House prices: from the first step to the trained network

A [4, 5, 1] sigmoid network predicts six house prices from four features. This notebook
explains its first training step, trains it, and animates gradient descent."""),
    ("py", """import numpy as np
import chainrule as cr
from chainrule import nn
from chainrule.explain.examples import house_prices_setup

model, X, Y, loss_fn = house_prices_setup()   # weights from U[0, 1), a shared bias per layer
model"""),
    ("md", """## The first step

Read the section *What to notice* first: the raw features drive most hidden sigmoids
into saturation, and the first layer's gradient vanishes."""),
    ("py", """step = cr.explain(model, X, Y, loss_fn, lr=0.5)
for finding in step.diagnostics:
    print(f"{finding.kind} ({finding.where}): {finding.message}")"""),
    ("py", """step"""),
    ("md", """## Training

Full-batch gradient descent, the same step repeated. `cr.fit` returns the history, which
displays itself as a table and a loss curve."""),
    ("py", """trained = house_prices_setup()[0]
history = cr.fit(trained, X, Y, loss=loss_fn, optimizer=cr.optim.SGD(trained.parameters(), lr=0.5),
                 epochs=300, batch_size=None, shuffle=False, verbose=0)
history"""),
    ("py", """with cr.no_grad():
    predicted = trained(X).data
np.column_stack([Y, predicted]).round(3)   # price, prediction"""),
    ("md", """## The animation

Gradient descent on the loss surface over two weights of the output layer, with the path
they took and the loss curve."""),
    ("py", """from IPython.display import Image
from chainrule.viz import animate_descent

path = animate_descent(model, X, Y, loss_fn, "descent.gif", lr=0.5, epochs=300,
                       weights=("Who[1,0]", "Who[2,0]"), frames=20, grid=20)
Image(filename=str(path))"""),
]

VANISHING: list[Cell] = [
    ("md", """# Vanishing gradients: sigmoid, tanh and ReLU

The sigmoid's slope is at most 0.25, so on its way back through a deep sigmoid network
the gradient shrinks at every layer, and the first layers hardly learn. This notebook
measures it, then lets an explanation diagnose it."""),
    ("py", """import numpy as np
import chainrule as cr
from chainrule import nn
from chainrule.viz import gradient_flow

flow = gradient_flow(activations=("sigmoid", "tanh", "relu"), depth=8, width=16)
print(flow.to_text())"""),
    ("py", """from IPython.display import Image

Image(filename=str(flow.plot("vanishing.png")))"""),
    ("md", """## What an explanation notices

Explain one step of a deep sigmoid network and of the same network with ReLU: the first
section of the explanation, *What to notice*, names the layers whose gradient
vanishes."""),
    ("py", """def deep(activation, depth=6, width=8):
    rng = np.random.default_rng(0)
    layers = []
    for k in range(depth):
        layers += [nn.Linear(width if k else 4, width, dtype=np.float64, rng=rng), activation()]
    return nn.Sequential(*layers, nn.Linear(width, 1, dtype=np.float64, rng=rng))

X = np.random.default_rng(1).normal(size=(16, 4))
Y = X.sum(axis=1, keepdims=True)
for activation in (nn.Sigmoid, nn.Tanh, nn.ReLU):
    step = cr.explain(deep(activation), X, Y, nn.MSELoss(), lr=0.01)
    print(f"{activation.__name__}: {len(step.diagnostics)} findings")
    for finding in step.diagnostics:
        print(f"  {finding.kind} ({finding.where}): {finding.message}")"""),
    ("md", """The gradient of each layer's weights, as root mean square, from the output down,
for the sigmoid network:"""),
    ("py", """step = cr.explain(deep(nn.Sigmoid), X, Y, nn.MSELoss(), lr=0.01)
for name, grad in reversed(list(step.gradients.items())):
    if name.endswith("weight"):
        print(f"{name:>9}: {np.sqrt(np.mean(grad ** 2)):.2e}")"""),
    ("md", """The brief explanation of that step: the error signals shrink from layer to layer."""),
    ("py", """print(step.to_text(brief=True))"""),
]

DIGITS: list[Cell] = [
    ("md", """# Training on real data: handwritten digits

1,797 images of 8x8 pixels, ten classes. First with the scikit-learn estimator, then with
`cr.fit` and its history, curves and a confusion matrix."""),
    ("py", """import numpy as np
import chainrule as cr
from chainrule import nn

digits = cr.data.load("digits")
X_train, X_test, y_train, y_test = cr.data.train_test_split(
    digits.X, digits.y, test_size=0.25, stratify=digits.y, rng=0)
scaler = cr.data.Standardizer().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
X_train.shape, X_test.shape"""),
    ("md", """## With the scikit-learn estimator"""),
    ("py", """from chainrule.sklearn import MLPClassifier

clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=20, random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.3f}")
clf.model_"""),
    ("md", """## With `cr.fit`

The same network written out, trained with a validation split, early stopping and a
learning-rate schedule. The history shows itself as a table and a curve."""),
    ("py", """from chainrule.train import CosineAnnealingLR, EarlyStopping

model = nn.Sequential(nn.Linear(64, 64, rng=0), nn.ReLU(), nn.Linear(64, 10, rng=1))
history = cr.fit(
    model, X_train, y_train, loss="cross-entropy",
    optimizer=cr.optim.Adam(model.parameters(), lr=0.003),
    epochs=25, batch_size=32, validation_split=0.2, metrics=["accuracy"], verbose=0, rng=0,
    callbacks=[EarlyStopping(patience=5, restore_best_weights=True), CosineAnnealingLR(T_max=25)],
)
history"""),
    ("md", """The same curves with matplotlib, one panel per metric:"""),
    ("py", """from chainrule.viz import plot_history

figure = plot_history(history)"""),
    ("md", """## Scores and mistakes"""),
    ("py", """with cr.no_grad():
    predicted = model(X_test.astype(np.float32)).data.argmax(axis=1)
print(f"test accuracy {cr.train.accuracy(y_test, predicted):.3f}")
cr.train.confusion_matrix(y_test, predicted)"""),
    ("md", """## Why did it predict that?

Explain one training step on a few test images: which weights the mistakes pull on."""),
    ("py", """wrong = np.flatnonzero(predicted != y_test)[:3]
step = cr.explain(model, X_test[wrong], y_test[wrong], nn.CrossEntropyLoss(), lr=0.003)
print(step.to_text(brief=True)[:2500])"""),
]

NOTEBOOKS = {
    "softmax-classifier.ipynb": SOFTMAX,
    "house-prices.ipynb": HOUSES,
    "vanishing-gradients.ipynb": VANISHING,
    "digits.ipynb": DIGITS,
}


def notebook(cells: list[Cell]) -> nbformat.NotebookNode:
    book = new_notebook(
        cells=[new_markdown_cell(s) if kind == "md" else new_code_cell(s) for kind, s in cells]
    )
    book.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    book.metadata["language_info"] = {"name": "python"}
    for cell in book.cells:
        cell.pop("id", None)  # ids change on every write; the notebooks stay diff-stable
    book.nbformat_minor = 4
    return book


def main() -> int:
    ROOT.mkdir(exist_ok=True)
    for name, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), ROOT / name)
        print(f"wrote notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
