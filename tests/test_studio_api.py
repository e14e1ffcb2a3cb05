"""The studio's server: every endpoint, its numbers against chainrule.explain, its guard.

Runs the real application in-process with FastAPI's TestClient (no browser, no socket);
one test starts the real ``chainrule studio`` command and stops it with Ctrl-C.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx works the same
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.explain.examples import (  # noqa: E402
    example,  # noqa: E402
    house_prices_setup,
    softmax_classifier_setup,
)
from chainrule.studio import setups  # noqa: E402
from chainrule.studio.server import create_app  # noqa: E402
from chainrule.studio.sessions import Sessions  # noqa: E402
from chainrule.studio.sources import Uploads  # noqa: E402

TOKEN = "t0ken-for-tests"
AUTH = {"X-Studio-Token": TOKEN}
JSON = {**AUTH, "Content-Type": "application/json"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(TOKEN, {"testserver"}), raise_server_exceptions=True) as test:
        yield test


def _session(client: TestClient, **setup: Any) -> dict[str, Any]:
    response = client.post("/api/sessions", json=setup, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()


def _step(client: TestClient, key: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/sessions/{key}/step", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def _events(client: TestClient, url: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    with client.stream("GET", url, headers=AUTH) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[len("data: ") :])))
    return events


# -- what the page is offered ---------------------------------------------------------
def test_options_come_from_the_registries(client):
    options = client.get("/api/options", headers=AUTH).json()
    names = [a["name"] for a in options["activations"]]
    assert names == [cls.command_name for cls in cr.nn.activation_layers()]
    hidden = {a["name"] for a in options["activations"] if a["hidden"]}
    assert hidden == {cls.command_name for cls in cr.nn.activation_layers(elementwise=True)}
    inits = [i["name"] for i in options["initializers"]]
    assert inits == ["unit-uniform", *cr.init.names()]
    assert {e["name"] for e in options["examples"]} >= {
        "softmax-classifier",
        "house-prices",
        "moons",
        "circles",
        "xor",
        "spirals",
        "digits",
    }
    assert options["start"] is None and options["limits"]["max_upload_bytes"] == 1 << 20


def test_the_openapi_schema_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in [
        "/api/options",
        "/api/sessions",
        "/api/sessions/{key}/step",
        "/api/sessions/{key}/train",
        "/api/uploads",
        "/api/sessions/{key}/weights",
    ]:
        assert path in paths


# -- the numbers are chainrule.explain's ------------------------------------------------
@pytest.mark.parametrize(
    ("name", "setup_fn"),
    [("house-prices", house_prices_setup), ("softmax-classifier", softmax_classifier_setup)],
)
def test_a_worked_example_starts_from_the_documents_weights_and_steps_as_explain_does(
    client, name, setup_fn
):
    state = _session(client, example=name)
    model = setup_fn(0)[0]
    start = {p["key"]: np.array(p["value"]) for p in state["network"]["parameters"]}
    for key, param in model.named_parameters():
        assert np.array_equal(start[key].reshape(param.shape), param.data)

    reference = example(name, **({"epochs": 0} if name == "house-prices" else {}))
    step = _step(client, state["session"])
    got = step["explanation"]
    assert got["loss"] == reference.loss and got["loss_after"] == reference.loss_after
    for param in got["parameters"]:
        assert np.array_equal(np.array(param["gradient"]), reference.gradients[param["key"]])
    expected = reference.to_dict()
    assert [s["result"] for s in got["backward"]] == [s["result"] for s in expected["backward"]]
    assert got["weights"] == expected["weights"]  # the document's one-weight views
    # The step was taken: the weights are explain's updated ones.
    after = {p["key"]: np.array(p["value"]) for p in step["network"]["parameters"]}
    for key, value in reference.updated.items():
        assert np.array_equal(after[key].reshape(value.shape), value)


def test_steps_continue_from_the_updated_weights_and_a_link_can_open_at_step_n(client):
    key = _session(client, example="house-prices")["session"]
    first, second = _step(client, key), _step(client, key)
    assert second["steps"] == 2
    assert second["explanation"]["loss"] == first["explanation"]["loss_after"]
    linked = _session(client, example="house-prices", steps=1)
    assert linked["steps"] == 1
    again = _step(client, linked["session"], apply=False)
    assert again["explanation"]["loss"] == second["explanation"]["loss"]
    assert again["steps"] == 1  # apply=false only explains


def test_every_parameter_can_show_any_weights_chain_and_check(client):
    key = _session(client, example="house-prices")["session"]
    _step(client, key)
    response = client.post(
        f"/api/sessions/{key}/weights", json={"weights": ["Who[1,0]", "Wih[3,4]"]}, headers=AUTH
    )
    views = response.json()["weights"]
    assert [v["weight"] for v in views] == ["Who[1,0]", "Wih[3,4]"]
    for view in views:
        products = sum(term["product"] for term in view["terms"])
        assert products == pytest.approx(view["gradient"], rel=1e-12, abs=1e-15)
        assert view["check"]["numeric"] == pytest.approx(view["gradient"], rel=1e-5, abs=1e-9)
    bad = client.post(f"/api/sessions/{key}/weights", json={"weights": ["Who[9,0]"]}, headers=AUTH)
    assert bad.status_code == 400 and "out of range" in bad.json()["error"]


# -- a set-up of the learner's own -----------------------------------------------------
def test_a_network_of_the_learners_own(client):
    relu = cr.nn.ReLU.command_name
    state = _session(
        client,
        example="moons",
        hidden=[5, 3],
        activations=[relu, relu, None],
        bias="shared",
        init="unit-uniform",
        seed=7,
        lr=0.1,
        optimizer="sgd",
    )
    layers = state["network"]["layers"]
    assert state["network"]["sizes"] == [2, 5, 3, 2]
    assert [layer["activation"] for layer in layers] == [relu, relu, None]
    params = {p["name"]: np.array(p["value"]) for p in state["network"]["parameters"]}
    assert set(params) == {"W1", "b1", "W2", "b2", "W3", "b3"} and params["b1"].shape == (1,)
    assert all(((v >= 0) & (v < 1)).all() for v in params.values())  # U[0, 1)
    assert state["grid"]["n"] == 40 and len(state["data"]["points"]["x"]) == 400
    step = _step(client, state["session"])["explanation"]
    assert step["values"][0]["shape"] == [1, 2]  # one sample by default for a dataset


# -- live training ---------------------------------------------------------------------
def test_training_streams_updates_and_the_loss_falls(client):
    key = _session(client, example="xor", seed=1)["session"]
    events = _events(client, f"/api/sessions/{key}/train?epochs=60&every=20")
    kinds = [kind for kind, _ in events]
    assert kinds == ["update", "update", "update", "done"]
    updates = [data for kind, data in events if kind == "update"]
    assert [u["epoch"] for u in updates] == [20, 40, 60]
    assert updates[-1]["loss"] < updates[0]["loss"]
    assert [g["param"] for g in updates[0]["grad_norms"]] == ["Wih", "Who"]
    assert set(updates[0]["parameters"]) == {"Wih", "bih", "Who", "bho"}
    assert updates[0]["grid"]["kind"] == "class" and isinstance(updates[0]["diagnostics"], list)
    assert events[-1][1] == {"epoch": 60, "reason": "finished", "message": ""}
    state = client.get(f"/api/sessions/{key}", headers=AUTH).json()
    assert state["epoch"] == 60 and state["loss"] == updates[-1]["loss"]


def test_a_validation_split_gives_a_validation_loss(client):
    key = _session(client, example="moons")["session"]
    (kind, update), done = _events(client, f"/api/sessions/{key}/train?epochs=1")
    assert kind == "update" and update["val_loss"] is not None and done[0] == "done"


def test_pausing_ends_a_running_stream_and_a_reset_starts_over(client):
    created = _session(client, example="moons")
    key, first_loss = created["session"], created["loss"]
    # The loss on the training rows is there before any step or epoch, and so is the
    # validation loss.
    assert isinstance(first_loss, float) and isinstance(created["val_loss"], float)
    url = f"/api/sessions/{key}/train?epochs=1000&interval_ms=20"
    kinds, done = [], {}
    with client.stream("GET", url, headers=AUTH) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kinds.append(line[len("event: ") :])
                if kinds == ["update"]:
                    busy = client.post(f"/api/sessions/{key}/step", json={}, headers=AUTH)
                    assert busy.status_code == 409  # one thing at a time
                    client.post(f"/api/sessions/{key}/pause", headers=AUTH)
            elif line.startswith("data: ") and kinds[-1] == "done":
                done = json.loads(line[len("data: ") :])
    assert done["reason"] == "paused" and 1 <= done["epoch"] < 1000
    state = client.post(f"/api/sessions/{key}/reset", headers=AUTH).json()
    assert state["epoch"] == 0 and state["loss"] == first_loss


# -- export --------------------------------------------------------------------------
def test_exports_load_back(client, tmp_path):
    key = _session(client, example="house-prices")["session"]
    loss = _step(client, key)["explanation"]["loss"]
    html = client.get(f"/api/sessions/{key}/export/explanation?format=html", headers=AUTH)
    assert "attachment" in html.headers["content-disposition"] and "<math" in html.text
    markdown = client.get(f"/api/sessions/{key}/export/explanation?format=markdown&token={TOKEN}")
    assert markdown.text.startswith("# ") and f"{loss:.4f}"[:5] in markdown.text
    model = client.get(f"/api/sessions/{key}/export/model", headers=AUTH)
    path = tmp_path / "model.safetensors"
    path.write_bytes(model.content)
    loaded = cr.load(path)
    state = client.get(f"/api/sessions/{key}", headers=AUTH).json()
    weight = np.array(state["network"]["parameters"][0]["value"])
    assert np.array_equal(loaded[0].weight.data, weight)


# -- uploads ---------------------------------------------------------------------------
def _upload(client: TestClient, content: bytes, name: str = "houses.csv") -> Any:
    return client.post("/api/uploads", content=content, headers={**AUTH, "X-Filename": name})


def test_an_uploaded_csv_becomes_a_session(client):
    content = b"size,rooms,kind\n1,2,flat\n3,4,house\n2,2,flat\n5,6,house\n"
    uploaded = _upload(client, content).json()
    assert uploaded["columns"] == ["size", "rooms", "kind"] and uploaded["name"] == "houses.csv"
    state = _session(client, upload=uploaded["upload"], target="kind", sample=None)
    assert state["data"]["classes"] == ["flat", "house"] and state["data"]["standardized"]
    assert state["setup"]["loss"] == "cross-entropy"
    assert _step(client, state["session"])["explanation"]["values"][0]["shape"] == [4, 2]


@pytest.mark.parametrize(
    "content",
    [b"", b"a,b,a\n1,2,3\n", b"a,,c\n1,2,3\n", b"size,price\nx,1\n", b"\xff\xfe,a\n", b"a,b\n"],
)
def test_a_bad_csv_gets_the_cli_message(client, tmp_path, content):
    path = tmp_path / "houses.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError) as expected:
        cr.data.read_csv(path, target="price" if b"price" in content else None)
    response = _upload(client, content)
    if response.status_code == 200:  # the header is fine: the cells are read with a target
        response = client.post(
            "/api/sessions",
            json={"upload": response.json()["upload"], "target": "price"},
            headers=AUTH,
        )
    message = str(expected.value).replace(str(path), "houses.csv").splitlines()[0]
    assert response.status_code == 400 and response.json() == {"error": message}


def test_an_upload_above_the_limit_is_refused_with_413(client):
    response = _upload(client, b"a,b\n" + b"1,2\n" * (setups.LIMITS["max_upload_bytes"] // 4))
    assert response.status_code == 413 and "at most 1,048,576 bytes" in response.json()["error"]


# -- the guard -------------------------------------------------------------------------
ENDPOINTS = [
    ("GET", "/api/options"),
    ("POST", "/api/sessions"),
    ("GET", "/api/sessions/x"),
    ("POST", "/api/sessions/x/step"),
    ("GET", "/api/sessions/x/train"),
    ("POST", "/api/uploads"),
    ("GET", "/api/sessions/x/export/model"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_api_request_needs_the_token(client, method, path):
    for headers in [{}, {"X-Studio-Token": "wrong"}, {"X-Studio-Token": TOKEN[:-1]}]:
        response = client.request(method, path, headers=headers)
        assert response.status_code == 403 and "token" in response.json()["error"]


def test_the_token_also_works_in_the_query_and_in_the_cookie_the_page_sets(client):
    assert client.get(f"/api/options?token={TOKEN}").status_code == 200
    client.cookies.clear()
    client.get("/?token=wrong")
    assert client.get("/api/options").status_code == 403
    page = client.get(f"/?token={TOKEN}")
    if page.status_code == 200:  # the page's files are there
        assert "samesite=strict" in page.headers["set-cookie"].lower()
        assert client.get("/api/options").status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:8765", "", "localhost"])
def test_a_request_for_another_host_is_refused(client, host):
    response = client.get("/api/options", headers={**AUTH, "Host": host})
    assert response.status_code == 400 and "Host" in response.json()["error"]


def test_the_hosts_allowed_are_the_address_served():
    from chainrule.studio.server import allowed_hosts

    hosts = allowed_hosts("127.0.0.1", 8765)
    assert hosts is not None and {"127.0.0.1:8765", "localhost:8765"} <= hosts
    assert "evil.example:8765" not in hosts and allowed_hosts("0.0.0.0", 1) is None


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../server.py",
        "/assets/%2e%2e/server.py",
        "/assets/..%2fserver.py",
        "/assets/../../../../etc/passwd",
        "/../pyproject.toml",
        "/assets//etc/passwd",
    ],
)
def test_no_file_outside_the_assets_is_served(client, path):
    response = client.get(path, headers=AUTH)
    assert response.status_code in (400, 404)
    assert "def create_app" not in response.text and "root:" not in response.text


def test_unknown_sessions_are_404(client):
    for method, path in [
        ("GET", "/api/sessions/s_nope"),
        ("POST", "/api/sessions/s_nope/step"),
        ("DELETE", "/api/sessions/s_nope"),
        ("GET", "/api/sessions/s_nope/train"),
    ]:
        response = client.request(method, path, headers=AUTH)
        assert response.status_code == 404 and "unknown or expired" in response.json()["error"]


def test_sessions_are_capped_and_idle_ones_expire(monkeypatch):
    monkeypatch.setitem(setups.LIMITS, "max_sessions", 2)
    now = [0.0]
    sessions = Sessions(Uploads(), clock=lambda: now[0])
    first = sessions.create({"example": "xor"})
    sessions.create({"example": "xor"})
    with pytest.raises(Exception, match="too many open sessions") as refused:
        sessions.create({"example": "xor"})
    assert getattr(refused.value, "status", None) == 429
    now[0] += setups.LIMITS["session_idle_seconds"] + 1
    sessions.create({"example": "xor"})  # the idle ones are gone
    assert len(sessions) == 1
    with pytest.raises(Exception, match="unknown or expired"):
        sessions.get(first.key)


BAD_SETUPS = [
    ({"example": "moons", "hidden": [10**9]}, "layer width"),
    ({"example": "moons", "hidden": [-3]}, "layer width"),
    ({"example": "moons", "hidden": [4] * 50}, "at most 6"),
    ({"example": "moons", "lr": -0.1}, "lr must be above 0"),
    ({"example": "moons", "lr": 1e308 * 10}, "lr must be a finite number"),
    ({"example": "moons", "seed": -1}, "seed"),
    ({"example": "moons", "init": "../../etc"}, "unknown init"),
    ({"example": "moons", "activations": ["nope", None, None]}, "unknown activation"),
    ({"example": "moons", "sample": 10**6}, "sample"),
    ({"example": "moons", "validation": 0.9}, "validation"),
    ({"example": "moons", "steps": 10**6}, "steps"),
    (
        {"example": "moons", "loss": "cross-entropy", "activations": [None, None, None]},
        "unknown activation",
    ),
    ({"example": "house-prices", "loss": "cross-entropy"}, "class probabilities"),
    ({"example": "nope"}, "unknown example"),
    ({"upload": "u_nope", "target": "x"}, "unknown upload"),
    ({}, "unknown example"),
]


@pytest.mark.parametrize(("setup", "words"), BAD_SETUPS)
def test_a_bad_setup_gets_a_one_line_4xx(client, setup, words):
    body = json.dumps(setup, allow_nan=True)
    response = client.post("/api/sessions", content=body, headers=JSON)
    assert 400 <= response.status_code < 500
    message = response.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b"null",
        b"[]",
        b'"x"',
        b'{"example": "moons", "lr": NaN}',
        b'{"example": "moons", "lr": Infinity}',
        b'{"example": "moons", "zzz": 1}',
        b'{"example": {"a": 1}}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_gets_a_one_line_400(client, body):
    response = client.post(
        "/api/sessions", content=body, headers={**AUTH, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "\n" not in response.json()["error"]


@pytest.mark.parametrize(
    "query",
    ["epochs=-1", "epochs=0", "epochs=999999999", "epochs=abc", "every=0", "interval_ms=-5"],
)
def test_out_of_range_training_requests_get_a_400(client, query):
    key = _session(client, example="xor")["session"]
    response = client.get(f"/api/sessions/{key}/train?{query}", headers=AUTH)
    assert response.status_code == 400 and "\n" not in response.json()["error"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_fields = st.fixed_dictionaries(
    {"example": st.sampled_from(["xor", "house-prices", "softmax-classifier", "x"])},
    optional={
        name: _json | st.integers(-5, 300)
        for name in [
            "hidden",
            "activations",
            "bias",
            "init",
            "loss",
            "lr",
            "seed",
            "sample",
            "batch_size",
            "validation",
            "steps",
            "optimizer",
        ]
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(setup=_fields)
def test_generated_setups_never_get_a_500(client, setup):
    response = client.post("/api/sessions", content=json.dumps(setup), headers=JSON)
    assert response.status_code in (201, 400), response.text
    if response.status_code == 201:
        key = response.json()["session"]
        step = client.post(f"/api/sessions/{key}/step", json={}, headers=AUTH)
        assert step.status_code in (200, 400), step.text
        client.delete(f"/api/sessions/{key}", headers=AUTH)
    else:
        assert "\n" not in response.json()["error"]


# -- the command -----------------------------------------------------------------------
def test_the_command_prints_the_url_first_serves_and_stops_on_ctrl_c(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "chainrule",
        "studio",
        "--no-browser",
        "--port",
        "0",
        "--example",
        "xor",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and "/?token=" in url
        base, token = url.split("/?token=")
        request = urllib.request.Request(f"{base}/api/options", headers={"X-Studio-Token": token})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.load(response)["start"] == {"example": "xor"}
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--csv", "missing.csv"], "--target"),
        (["--target", "price"], "--csv"),
        (["--example", "nope"], "unknown example"),
    ],
)
def test_the_command_refuses_a_bad_start_in_one_line(args, words, capsys):
    from chainrule.cli import main

    assert main(["studio", "--no-browser", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_the_command_reads_the_csv_with_the_cli_reader(tmp_path, capsys):
    from chainrule.cli import main

    path = tmp_path / "houses.csv"
    path.write_text("size,price\nx,1\n", encoding="utf-8")  # a text cell in a feature
    assert main(["studio", "--no-browser", "--csv", str(path), "--target", "price"]) == 2
    err = capsys.readouterr().err
    with pytest.raises(ValueError) as expected:
        cr.data.read_csv(path, target="price")
    assert str(expected.value).splitlines()[0] in err


def test_json_of_a_diverged_step_has_no_nan():
    from chainrule.explain.data import plain

    assert plain(np.array([[1.0, np.nan], [np.inf, -2.0]])) == [[1.0, None], [None, -2.0]]
    assert plain(np.float64("nan")) is None
    io.StringIO(json.dumps(plain(np.array([np.nan])), allow_nan=False))


def test_the_server_socket_is_tcp_so_small_responses_are_not_delayed():
    import socket

    from chainrule.studio.server import bind

    sock = bind("127.0.0.1", 0)
    try:  # asyncio turns Nagle's algorithm off only for sockets that say they are TCP
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_a_wide_csv_cannot_make_a_network_too_large_for_memory(client):
    columns = 5000
    header = ",".join(f"c{j}" for j in range(columns)) + ",y\n"
    row = ",".join("1" for _ in range(columns)) + ",2\n"
    uploaded = _upload(client, (header + row * 3).encode()).json()
    response = client.post(
        "/api/sessions",
        json={"upload": uploaded["upload"], "target": "y", "hidden": [256, 256]},
        headers=AUTH,
    )
    assert response.status_code == 400
    assert "parameters, more than the studio's 1,000,000" in response.json()["error"]


def test_a_run_stopped_inside_an_epoch_shows_the_validation_loss_of_its_weights():
    """The guard stops a diverging run inside an epoch and puts back the weights from
    before its last update: the validation loss shown is measured at those weights, not
    the one logged at the end of the epoch before."""
    from chainrule.studio.sessions import Session

    rng = np.random.default_rng(0)
    rows = "".join(f"{a},{b},{c},{a * 1e3}\n" for a, b, c in rng.normal(size=(200, 3)))
    uploads = Uploads()
    upload = uploads.add(("a,b,c,y\n" + rows).encode(), "big.csv")
    setup = {"upload": upload.key, "target": "y", "lr": 10.0, "optimizer": "sgd"}
    session = Session("s", {**setup, "validation": 0.2}, uploads)
    update = session.train(20)
    assert update["stopped"] is not None and "restored" in update["stopped"]
    shown = update["val_loss"]
    session.measure()
    assert shown == session.val_loss
