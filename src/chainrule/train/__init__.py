"""Training on real data: :func:`fit`, :class:`History`, callbacks, schedules and metrics.

Examples
--------
>>> import chainrule as cr
>>> from chainrule.train import EarlyStopping, CosineAnnealingLR
>>> X, y = cr.data.load("moons", n_samples=200, rng=0)
>>> model = cr.nn.Sequential(cr.nn.Linear(2, 16, rng=0), cr.nn.ReLU(), cr.nn.Linear(16, 2, rng=1))
>>> history = cr.fit(model, X, y, loss="cross-entropy", epochs=20, validation_split=0.2,
...                  metrics=["accuracy"], callbacks=[EarlyStopping(patience=5),
...                  CosineAnnealingLR(T_max=20)], verbose=0, rng=0)
>>> sorted(history.history)
['accuracy', 'loss', 'lr', 'val_accuracy', 'val_loss']
"""

from chainrule.train.callbacks import (
    Callback,
    ClipGradNorm,
    EarlyStopping,
    ModelCheckpoint,
    TrainingContext,
)
from chainrule.train.fit import TrainingDivergedError, fit
from chainrule.train.history import History
from chainrule.train.metrics import (
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from chainrule.train.schedules import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    StepLR,
)

__all__ = [
    "Callback",
    "ClipGradNorm",
    "CosineAnnealingLR",
    "EarlyStopping",
    "ExponentialLR",
    "History",
    "LRScheduler",
    "LambdaLR",
    "ModelCheckpoint",
    "StepLR",
    "TrainingDivergedError",
    "TrainingContext",
    "accuracy",
    "confusion_matrix",
    "fit",
    "mean_absolute_error",
    "mean_squared_error",
    "r2_score",
]
