"""What the commands say about a model's scores, its baseline and its preprocessing.

Shared by ``train``, ``evaluate``, ``summary`` and ``explain --model``, so that every
command reports errors in the target's own units and describes the standardisation in
the same words. A regression network is trained on a standardised target; its scores
are reported only after predictions are mapped back, so ``train`` and ``evaluate``
print numbers that can be compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.train import metrics


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Mean squared error, mean absolute error and R^2 of predictions in target units."""
    return {
        "mse": metrics.mean_squared_error(y_true, y_pred),
        "mae": metrics.mean_absolute_error(y_true, y_pred),
        "r2": metrics.r2_score(y_true, y_pred),
    }


def format_scores(scores: dict[str, float]) -> str:
    """``mse 3012.4  mae 44.1  r2 0.4700``: errors to 6 significant digits, ratios to 4 places."""
    return "  ".join(
        f"{name} {value:.4f}" if name in ("r2", "accuracy") else f"{name} {value:.6g}"
        for name, value in scores.items()
    )


def training_mean(prep: Any, y_true: np.ndarray) -> tuple[float, str]:
    """The regression baseline: the training target's mean, and where it comes from.

    The target scaler was fitted on the training split, so its mean is that split's mean.
    A model file without one (saved by the library without a target scaler) gives no
    training mean; the mean of ``y_true`` itself stands in and the text says so.
    """
    scaler = prep.target_scaler
    if scaler is not None and len(scaler.mean_) == 1:
        return float(scaler.mean_[0]), "always predicting the training mean"
    return float(np.mean(y_true)), (
        "always predicting the mean of this file (the model file does not store the "
        "training mean)"
    )


def majority_baseline(prep: Any, codes: np.ndarray) -> tuple[int, str]:
    """Correct answers of always predicting the training split's most frequent class.

    Files saved without ``class_counts`` use the most frequent class of ``codes``, and the
    text says so.
    """
    counts = prep.class_counts
    if counts:
        majority = int(np.argmax(counts))
        where = "the most frequent training class"
    else:
        majority = int(np.bincount(codes, minlength=len(prep.classes)).argmax())
        where = "the most frequent class of this file (the model file stores no class counts)"
    correct = int((codes == majority).sum())
    return correct, f"always predicting {where}, {prep.classes[majority]}"


def standardisation_lines(prep: Any) -> list[str]:
    """How the model file turns raw values into network values and back."""
    lines = []
    if prep.scaler is not None:
        lines.append(
            "features standardised: yes, the network sees (value - mean) / sd, "
            "with the training split's mean and sd of each column"
        )
    else:
        lines.append("features standardised: no, the network sees the values as they are")
    scaler = prep.target_scaler
    target = repr(prep.target_name) if prep.target_name else "the target"
    if scaler is not None and len(scaler.mean_) == 1:
        lines.append(
            f"target standardised: yes, {target} likewise (mean {float(scaler.mean_[0]):.6g}, "
            f"sd {float(scaler.scale_[0]):.6g}); predictions are mapped back to its units, "
            "and errors (mse, mae) are reported in them"
        )
    elif prep.task == "regression":
        lines.append(f"target standardised: no, {target} is predicted as it is")
    return lines


def row_note(
    prep: Any,
    where: str,
    names: list[str],
    raw: np.ndarray,
    seen: np.ndarray,
    target: tuple[str, Any, float | None],
) -> str:
    """One paragraph that puts a row's raw values beside the values the network sees.

    ``target`` is (column, raw value, standardised value or None for a class label).
    """
    how = (
        "the model file standardises the features with the training split's mean and sd, "
        "so the network sees (value - mean) / sd"
        if prep.scaler is not None
        else "the model file uses the features as they are"
    )
    features = ", ".join(
        f"{name} {float(value):.6g} \N{RIGHTWARDS ARROW} {float(scaled):.4g}"
        for name, value, scaled in zip(names, raw, seen, strict=True)
    )
    column, value, scaled_target = target
    if scaled_target is None:
        target_text = f"the target {column} is the class {value}"
    elif prep.target_scaler is not None:
        mean, sd = float(prep.target_scaler.mean_[0]), float(prep.target_scaler.scale_[0])
        target_text = (
            f"the target is standardised too (mean {mean:.6g}, sd {sd:.6g}): {column} "
            f"{float(value):.6g} \N{RIGHTWARDS ARROW} {scaled_target:.4g}"
        )
    else:
        target_text = f"the target {column} is {float(value):.6g}, used as it is"
    return f"{where}: {how}; raw \N{RIGHTWARDS ARROW} seen: {features}; {target_text}."
