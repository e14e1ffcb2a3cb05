"""The ``predict``, ``evaluate`` and ``summary`` commands: using a saved model file.

Part of :mod:`chainrule.cli_train`, which registers them. Outputs are checked before
any work (:mod:`chainrule._cli_files`) and written only after every other check has
passed, and atomically.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import _cli_scores

#: How a cell that a spreadsheet would run as a formula can start (OWASP's list for CSV
#: injection): such text cells are written with a leading ' so they show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def predict(args: argparse.Namespace) -> int:
    from chainrule.io import load_model_file

    loaded = load_model_file(args.model)
    prep = loaded.preprocessing
    # A target column in the file is left unread: it may be blank in data to predict.
    X, _ = _read(
        args.data,
        loaded,
        None,
        ignore=[prep.target_name] if prep.target_name else [],
        max_bytes=args.max_csv_size,
    )
    outputs = _outputs(loaded, X, args.data)
    columns: dict[str, list[Any]] = {}
    if prep.task == "classification" and prep.classes:
        probabilities = _softmax(outputs)
        columns[prep.target_name or "prediction"] = [
            _cell(prep.classes[i]) for i in probabilities.argmax(1)
        ]
        for j, label in enumerate(prep.classes):
            columns[f"probability_{label}"] = [f"{p:.6g}" for p in probabilities[:, j]]
    else:
        values = _unscale(prep, outputs)
        names = (
            [prep.target_name or "prediction"]
            if values.shape[1] == 1
            else [f"output_{j}" for j in range(values.shape[1])]
        )
        for j, name in enumerate(names):
            columns[name] = [f"{v:.6g}" for v in values[:, j]]
    rows = [[_cell(name) for name in columns], *zip(*columns.values(), strict=True)]
    text = "".join(",".join(_quoted(str(cell)) for cell in row) + "\n" for row in rows)
    if args.out:
        from chainrule.io import atomic_write

        atomic_write(args.out, lambda handle: handle.write(text.encode("utf-8")))
        print(f"wrote {len(X)} predictions to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from chainrule.data import encode_labels
    from chainrule.io import load_model_file
    from chainrule.train import metrics

    loaded = load_model_file(args.model)
    prep = loaded.preprocessing
    target = args.target or prep.target_name
    if target is None:
        raise ValueError("the model file does not name its target column; pass --target COLUMN")
    X, y = _read(args.data, loaded, target, max_bytes=args.max_csv_size)
    outputs = _outputs(loaded, X, args.data)
    print(f"{args.data}: {len(X)} rows")
    if prep.task == "classification" and prep.classes:
        if y.dtype.kind in "US" and any(not isinstance(c, str) for c in prep.classes):
            raise ValueError(
                f"{args.data}: column {target!r} holds text but the model's classes are numbers"
            )
        known = np.array(prep.classes)
        codes, _ = encode_labels(y, classes=known)
        probabilities = _softmax(outputs)
        predicted = probabilities.argmax(axis=1)
        picked = probabilities[np.arange(len(codes)), codes]
        log_loss = float(-np.mean(np.log(np.clip(picked, 1e-15, 1))))
        correct = int((predicted == codes).sum())
        base_correct, base_what = _cli_scores.majority_baseline(prep, codes)
        print(
            f"model:     accuracy {correct / len(codes):.4f} ({correct}/{len(codes)})  "
            f"log loss {log_loss:.4f}"
        )
        print(
            f"baseline:  accuracy {base_correct / len(codes):.4f} ({base_correct}/{len(codes)})  "
            f"({base_what})"
        )
        matrix = metrics.confusion_matrix(codes, predicted, num_classes=len(known))
        labels = [str(c) for c in prep.classes]
        corner = "true \\ predicted"
        first = max(len(label) for label in [*labels, corner]) + 2
        width = max(len(str(matrix.max())), *map(len, labels)) + 2
        print("confusion matrix (rows: true class, columns: predicted class)")
        print(f"{corner:<{first}}" + "".join(f"{label:>{width}}" for label in labels))
        for label, row in zip(labels, matrix, strict=True):
            print(f"{label:<{first}}" + "".join(f"{count:>{width}}" for count in row))
        return 0
    if y.dtype.kind in "US":
        raise ValueError(
            f"{args.data}: column {target!r} holds text, but the model predicts numbers"
        )
    predicted_values = _unscale(prep, outputs)
    if predicted_values.shape[1] != 1:
        raise ValueError("evaluate supports models with one output column")
    pred = predicted_values[:, 0]
    y = y.astype(np.float64)
    mean, base_what = _cli_scores.training_mean(prep, y)
    constant = np.full(len(y), mean)
    with np.errstate(all="ignore"):
        scores = _cli_scores.regression_scores(y, pred)
        baseline = _cli_scores.regression_scores(y, constant)
    for guesses, what, numbers in ((pred, "prediction", scores), (constant, "baseline", baseline)):
        if not np.isfinite(list(numbers.values())).all():
            row = int(np.argmax(np.abs(y - guesses)))
            raise ValueError(
                f"{args.data}: row {row + 1}: the {what} {guesses[row]:.6g} is so far from the "
                f"target {y[row]:.6g} that the squared error overflows; no score can be computed"
            )
    print(f"model:     {_cli_scores.format_scores(scores)}")
    print(f"baseline:  {_cli_scores.format_scores(baseline)}  ({base_what}, {mean:.6g})")
    print(
        f"(mse and mae in the units of {target!r}; "
        "r2: 1 is a perfect fit, 0 no better than a constant)"
    )
    return 0


def summary(args: argparse.Namespace) -> int:
    from chainrule.io import load_model_file

    loaded = load_model_file(args.model)
    prep = loaded.preprocessing
    print(f"{args.model} (chainrule model file, format version {loaded.version})")
    print(loaded.model.summary())
    if prep.task:
        classes = (
            f" ({len(prep.classes)} classes: {', '.join(map(str, prep.classes))})"
            if prep.classes
            else ""
        )
        print(f"task: {prep.task}{classes}")
    if prep.target_name:
        print(f"target: {prep.target_name}")
    if prep.feature_names:
        print(f"features ({len(prep.feature_names)}): {', '.join(prep.feature_names)}")
    for line in _cli_scores.standardisation_lines(prep):
        print(line)
    return 0


def _read(
    path: str, loaded: Any, target: str | None, ignore: Sequence[str] = (), *, max_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    from chainrule._show import names
    from chainrule.data.csv import COMMAND_LINE_HINT, read_table

    # A predict run leaves the model's target column out already: the fix is in the file.
    hint = COMMAND_LINE_HINT
    if ignore:
        hint = f"the target column {ignore[0]!r} is left out already; {hint}"
    expected_names = loaded.preprocessing.feature_names
    data = read_table(
        path, target, None, expected_names, ignore, hint, max_bytes=max_bytes
    )
    first = next((m for m in loaded.model.modules() if hasattr(m, "in_features")), None)
    expected = getattr(first, "in_features", data.n_features)
    if data.n_features != expected:
        raise ValueError(
            f"{path}: the model reads {expected} features but the file has {data.n_features} "
            f"feature columns ({names(data.feature_names)})"
        )
    y = np.empty(0) if data.y is None else data.y
    return data.X, y


def _outputs(loaded: Any, X: np.ndarray, source: str) -> np.ndarray:
    """The model's outputs for the rows of ``X`` (read from ``source``), checked finite.

    Finite weights can still overflow on inputs far from the training data; a row whose
    scaled features, outputs or (regression) unscaled predictions are not finite is named
    instead of printing ``nan`` or ``inf``.
    """
    from chainrule.autograd import no_grad

    model = loaded.model
    prep = loaded.preprocessing
    with no_grad(), np.errstate(all="ignore"):
        scaled = prep.transform(X).astype(model.dtype)
        _check_rows(scaled, source, "its feature values overflow when scaled for the model")
        outputs = np.asarray(model(scaled).data, dtype=np.float64)
        _check_rows(outputs, source, "the model's output overflows for this row's values")
        if not (prep.task == "classification" and prep.classes):
            _check_rows(
                _unscale(prep, outputs), source, "the prediction overflows when unscaled"
            )
    return outputs


def _check_rows(values: np.ndarray, source: str, problem: str) -> None:
    """Refuse output built on ``values`` if any is NaN or infinite, naming the first row
    (1-based, as the CSV messages count data rows)."""
    finite = np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{source}: row {row + 1}: {problem}; check the row for values far outside "
            "the training data"
        )


def _cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _quoted(cell: str) -> str:
    """``cell`` quoted as RFC 4180 asks when it holds a comma, a quote or a line break;
    csv.writer would leave a bare carriage return, which splits the row when read."""
    if any(mark in cell for mark in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _softmax(outputs: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # a difference beyond float64's range: exp gives 0
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _unscale(prep: Any, outputs: np.ndarray) -> np.ndarray:
    if prep.target_scaler is None:
        return outputs
    return prep.target_scaler.inverse_transform(outputs)
