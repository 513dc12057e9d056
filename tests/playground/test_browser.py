"""The page in a real browser: headless Chromium driven by Playwright.

Runs in the default suite when Playwright for Python and a Chromium executable
are present (Debian's ``chromium`` package, or the executable named by
``NEURONA_CHROMIUM``); otherwise every test here is reported as skipped with
what is missing. One browser serves the whole module.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
import urllib.parse

import numpy as np
import pytest

import neurona

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = os.environ.get("NEURONA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
_missing = []
if sync_playwright is None:
    _missing.append("Playwright for Python is not installed (pip install playwright)")
if os.environ.get("NEURONA_CHROMIUM") and not os.path.exists(CHROMIUM):
    _missing.append(f"NEURONA_CHROMIUM={CHROMIUM} does not exist")
elif not CHROMIUM:
    _missing.append("no Chromium executable found (apt-get install chromium, or set NEURONA_CHROMIUM)")
for _module in ("starlette", "uvicorn", "PIL"):
    try:
        __import__(_module)
    except ImportError:
        _missing.append(f"{_module} is not installed (pip install 'neurona[test]')")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bool(_missing), reason="browser tests not run: " + "; ".join(_missing))]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server():
    from .helpers import running_server

    with running_server() as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, accept_downloads=True,
            viewport={"width": 1400, "height": 1200})
        yield context
        context.close()


@pytest.fixture
def page(browser, server):
    pg = browser.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(15000)
    yield Page(pg, server)
    pg.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def wait_js(pg, expression: str, timeout: float = 15.0):
    """Poll a JavaScript expression from Python until it is true (the page's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while True:
        if pg.evaluate(expression):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


class Page:
    """The page under test, with the few helpers the tests share."""

    def __init__(self, pg, base):
        self.pg, self.base = pg, base

    def open(self, hash_=""):
        self.pg.goto(self.base + "/" + (("#" + hash_) if hash_ else ""))
        wait_js(self.pg, "document.querySelector('[data-testid=train-loss]').textContent !== '\\u2013'")
        return self

    def el(self, testid):
        return self.pg.locator(f"[data-testid={testid}]")

    def text(self, testid):
        return self.el(testid).text_content()

    def number(self, testid):
        return float(self.text(testid))

    def wait_text(self, testid, predicate, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            value = self.text(testid)
            if predicate(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{testid} stayed {value!r}")
            time.sleep(0.05)

    def epoch(self):
        return int(self.text("epoch"))

    def message(self):
        box = self.el("message")
        box.wait_for(state="visible")
        return box.text_content()


def not_blank(png: bytes, min_colours: int = 8) -> bool:
    """A screenshot with real content: several colours and some contrast."""
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.float64)
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    return colours >= min_colours and img.std() > 8


def test_spiral_play_pause_reset(page, tmp_path):
    page.open()
    assert not_blank(page.el("boundary").screenshot())
    page.el("dataset").select_option("spiral")
    page.wait_text("epoch", lambda t: t == "0")
    wait_js(page.pg, "location.hash.includes('dataset=spiral')")
    before = page.number("test-loss")
    page.el("play").click()
    page.wait_text("epoch", lambda t: int(t) >= 40, timeout=20)
    assert page.number("test-loss") < before
    assert int(page.text("fps")) > 0 and int(page.text("steps-per-second")) > 0
    for testid in ("boundary", "loss-chart", "network", "histograms"):
        shot = page.el(testid).screenshot(path=str(tmp_path / f"{testid}.png"))
        assert not_blank(shot), f"{testid} looks blank"
    page.el("play").click()  # pause
    wait_js(page.pg, "document.querySelector('[data-testid=play]').getAttribute('aria-label') === 'play'")
    time.sleep(0.3)
    paused = page.epoch()
    time.sleep(0.6)
    assert page.epoch() == paused
    page.el("reset").click()
    page.wait_text("epoch", lambda t: t == "0")
    page.el("step").click()
    page.wait_text("epoch", lambda t: t == "1")


def test_a_link_can_start_training(page):
    from neurona.playground.cli import page_url

    url = page_url(page.base + "/", "spiral")
    page.pg.goto(url)
    page.wait_text("epoch", lambda t: t.isdigit() and int(t) >= 3)
    assert page.el("dataset").input_value() == "spiral" and "play=" not in page.pg.url
    page.el("play").click()


def test_layers_neurons_features_and_the_address(page):
    page.open("dataset=xor&hidden=3,3&activation=relu&noise=10")
    assert page.el("activation").input_value() == "relu"
    assert page.text("layer-count") == "2 hidden layers"
    assert page.pg.locator(".node.neuron").count() == 6
    page.el("add-layer").click()
    page.wait_text("layer-count", lambda t: t == "3 hidden layers")
    page.el("add-neuron-0").click()
    wait_js(page.pg, "document.querySelectorAll('.node.neuron').length === 10")
    page.el("remove-neuron-1").click()
    wait_js(page.pg, "document.querySelectorAll('.node.neuron').length === 9")
    page.el("feature-sinx1").click()
    wait_js(page.pg, "location.hash.includes('features=x1%2Cx2%2Csinx1')")
    assert "hidden=4%2C2%2C3" in page.pg.url or "hidden=4,2,3" in urllib.parse.unquote(page.pg.url)
    # a link reproduces the setup in a new tab
    other = page.pg.context.new_page()
    try:
        other.goto(page.pg.url)
        wait_js(other, "document.querySelectorAll('.node.neuron').length === 9")
        assert other.locator("[data-testid=activation]").input_value() == "relu"
    finally:
        other.close()


def test_switch_optimizer(page):
    page.open()
    assert page.el("momentum").is_hidden()
    page.el("optimizer").select_option("rmsprop")
    page.el("alpha").wait_for(state="visible")
    assert page.el("momentum").is_hidden()
    assert "rmsprop" in page.message()  # the learning rate moved to RMSProp's usual start
    wait_js(page.pg, "location.hash.includes('optimizer=rmsprop')")
    assert page.el("learning-rate").input_value() == "0.003"
    page.el("alpha").fill("0.9")
    page.el("alpha").dispatch_event("change")
    wait_js(page.pg, "location.hash.includes('alpha=0.9&') || location.hash.endsWith('alpha=0.9')")
    page.el("step").click()
    page.wait_text("epoch", lambda t: t == "1")


def test_regression_and_back(page):
    page.open()
    page.el("problem").select_option("regression")
    wait_js(page.pg, "location.hash.includes('dataset=plane')")
    assert page.el("loss").is_disabled() and page.el("loss").input_value() == "squared_error"
    page.el("dataset").select_option("multigauss")
    page.el("step").click()
    page.wait_text("epoch", lambda t: t == "1")
    assert not_blank(page.el("boundary").screenshot())
    page.el("problem").select_option("classification")
    wait_js(page.pg, "location.hash.includes('dataset=circle')")
    assert page.el("loss").input_value() == "cross_entropy" and not page.el("loss").is_disabled()


def test_upload_a_csv_and_add_points_by_clicking(page, tmp_path):
    page.open()
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(90, 2)) * 3
    labels = np.where(pts[:, 0] > 1, "high", np.where(pts[:, 1] > 0, "mid", "low"))
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("a,b,kind\n" + "\n".join(f"{x:.3f},{y:.3f},{k}" for (x, y), k in zip(pts, labels)))
    page.el("upload").set_input_files(str(csv_path))
    page.wait_text("point-count", lambda t: t == "90")
    assert "90 points, 3 classes" in page.message()
    assert page.el("dataset").input_value() == "custom"
    assert page.pg.locator("[data-testid=output-2]").count() == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,0\n3,4\n")
    page.el("upload").set_input_files(str(bad))
    wait_js(page.pg, "document.querySelector('[data-testid=message]').textContent.includes('line 2')")
    assert page.el("message").is_visible()

    page.el("click-mode").select_option("add")
    page.el("class-2").click()
    box = page.el("boundary").bounding_box()
    page.el("boundary").click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.25})
    page.wait_text("point-count", lambda t: t == "91")
    page.el("boundary").click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.7})
    page.wait_text("point-count", lambda t: t == "92")
    page.el("play").click()
    page.wait_text("epoch", lambda t: int(t) >= 5)
    page.el("play").click()


def test_download_the_model_and_the_code(page, tmp_path):
    page.open("dataset=gauss&classes=3&hidden=5&optimizer=adam&lr=0.03")
    page.el("step").click()
    page.wait_text("epoch", lambda t: t == "1")
    with page.pg.expect_download() as d:
        page.el("download-model").click()
    path = tmp_path / "model.npz"
    d.value.save_as(path)
    model = neurona.io.load(path)
    meta = neurona.io.read_model_file(path).metadata
    assert meta["class_names"] == ["0", "1", "2"] and meta["epochs"] == 1
    out = model(neurona.tensor(np.array([[2.0, 2.0], [-2.0, 0.0]], np.float32)))
    assert out.shape == (2, 3)
    with page.pg.expect_download() as d:
        page.el("download-code").click()
    code_path = tmp_path / "playground_train.py"
    d.value.save_as(code_path)
    code = code_path.read_text()
    compile(code, str(code_path), "exec")
    assert "optim.Adam(" in code and "CLASSES = 3" in code


def test_compare_two_settings(page, tmp_path):
    page.open("dataset=circle&hidden=4")
    page.el("compare").click()
    page.el("boundary-b").wait_for(state="visible")
    page.el("activation").select_option("relu")
    wait_js(page.pg, "document.querySelector('#caption-b').textContent.includes('activation tanh')")
    page.el("play").click()
    page.wait_text("epoch", lambda t: int(t) >= 10)
    page.el("play").click()
    assert not_blank(page.el("boundary-b").screenshot(path=str(tmp_path / "boundary-b.png")))
    assert not_blank(page.el("loss-chart").screenshot())
    page.el("compare").click()
    page.el("boundary-b").wait_for(state="hidden")


def test_a_points_forward_values_and_deltas(page):
    page.open("dataset=gauss&hidden=3")
    page.el("show-test").check()
    box = page.el("boundary").bounding_box()
    # a click near the blob around (2, 2)
    page.el("boundary").click(position={"x": box["width"] * (8 / 12), "y": box["height"] * (4 / 12)})
    table = page.el("deltas")
    table.wait_for()
    text = table.text_content()
    assert "δ layer 1" in text and "δ output (2)" in text and "s⁽⁰⁾ (inputs)" in text
    assert "ClassicMLP" in page.el("inspect-panel").text_content()
    assert "δ" in page.el("neuron-0-0").text_content()


def test_refusals_are_visible(page):
    page.open("hidden=64")
    assert "hidden" in page.message() and "1 to 32" in page.message()
    page.el("remove-neuron-0").wait_for()  # the rest of the address applied: the default network stays
    for _ in range(2):
        page.el("remove-layer").click()
    page.wait_text("layer-count", lambda t: t == "0 hidden layers")
    assert page.el("remove-layer").is_disabled()


def test_each_tab_has_a_session_freed_on_close(browser, server):
    from .helpers import health, wait_until

    wait_until(lambda: health(server)["sessions"] == 0)  # the other tests' tabs are closed
    start = 0
    tabs = [browser.new_page() for _ in range(2)]
    try:
        for t in tabs:
            t.goto(server + "/")
            wait_js(t, "document.querySelector('[data-testid=train-loss]').textContent !== '\\u2013'")
        wait_until(lambda: health(server)["sessions"] == start + 2)
        tabs[0].locator("[data-testid=dataset]").select_option("xor")
        wait_js(tabs[0], "location.hash.includes('dataset=xor')")
        assert tabs[1].locator("[data-testid=dataset]").input_value() == "circle"
        tabs.pop(0).close()
        wait_until(lambda: health(server)["sessions"] == start + 1)
    finally:
        for t in tabs:
            t.close()
    wait_until(lambda: health(server)["sessions"] == start)
