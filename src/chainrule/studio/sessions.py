"""Sessions: one network, its data and its training state per open page.

A :class:`Session` holds what a learner is working on and does its work by calling
chainrule: :func:`chainrule.explain` for a step, :func:`chainrule.fit` for training,
:func:`chainrule.io.save` for the model file. :class:`Sessions` bounds their number
and forgets one left idle (see ``LIMITS``), so the server's memory stays bounded.
"""

from __future__ import annotations

import copy
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import optim
from chainrule.autograd import no_grad
from chainrule.explain import Explanation, explain
from chainrule.io import save
from chainrule.studio import views
from chainrule.studio.setups import EXAMPLES, LIMITS, SetupError, build, normalise
from chainrule.studio.sources import (
    Uploads,
    example_samples,
    upload_defaults,
    upload_samples,
)
from chainrule.train import fit


class StudioError(Exception):
    """A request the studio refuses: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# The worked examples pick the weights their one-weight view follows; the studio shows
# the same ones for their default network.
_WORKED_WEIGHTS = {
    "softmax-classifier": ["Who[2,1]", "Wih[0,2]"],
    "house-prices": ["Who[2,0]", "Wih[1,2]"],
}


class Session:
    """A learner's network, data and training state (made from a set-up)."""

    def __init__(self, key: str, setup: dict[str, Any], uploads: Uploads) -> None:
        self.key = key
        example = setup.get("example")
        if setup.get("upload") is not None:
            if example is not None:
                raise SetupError("give either example or upload (with target), not both")
            upload = uploads.get(setup["upload"])
            defaults = upload_defaults(upload, setup.get("target"))
            self.setup = normalise(setup, defaults)
            self.samples = upload_samples(upload, setup["target"], self.setup)
            self.setup.update(example=None, upload=upload.key, target=setup["target"])
        else:
            if example not in EXAMPLES:
                raise SetupError(
                    f"unknown example {example!r}; choose one of {', '.join(EXAMPLES)}, or "
                    "upload a CSV file"
                )
            self.setup = normalise(setup, EXAMPLES[example].defaults)
            self.samples = example_samples(example, self.setup["seed"], self.setup["validation"])
            self.setup.update(example=example, upload=None, target=None)
        n_features = self.samples.X_train.shape[1]
        self.model, self.loss_fn = build(self.setup, n_features, self.samples.n_outputs)
        self.initial = copy.deepcopy(self.model.state_dict())
        self.lock = threading.Lock()
        self.pause = threading.Event()
        self.running = False
        self.last_used = time.monotonic()
        self._reset_training()
        self.names = self.explain(apply=False).names  # display names, from explain itself
        for _ in range(self.setup["steps"]):
            self.explain(apply=True, measure=False)
        self.measure()

    def _reset_training(self) -> None:
        kind = optim.Adam if self.setup["optimizer"] == "adam" else optim.SGD
        self.optimizer = kind(self.model.parameters(), lr=self.setup["lr"])
        self.rng = np.random.default_rng(self.setup["seed"])
        self.epoch = 0
        self.steps = 0
        self.last: Explanation | None = None
        self.loss: float | None = None
        self.val_loss: float | None = None

    def reset(self) -> None:
        """Back to the initial weights, epoch 0."""
        self.model.load_state_dict(copy.deepcopy(self.initial))
        self._reset_training()
        self.measure()

    def measure(self, validation: bool = True) -> None:
        """The loss on every training row (and, with ``validation``, validation row) at
        the current weights: what the page's loss readout and curve show, from the first
        moment on."""
        samples = self.samples
        with no_grad():
            self.loss = float(self.loss_fn(self.model(samples.X_train), samples.y_train).item())
            if validation and samples.X_val is not None and samples.y_val is not None:
                output = self.model(samples.X_val)
                self.val_loss = float(self.loss_fn(output, samples.y_val).item())

    # -- one explained step -------------------------------------------------------------
    def step_rows(self, sample: Any = "setup") -> tuple[np.ndarray, np.ndarray]:
        """The rows an explained step uses: one sample, or all (a few) of them."""
        chosen = self.setup["sample"] if sample == "setup" else sample
        X, y = self.samples.X_train, self.samples.y_train
        if chosen is None:
            if len(X) > LIMITS["max_step_samples"]:
                raise StudioError(
                    400,
                    f"a step on all {len(X)} samples would be too long to read; pick one "
                    f"sample (0 to {len(X) - 1}) or a set of at most "
                    f"{LIMITS['max_step_samples']}",
                )
            return X, y
        if isinstance(chosen, bool) or not isinstance(chosen, int) or not 0 <= chosen < len(X):
            raise StudioError(400, f"sample must be a row from 0 to {len(X) - 1}, got {chosen!r}")
        return X[chosen : chosen + 1], y[chosen : chosen + 1]

    def explain(self, *, apply: bool, sample: Any = "setup", measure: bool = True) -> Explanation:
        """Explain one gradient-descent step from the current weights (and take it, then
        measure the loss unless ``measure`` is False: a run of steps measures once)."""
        X, y = self.step_rows(sample)
        step = explain(
            self.model,
            X,
            y,
            self.loss_fn,
            lr=self.setup["lr"],
            weights=self._worked_weights(),
            title=f"One training step of the studio's network ({self.samples.name})",
        )
        if apply:
            for key, param in self.model.named_parameters():
                param.data = step.updated[key]
            self.steps += 1
            if measure:
                self.measure()
        self.last = step
        return step

    def _worked_weights(self) -> list[str] | None:
        """The worked example's one-weight views, while its network is the example's."""
        name = self.setup["example"]
        if name not in _WORKED_WEIGHTS:
            return None
        defaults = EXAMPLES[name].defaults
        fields = ("hidden", "activations", "bias", "init", "loss", "seed")
        return _WORKED_WEIGHTS[name] if all(self.setup[k] == defaults[k] for k in fields) else None

    # -- training -----------------------------------------------------------------------
    def train(self, epochs: int) -> dict[str, Any]:
        """Train ``epochs`` more epochs with chainrule.fit; one update of the stream."""
        samples = self.samples
        began = time.perf_counter()
        validation = None
        if samples.X_val is not None and samples.y_val is not None:
            validation = (samples.X_val, samples.y_val)
        history = fit(
            self.model,
            samples.X_train,
            samples.y_train,
            loss=self.loss_fn,
            optimizer=self.optimizer,
            epochs=epochs,
            batch_size=self.setup["batch_size"],
            validation_data=validation,
            verbose=0,
            rng=self.rng,
        )
        done = len(history["loss"])
        self.epoch += done
        # fit has just measured the validation rows at these weights, unless it stopped
        # inside an epoch (the guard puts back the weights from before its last update).
        logged = bool(done) and validation is not None and history.stop_reason is None
        self.measure(validation=not logged)
        if logged:
            self.val_loss = float(history["val_loss"][-1])
        update = views.training_update(self)
        update["ms"] = round((time.perf_counter() - began) * 1000, 3)
        update["stopped"] = history.stop_reason
        return update

    # -- export -------------------------------------------------------------------------
    def model_file(self) -> bytes:
        """The current network as a chainrule model file, with its preprocessing."""
        with tempfile.TemporaryDirectory(prefix="chainrule-studio-") as folder:
            path = Path(folder) / "model.safetensors"
            save(self.model, path, preprocessing=self.samples.preprocessing)
            return path.read_bytes()

    def explanation(self) -> Explanation:
        """The last explained step, or the next one before any was taken."""
        return self.last or self.explain(apply=False)


class Sessions:
    """The open sessions: at most ``LIMITS["max_sessions"]``, each forgotten when idle."""

    def __init__(self, uploads: Uploads, clock: Callable[[], float] = time.monotonic) -> None:
        self.uploads = uploads
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _expire(self) -> None:
        idle = LIMITS["session_idle_seconds"]
        now = self._clock()
        for key, session in list(self._sessions.items()):
            if now - session.last_used > idle and not session.running:
                del self._sessions[key]

    def create(self, setup: dict[str, Any]) -> Session:
        with self._lock:
            self._expire()
            if len(self._sessions) >= LIMITS["max_sessions"]:
                raise StudioError(
                    429,
                    f"too many open sessions ({LIMITS['max_sessions']}); close one "
                    "(DELETE /api/sessions/ID) or wait for an idle one to expire",
                )
        session = Session("s_" + secrets.token_urlsafe(16), setup, self.uploads)
        session.last_used = self._clock()
        with self._lock:
            self._sessions[session.key] = session
        return session

    def get(self, key: str) -> Session:
        with self._lock:
            self._expire()
            session = self._sessions.get(key)
            if session is None:
                raise StudioError(404, f"unknown or expired session {key[:40]!r}; start a new one")
            session.last_used = self._clock()
            return session

    def close(self, key: str) -> None:
        session = self.get(key)
        session.pause.set()
        with self._lock:
            self._sessions.pop(key, None)

    def __len__(self) -> int:
        return len(self._sessions)
