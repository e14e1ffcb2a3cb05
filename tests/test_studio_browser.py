"""The studio's page in a real browser: Chromium driven by Playwright against the real server.

The tests start ``chainrule studio --no-browser`` on 127.0.0.1 and a free port, open the URL it
prints, and do what a learner does: choose house-prices and take a step (the loss and the
gradients shown are ``chainrule.explain``'s), step stage by stage with the buttons and the
arrow keys, open a parameter and a weight, train, upload a bad CSV. Any console error, any
uncaught exception and any request to a host other than the server fails a test.

They drive the system Chromium (``apt-get install chromium``; Playwright's own browser
download is not used) and skip, saying why, where there is none; with
``CHAINRULE_REQUIRE_BROWSER=1`` (set by ``.ci/run``) a missing browser fails them instead.
Screenshots of each phase at 1280 and 800 pixels are kept under ``CHAINRULE_ARTIFACTS``
(default: a temporary folder, printed by the screenshot test).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from chainrule.explain.examples import house_prices

REQUIRE = os.environ.get("CHAINRULE_REQUIRE_BROWSER", "") not in ("", "0")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: The epoch the page shows, in JavaScript.
EPOCH = "Number(document.querySelector('[data-testid=epoch]').textContent)"
#: Generous waits for a loaded machine; no assertion is about time.
WAIT_MS = 60_000


def _missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (CHAINRULE_REQUIRE_BROWSER is set, so the browser tests must run)")
    pytest.skip(reason)


def _chromium() -> str:
    wanted = os.environ.get("CHAINRULE_CHROMIUM")
    candidates = [wanted] if wanted else ["/usr/bin/chromium", "chromium", "chromium-browser"]
    for candidate in candidates:
        if path := shutil.which(candidate):
            return path
    if wanted:
        _missing(f"CHAINRULE_CHROMIUM names {wanted}, which is not an executable")
    _missing("no Chromium installed (apt-get install chromium, or set CHAINRULE_CHROMIUM)")
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Studio:
    """A running ``chainrule studio`` and the URL it printed."""

    def __init__(self) -> None:
        try:
            import chainrule.studio.server  # noqa: F401
        except ImportError as error:
            _missing(f"the studio extra is not installed ({error}): pip install chainrule[studio]")
        port = _free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chainrule", "studio", "--no-browser", "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.process.stdout.readline()))
        reader.start()
        reader.join(WAIT_MS / 1000)
        line = first[0].strip() if first else ""
        if not line.startswith("http://"):
            self.stop()
            err = self.process.stderr.read() if self.process.stderr else ""
            raise AssertionError(f"chainrule studio printed {line!r} first; stderr: {err[-2000:]}")
        self.url = line
        parts = urlsplit(line)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.token = parse_qs(parts.query)["token"][0]

    def api(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
        """Call the API directly, as the page does; returns (status, JSON body)."""
        request = urllib.request.Request(
            self.origin + path,
            data=body,
            method=method,
            headers={"X-Studio-Token": self.token, **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def studio() -> Iterator[Studio]:
    running = Studio()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install playwright)")
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("CHAINRULE_ARTIFACTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("studio-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page whose console errors, exceptions and foreign requests are collected."""

    def __init__(self, page: Any, studio: Studio) -> None:
        self.page = page
        self.problems: list[str] = []
        self.allowed_errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))

        def route(route: Any) -> None:
            url = route.request.url
            if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).netloc == studio.host:
                route.continue_()
            else:
                self.problems.append(f"request to another host: {url}")
                route.abort()

        page.route("**/*", route)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        if any(allowed in message.text for allowed in self.allowed_errors):
            return
        self.problems.append(f"console error: {message.text}")


@pytest.fixture()
def watched(browser: Any, studio: Studio) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    seen = Watched(page, studio)
    yield seen
    context.close()
    assert not seen.problems, "\n".join(seen.problems)


# -- helpers -----------------------------------------------------------------------------------
def idle(page: Any) -> None:
    """Wait until the page has answered every request it made."""
    page.wait_for_function(
        "() => !document.body.classList.contains('busy')"
        " && document.querySelector('[data-testid=loss]').textContent !== '–'"
    )


def open_example(page: Any, studio: Studio, name: str) -> None:
    page.goto(studio.url)
    idle(page)
    page.select_option("[data-testid=example]", name)
    idle(page)


def take_step(page: Any) -> None:
    page.click("[data-testid=step]")
    idle(page)
    page.wait_for_function(
        "() => !/preview/.test(document.querySelector('[data-testid=phase]').textContent)"
    )


def shown_numbers(page: Any, testid: str) -> list[float]:
    """The numbers a matrix shows (4 significant digits) and their full values (hover)."""
    cells = page.locator(f"[data-testid={testid}] table.mat td span.num")
    return [float(cells.nth(k).get_attribute("title")) for k in range(cells.count())]


def shown_text(page: Any, testid: str) -> list[str]:
    cells = page.locator(f"[data-testid={testid}] table.mat td span.num")
    return [cells.nth(k).inner_text() for k in range(cells.count())]


def four_digits(value: float) -> str:
    """What the page writes for ``value``: 4 significant digits, trailing zeros dropped."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return text


def kicker(page: Any) -> str:
    """The phase line of the stage panel, as written (the page shows it in capitals)."""
    return str(page.text_content("[data-testid=stage-panel] .kicker"))


def stage_count(page: Any) -> tuple[int, int]:
    text = page.inner_text("[data-testid=stage-count]")
    current, total = (int(n) for n in re.findall(r"\d+", text))
    return current, total


# -- the tests ---------------------------------------------------------------------------------
def test_a_step_of_house_prices_shows_the_numbers_of_explain(
    watched: Watched, studio: Studio
) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    reference = house_prices(epochs=0)

    loss = page.locator("[data-testid=loss]")
    assert float(loss.get_attribute("title")) == reference.loss
    assert loss.inner_text() == four_digits(reference.loss)
    after = page.locator("[data-testid=loss-after]")
    assert float(after.get_attribute("title")) == reference.loss_after

    page.click("[data-testid=param-Who]")
    expected = reference.gradients["2.weight"].reshape(-1)
    assert shown_numbers(page, "gradient") == expected.tolist()
    assert shown_text(page, "gradient") == [four_digits(v) for v in expected]


def test_every_parameter_shows_its_gradient(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    reference = house_prices(epochs=0)
    for key, name in reference.names.items():
        page.click(f"[data-testid=param-{name}]")
        page.wait_for_selector(f"[data-testid=stage-panel] >> text=gradient of {name}")
        expected = np.asarray(reference.gradients[key]).reshape(-1)
        assert np.array_equal(shown_numbers(page, "gradient"), expected), name
    # the chain of the first layer's weights runs through every stage above it
    page.click("[data-testid=param-Wih]")
    assert page.locator("[data-testid=stage-panel] .path button").count() >= 4


def test_stage_by_stage_with_buttons_and_arrow_keys(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    current, total = stage_count(page)
    assert current == 1
    assert page.is_disabled("[data-testid=prev-stage]")
    reference = house_prices(epochs=0)
    n_backward = len(reference.derivation.stages)
    assert total >= n_backward + 2  # forward ops, the loss, every backward stage, the update

    seen_headings = []
    for expected in range(2, total + 1):
        page.click("[data-testid=next-stage]")
        assert stage_count(page) == (expected, total)
        seen_headings.append(page.inner_text("[data-testid=stage-panel] h3"))
    assert page.is_disabled("[data-testid=next-stage]")
    assert len(set(seen_headings)) >= n_backward  # each stage says something of its own
    assert "after" in page.inner_text("[data-testid=stage-panel]")  # the update, last

    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert stage_count(page) == (total - 2, total)
    page.keyboard.press("ArrowRight")
    assert stage_count(page) == (total - 1, total)

    # every backward stage lights up the part of the diagram it is about
    page.click("[data-testid=prev-stage]")
    for _ in range(total):
        page.keyboard.press("ArrowLeft")
    for _ in range(total):
        if kicker(page).startswith("Backward"):
            break
        page.keyboard.press("ArrowRight")
    for _ in range(n_backward):
        panel = page.inner_text("[data-testid=stage-panel]")
        assert "shapes" in panel
        assert page.locator("[data-testid=stage-panel] math").count() >= 1  # rendered formula
        assert page.locator("#net .hl-box, #net [stroke='#8e2c9a']").count() >= 1
        page.keyboard.press("ArrowRight")


def test_clicking_a_weight_on_the_diagram_shows_its_check(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    # Who[2,0] is one of the weights the worked example explains number by number
    page.click("#net line.edge[data-param=Who][data-i='2'][data-j='0']", force=True)
    panel = page.locator("[data-testid=stage-panel]")
    panel.locator("text=One weight: Who[2,0]").wait_for()
    text = panel.inner_text()
    assert "Central difference" in text
    reference = house_prices(epochs=0)
    gradient = float(reference.gradients["2.weight"][2, 0])
    assert four_digits(gradient) in text
    assert page.locator("[data-testid=param-Who].selected").count() == 1

    # any other entry: the page asks the server for its view, of the step it shows
    page.click("#net line.edge[data-param=Wih][data-i='3'][data-j='1']", force=True)
    panel.locator("text=One weight: Wih[3,1]").wait_for()
    idle(page)
    text = panel.inner_text()
    assert four_digits(float(reference.gradients["0.weight"][3, 1])) in text
    assert "Central difference" in text


def test_training_moves_the_epoch_and_the_loss_falls(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    before = float(page.get_attribute("[data-testid=train-loss]", "title"))
    page.fill("[data-testid=epochs]", "150")
    page.click("[data-testid=train]")
    page.wait_for_function(f"() => {EPOCH} > 0")
    page.wait_for_function(
        f"() => {EPOCH} >= 150"
        " && !document.querySelector('[data-testid=train]').classList.contains('running')"
    )
    idle(page)
    after = float(page.get_attribute("[data-testid=train-loss]", "title"))
    assert after < before
    assert page.locator("#curve polyline").count() >= 1
    assert page.locator("#gradsizes rect").count() >= 2  # one bar per layer


def test_space_starts_and_pauses_training(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    page.fill("[data-testid=epochs]", "100000")
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press(" ")
    page.wait_for_function(f"() => {EPOCH} > 0")
    page.keyboard.press(" ")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=train]').classList.contains('running')"
    )
    idle(page)
    epoch = int(page.inner_text("[data-testid=epoch]"))
    assert 0 < epoch < 100000


def test_hovering_a_weight_shows_its_live_value(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    page.fill("[data-testid=epochs]", "100000")
    page.locator("[data-testid=epochs]").blur()
    edge = page.locator("#net line.edge[data-param=Who][data-i='0'][data-j='0']")
    edge.hover(force=True)
    tip = page.locator("#tip")
    tip.wait_for(state="visible")
    before = tip.inner_text()
    reference = house_prices(epochs=0)
    assert before == f"Who[0,0] = {float(reference.model[2].weight.data[0, 0])!r}"
    # the space bar trains, so the pointer stays on the edge while the diagram is redrawn
    page.keyboard.press(" ")
    page.wait_for_function(f"() => {EPOCH} > 0")
    page.wait_for_function(
        "before => { const t = document.getElementById('tip');"
        " return !t.hidden && t.textContent !== before; }",
        arg=before,
    )
    assert tip.inner_text().startswith("Who[0,0] = ")
    page.keyboard.press(" ")
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=train]').classList.contains('running')"
    )
    idle(page)


@pytest.mark.parametrize(
    "hidden,activation",
    [("3, 4", "tanh"), ("", None), ("6", "relu")],
)
def test_an_edited_network_shows_the_servers_gradients(
    watched: Watched, studio: Studio, hidden: str, activation: str | None
) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    page.fill("[data-testid=hidden]", hidden)
    page.dispatch_event("[data-testid=hidden]", "input")
    if activation:
        for select in page.locator("#acts select").all()[:-1]:
            select.select_option(activation)
    page.click("[data-testid=apply]")
    idle(page)
    take_step(page)
    setup = page.evaluate("() => Object.fromEntries(new URLSearchParams(location.search))")
    assert setup["hidden"] == hidden.replace(" ", "")
    # the same set-up through the API: the page shows the numbers the server computed
    body = {
        "example": "house-prices",
        "hidden": [int(w) for w in hidden.split(",") if w.strip()],
        "activations": [a if a != "none" else None for a in setup["activations"].split(",")],
        "seed": int(setup["seed"]),
    }
    status, state = studio.api(
        "POST", "/api/sessions", json.dumps(body).encode(), **{"Content-Type": "application/json"}
    )
    assert status in (200, 201), state
    json_body = {"Content-Type": "application/json"}
    status, step = studio.api("POST", f"/api/sessions/{state['session']}/step", b"{}", **json_body)
    assert status == 200, step
    studio.api("DELETE", f"/api/sessions/{state['session']}")
    explanation = step["explanation"]
    assert float(page.get_attribute("[data-testid=loss]", "title")) == explanation["loss"]
    for parameter in explanation["parameters"]:
        page.click(f"[data-testid=param-{parameter['name']}]")
        page.wait_for_selector(f"[data-testid=stage-panel] >> text=gradient of {parameter['name']}")
        shown = shown_numbers(page, "gradient")
        expected = np.asarray(parameter["gradient"], dtype=float)
        rows = expected.reshape(1, -1) if expected.ndim < 2 else expected  # a vector is one row
        # a large matrix shows its first 5 rows and columns
        n_rows, n_cols = rows.shape
        visible = rows[: n_rows if n_rows <= 6 else 5, : n_cols if n_cols <= 6 else 5]
        assert shown == visible.reshape(-1).tolist(), parameter["name"]


def test_exports_download_the_step_and_a_loadable_model(
    watched: Watched, studio: Studio, tmp_path: Path
) -> None:
    import chainrule as cr

    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    with page.expect_download() as html:
        page.click("[data-testid=export-html]")
    html_path = tmp_path / "step.html"
    html.value.save_as(html_path)
    document = html_path.read_text(encoding="utf-8")
    assert "<math" in document and "Who" in document
    with page.expect_download() as markdown:
        page.click("[data-testid=export-md]")
    markdown_path = tmp_path / "step.md"
    markdown.value.save_as(markdown_path)
    assert "$$" in markdown_path.read_text(encoding="utf-8")
    with page.expect_download() as model:
        page.click("[data-testid=export-model]")
    model_path = tmp_path / model.value.suggested_filename
    model.value.save_as(model_path)
    loaded = cr.load(model_path)
    reference = house_prices(epochs=0)
    # the model after the step the page took
    assert np.array_equal(loaded[2].weight.data, reference.updated["2.weight"])


def test_what_to_notice_is_shown(watched: Watched, studio: Studio) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    take_step(page)
    reference = house_prices(epochs=0)
    shown = page.inner_text("[data-testid=diagnostics]")
    assert reference.diagnostics
    for finding in reference.diagnostics:
        assert finding.message in shown


@pytest.mark.parametrize(
    "name,content",
    [
        ("houses.csv", b"size,rooms,price\n1,2,3\n4,5\n"),  # a row too short
        ("words.csv", b"size,price\nbig,1\nsmall,2\n"),  # a feature that is not a number
        ("twice.csv", b"size,size\n1,2\n3,4\n"),  # a column name used twice
        ("huge.csv", b"size,price\n1,2\n3,1e999\n"),  # an infinite target
        ("empty.csv", b""),
    ],
)
def test_a_bad_csv_shows_the_servers_one_line_message(
    watched: Watched, studio: Studio, name: str, content: bytes
) -> None:
    page = watched.page
    watched.allowed_errors.append("status of 400")  # the refused request, as Chromium logs it
    page.goto(studio.url)
    idle(page)
    page.set_input_files(
        "[data-testid=csv]", {"name": name, "mimeType": "text/csv", "buffer": content}
    )
    error = page.locator("[data-testid=error]")
    error.wait_for(state="visible")
    idle(page)
    # the same file through the API, as the page sends it: the upload, then a session
    # on its last column (the target the page picks first)
    status, body = studio.api(
        "POST", "/api/uploads", content, **{"Content-Type": "text/csv", "X-Filename": name}
    )
    if status == 200:
        setup = json.dumps({"upload": body["upload"], "target": body["columns"][-1]}).encode()
        status, body = studio.api(
            "POST", "/api/sessions", setup, **{"Content-Type": "application/json"}
        )
    assert status == 400
    assert error.inner_text() == body["error"]
    assert name in body["error"]
    assert "\n" not in error.inner_text()


def test_the_url_reopens_the_same_network_at_the_same_step(
    watched: Watched, studio: Studio, browser: Any
) -> None:
    page = watched.page
    open_example(page, studio, "house-prices")
    page.fill("[data-testid=seed]", "3")
    page.dispatch_event("[data-testid=seed]", "change")
    idle(page)
    take_step(page)
    for _ in range(5):
        page.click("[data-testid=next-stage]")
    shared = page.url
    assert "token" not in shared  # a shared link must not carry the token
    heading = page.inner_text("[data-testid=stage-panel]")
    loss = page.get_attribute("[data-testid=loss]", "title")

    again = page.context.new_page()
    again.goto(shared)  # the same browser: the cookie the server set stands for the token
    idle(again)
    assert again.get_attribute("[data-testid=loss]", "title") == loss
    assert again.inner_text("[data-testid=stage-panel]") == heading
    assert again.input_value("[data-testid=seed]") == "3"


@pytest.mark.parametrize("width,height", [(1280, 720), (800, 900)])
def test_screenshots_of_each_phase(
    browser: Any, studio: Studio, artifacts: Path, width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    seen = Watched(page, studio)
    open_example(page, studio, "house-prices")
    take_step(page)

    def shoot(name: str) -> None:
        path = artifacts / f"studio-{width}-{name}.png"
        # a narrow window stacks the panels and scrolls: the whole page, top to bottom
        page.screenshot(path=str(path), full_page=width < 1100)
        assert path.stat().st_size > 10_000

    shoot("1-forward")
    for _ in range(40):
        if kicker(page).startswith("The loss"):
            break
        page.keyboard.press("ArrowRight")
    shoot("2-loss")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    shoot("3-backward")
    _, total = stage_count(page)
    for _ in range(total):
        page.keyboard.press("ArrowRight")
    shoot("4-update")
    page.click("[data-testid=param-Wih]")
    shoot("5-parameter")
    page.select_option("[data-testid=example]", "moons")
    idle(page)
    page.fill("[data-testid=epochs]", "200")
    page.click("[data-testid=train]")
    page.wait_for_function(
        f"() => {EPOCH} >= 200"
        " && !document.querySelector('[data-testid=train]').classList.contains('running')"
    )
    idle(page)
    shoot("6-trained")
    take_step(page)
    for _ in range(40):
        if kicker(page).startswith("Backward"):
            break
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    shoot("7-trained-step")
    context.close()
    print(f"studio screenshots: {artifacts}")
    assert not seen.problems, "\n".join(seen.problems)
