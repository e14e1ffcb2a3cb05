"""The HTML reports in a real browser (headless Chromium): nothing overflows, formulas are
readable.

Chromium is Debian's (``/usr/bin/chromium``; ``make test`` installs it where apt-get can),
driven by the ``playwright`` package. Each report is loaded at 800 and 1280 px: the page
must not scroll sideways; no paragraph, equation, figure or box may reach past the text
column, and no equation or figure may need a scroll bar; no formula may be wider than the
element that holds it (a data table wider than the column scrolls inside its own box,
its cells intact); every fraction's numerator and denominator must be set at a readable
size (at least 14 px), not at script size. Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.explain.examples import house_prices, softmax_classifier

playwright = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

WIDTHS = (800, 1280)
#: The smallest font size, in px, of a fraction's numerator or denominator.
MIN_FRACTION_PX = 14.0


def _browser_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _deep_step():
    """Four layers and a batch of three: long chains, long loss lines, wide matrices."""
    layers: list[nn.Module] = []
    sizes = [3, 8, 8, 8, 2]
    for k, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(a, b, dtype=np.float64, rng=k), nn.Tanh()]
    model = nn.Sequential(*layers[:-1])
    X = np.random.default_rng(0).normal(size=(3, 3)) * 1e-6
    Y = np.random.default_rng(1).normal(size=(3, 2)) * -1
    return cr.explain(model, X, Y, nn.MSELoss(), lr=0.1)


# Every measurement in one script: elements that stick out of the column they sit in,
# the page's sideways scroll, and the font size of every fraction's parts.
MEASURE = """
() => {
  const root = document.querySelector('.chainrule');
  const column = root.getBoundingClientRect();
  const style = getComputedStyle(root);
  const right = column.right - parseFloat(style.paddingRight) + 1;
  const out = [];
  const said = (el) => `${el.tagName.toLowerCase()} "${el.textContent.slice(0, 60)}"`;
  for (const el of root.querySelectorAll('math, .eq, .scroll, figure, aside, p, h2, h3')) {
    const box = el.getBoundingClientRect();
    if (!el.closest('.scroll') && box.width > 0 && box.right > right) {
      out.push(`${said(el)} ends at ${box.right.toFixed(0)} px, past the column's `
        + `${right.toFixed(0)} px`);
    }
    if (el.matches('figure, .eq') && el.scrollWidth > el.clientWidth + 1) {
      out.push(`${said(el)} scrolls sideways (${el.scrollWidth} px in ${el.clientWidth} px)`);
    }
  }
  for (const math of root.querySelectorAll('math')) {
    const holder = math.parentElement.getBoundingClientRect();
    const box = math.getBoundingClientRect();
    if (box.width > holder.width + 1) {
      out.push(`${said(math)} is ${box.width.toFixed(0)} px wide in ${holder.width.toFixed(0)} px`);
    }
  }
  const small = [];
  for (const frac of root.querySelectorAll('mfrac')) {
    for (const part of frac.children) {
      const size = parseFloat(getComputedStyle(part).fontSize);
      if (size < %(MIN)s) small.push(`${size.toFixed(1)} px: ${frac.textContent}`);
    }
  }
  return {
    overflow: out,
    small: small,
    fractions: root.querySelectorAll('mfrac').length,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
}
""".replace("%(MIN)s", str(MIN_FRACTION_PX))


@pytest.fixture(scope="module")
def browser():
    path = _browser_path()
    if path is None:
        pytest.skip("no Chromium to drive: apt-get install chromium (make test does it as root)")
    with playwright.sync_playwright() as driver:
        try:
            launched = driver.chromium.launch(executable_path=path, args=["--no-sandbox"])
        except Exception as error:  # a browser that cannot start is no browser
            pytest.skip(f"Chromium at {path} does not start: {str(error).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture(scope="module", params=["house-prices", "softmax-classifier", "four-layer-network"])
def page_html(request):
    if request.param == "house-prices":
        return request.param, house_prices(epochs=30).to_html()
    if request.param == "softmax-classifier":
        return request.param, softmax_classifier().to_html()
    return request.param, _deep_step().to_html()


@pytest.mark.parametrize("width", WIDTHS)
def test_report_fits_the_page_and_formulas_are_readable(browser, page_html, width, tmp_path):
    name, html = page_html
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.set_content(html, wait_until="load")
        page.screenshot(path=str(tmp_path / f"{name}-{width}.png"), full_page=True)
        found = page.evaluate(MEASURE)
    finally:
        page.close()
    assert found["scrollWidth"] <= found["innerWidth"], f"{name} scrolls sideways at {width} px"
    assert found["overflow"] == [], "\n".join(found["overflow"])
    assert found["fractions"] > 0
    assert found["small"] == [], "\n".join(found["small"])
