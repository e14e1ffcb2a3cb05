"""The studio's JSON API under ``/api/`` (documented in docs/studio.md and /openapi.json).

Every handler calls chainrule through a :class:`~chainrule.studio.sessions.Session` and
answers with JSON. A refusal is a 4xx with ``{"error": "one line"}``; a library
error (``ValueError``/``TypeError``) is a 400 with the library's own message.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from chainrule.explain.data import weight_views
from chainrule.explain.examples import EXAMPLES as WORKED
from chainrule.studio import views
from chainrule.studio.sessions import Session, Sessions, StudioError
from chainrule.studio.setups import (
    BIAS_KINDS,
    EXAMPLES,
    LIMITS,
    LOSSES,
    OPTIMIZERS,
    UNIT_UNIFORM,
    initializer_names,
)
from chainrule.studio.sources import UploadError, too_large

router = APIRouter(prefix="/api")

#: Set-up fields whose null means something (all rows, full batch), not "the default".
_NULLABLE = ("sample", "batch_size")


class Setup(BaseModel):
    """A set-up (docs/studio.md, "The set-up"): omitted fields take the example's defaults."""

    model_config = ConfigDict(extra="forbid")
    example: str | None = None
    upload: str | None = None
    target: str | None = None
    hidden: list[int] | None = None
    activations: list[str | None] | str | None = None
    bias: str | None = None
    init: str | None = None
    loss: str | None = None
    lr: float | None = None
    optimizer: str | None = None
    seed: int | None = None
    sample: int | None = None
    batch_size: int | None = None
    validation: float | None = None
    steps: int | None = None


class StepRequest(BaseModel):
    """One explained step: ``sample`` overrides the set-up's; ``apply`` takes the step."""

    model_config = ConfigDict(extra="forbid")
    sample: int | None = None
    apply: bool = True


def answer(content: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status)


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _session(request: Request, key: str) -> Session:
    return _sessions(request).get(key)


@router.get("/options", summary="What the set-up form offers, from chainrule's registries")
def options(request: Request) -> JSONResponse:
    from chainrule.studio.setups import activation_classes, is_probability_output

    examples = []
    for name, example in EXAMPLES.items():
        examples.append(
            {
                "name": name,
                "kind": example.kind,
                "task": example.task,
                "description": example.description,
            }
        )
    return answer(
        {
            "version": 1,
            "examples": examples,
            "worked": list(WORKED),
            "activations": [
                {"name": name, "label": cls.__name__, "hidden": not is_probability_output(name)}
                for name, cls in activation_classes().items()
            ],
            "initializers": [
                {"name": name, "label": "U[0, 1) (textbook)" if name == UNIT_UNIFORM else name}
                for name in initializer_names()
            ],
            "losses": [
                {"name": name, "label": label, "task": task}
                for name, (label, task, _) in LOSSES.items()
            ],
            "optimizers": [{"name": name} for name in OPTIMIZERS],
            "bias_kinds": list(BIAS_KINDS),
            "defaults": {name: {"example": name, **e.defaults} for name, e in EXAMPLES.items()},
            "limits": LIMITS,
            "start": request.app.state.start,
        }
    )


@router.post("/uploads", summary="Upload a CSV file (the raw bytes as the body)")
async def upload(request: Request) -> JSONResponse:
    limit = LIMITS["max_upload_bytes"]
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadError(too_large(int(declared)), 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadError(too_large(None), 413)
        chunks.append(chunk)
    name = request.headers.get("x-filename")
    kept = await anyio.to_thread.run_sync(request.app.state.uploads.add, b"".join(chunks), name)
    return answer({"upload": kept.key, "name": kept.name, "columns": kept.columns, "bytes": size})


@router.post("/sessions", summary="Start a session from a set-up")
def create(request: Request, setup: Setup = Body(...)) -> JSONResponse:  # noqa: B008
    given = setup.model_dump(exclude_unset=True)
    fields = {k: v for k, v in given.items() if v is not None or k in _NULLABLE}
    session = _sessions(request).create(fields)
    return answer(views.state(session), 201)


@router.get("/sessions/{key}", summary="A session's state")
def get_state(request: Request, key: str) -> JSONResponse:
    return answer(views.state(_session(request, key)))


@router.delete("/sessions/{key}", summary="Close a session")
def close(request: Request, key: str) -> JSONResponse:
    _sessions(request).close(key)
    return answer({"closed": key})


def _idle(session: Session) -> None:
    if session.running:
        raise StudioError(409, "training is running in this session; pause it first")


@router.post("/sessions/{key}/reset", summary="Back to the initial weights")
def reset(request: Request, key: str) -> JSONResponse:
    session = _session(request, key)
    _idle(session)
    with session.lock:
        session.reset()
        return answer(views.state(session))


@router.post("/sessions/{key}/step", summary="Explain one step of gradient descent (and take it)")
def step(request: Request, key: str, body: StepRequest | None = None) -> JSONResponse:
    session = _session(request, key)
    _idle(session)
    chosen = body or StepRequest()
    sample: Any = chosen.sample if "sample" in chosen.model_fields_set else "setup"
    with session.lock:
        explanation = session.explain(apply=chosen.apply, sample=sample)
        return answer(
            {
                "steps": session.steps,
                "epoch": session.epoch,
                "explanation": explanation.to_dict(),
                "network": views.network(session),
            }
        )


class WeightsRequest(BaseModel):
    """Entries of weight matrices, e.g. ``["Who[1,0]"]`` (0-based)."""

    model_config = ConfigDict(extra="forbid")
    weights: list[str] = Field(..., max_length=64)


@router.post("/sessions/{key}/weights", summary="The one-weight view of any entries")
def weights(request: Request, key: str, body: WeightsRequest) -> JSONResponse:
    session = _session(request, key)
    _idle(session)
    with session.lock:
        return answer({"weights": weight_views(session.explanation(), body.weights)})


def _event(kind: str, content: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(content, allow_nan=False)}\n\n"


def _bounded(name: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise StudioError(400, f"{name} must be from {low} to {high}, got {value}")
    return value


@router.get("/sessions/{key}/train", summary="Train and stream an update per epoch (SSE)")
async def train(
    request: Request,
    key: str,
    epochs: int = Query(100, description="epochs to run now"),
    every: int = Query(1, description="epochs per update"),
    interval_ms: int = Query(0, description="least time between updates"),
) -> StreamingResponse:
    session = _session(request, key)
    _bounded("epochs", epochs, 1, LIMITS["max_epochs"])
    _bounded("every", every, 1, 1000)
    _bounded("interval_ms", interval_ms, 0, 2000)
    with request.app.state.guard:
        _idle(session)
        session.running = True
        session.pause.clear()

    def run(count: int) -> dict[str, Any]:
        with session.lock:
            return session.train(count)

    async def stream() -> AsyncIterator[str]:
        reason, message = "finished", ""
        try:
            target = session.epoch + epochs
            while session.epoch < target:
                if session.pause.is_set():
                    reason = "paused"
                    break
                began = time.monotonic()
                update = await anyio.to_thread.run_sync(run, min(every, target - session.epoch))
                stopped = update.pop("stopped")
                yield _event("update", update)
                if stopped:
                    reason, message = "diverged", str(stopped)
                    break
                wait = interval_ms / 1000 - (time.monotonic() - began)
                if wait > 0:
                    await anyio.sleep(wait)
            yield _event("done", {"epoch": session.epoch, "reason": reason, "message": message})
        except (ValueError, TypeError, StudioError) as err:
            yield _event("error", {"error": one_line(err)})
        finally:
            session.running = False
            session.last_used = time.monotonic()

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.post("/sessions/{key}/pause", summary="End a running training stream after this epoch")
def pause(request: Request, key: str) -> JSONResponse:
    session = _session(request, key)
    session.pause.set()
    return answer({"pausing": session.running, "epoch": session.epoch})


_FORMATS = {"html": ("text/html", "html"), "markdown": ("text/markdown", "md")}


@router.get("/sessions/{key}/export/explanation", summary="The step as an HTML or Markdown file")
def export_explanation(request: Request, key: str, format: str = "html") -> Response:  # noqa: A002
    if format not in _FORMATS:
        raise StudioError(400, f"format must be one of {', '.join(_FORMATS)}, got {format!r}")
    session = _session(request, key)
    _idle(session)
    with session.lock:
        text = session.explanation().render(format)
    media, suffix = _FORMATS[format]
    return Response(
        text,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename=chainrule-step.{suffix}"},
    )


@router.get("/sessions/{key}/export/model", summary="The network as a chainrule model file")
def export_model(request: Request, key: str) -> Response:
    session = _session(request, key)
    _idle(session)
    with session.lock:
        content = session.model_file()
    return Response(
        content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": "attachment; filename=chainrule-model.safetensors"},
    )


def one_line(err: BaseException) -> str:
    """An error's message on one line (its first), never empty."""
    text = str(getattr(err, "message", "") or err).strip()
    return text.splitlines()[0] if text else type(err).__name__
