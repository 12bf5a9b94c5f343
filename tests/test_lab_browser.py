"""minicnn lab in a real browser: headless Chromium, driven by selenium with pointer events.

The page starts without a model, trains one live (the curve and the filters must change in the
DOM), draws a real MNIST '3' traced stroke by stroke with the mouse and a '1' with a finger (the
class the page shows must be the API's for the very same canvas), steps through backprop, and
takes the screenshots of ``minicnn lab --screenshots``.

Where Chromium, chromedriver or selenium is missing these tests skip, and the reason (in the summary
that ``-ra`` prints) says which is missing and how to get it; with ``MINICNN_REQUIRE_BROWSER=1``
(``make test`` sets it where it can install them itself: as root with apt-get) they fail instead.
"""
import json
import os
import sys
import time
import urllib.request

import numpy as np
import pytest
from minicnn.checkpoint import load_checkpoint
from minicnn.lab import LabApp, decode
from minicnn.lab.browser import (BrowserUnavailable, click, digit_strokes, draw, fill_form, find_chromium, pad_image,
                                 show, start_browser, tour, wait_for, wait_for_prediction)
from minicnn.lab import trainer
from minicnn.lab.server import LabServer
from minicnn.train import train_step

TRAINING = {"optimizer": "adam", "lr": 0.001, "limit": 3200, "test_limit": 200, "every": 5}


REQUIRE = "MINICNN_REQUIRE_BROWSER"


def browser_or_skip():
    """Chromium and its driver; else a failure where ``$MINICNN_REQUIRE_BROWSER`` is 1, a skip that says why elsewhere."""
    required = os.environ.get(REQUIRE, "")
    if required not in ("", "0", "1"):  # a typo must not turn a required run into a silent skip
        pytest.fail(f"{REQUIRE}={required!r}: expected 1 (the browser tests must run) or 0 / unset (they may skip)",
                    pytrace=False)
    try:
        return find_chromium()
    except BrowserUnavailable as exc:
        if required == "1":
            pytest.fail(f"{REQUIRE}=1 (`make test` sets it as root with apt-get) but {exc}", pytrace=False)
        pytest.skip(f"the lab's page was NOT tested in a browser: {exc}. `make test` installs Chromium only as root "
                    f"with apt-get, and `make test` then sets {REQUIRE}=1, which makes a missing browser fail")


@pytest.fixture(scope="module")
def lab(mnist_root, tmp_path_factory):
    """``(app, server, driver)``: a lab without a checkpoint, served on a free port, the page open."""
    browser_or_skip()
    app = LabApp(None, mnist_root, tmp_path_factory.mktemp("runs"))
    server = LabServer(app, port=0)
    server.serve_in_thread()
    driver = start_browser()
    driver.get(server.url)
    wait_for(driver, "return document.body.dataset.ready === '1'", 30, "the page")
    yield app, server, driver
    driver.quit()
    server.shutdown()
    server.server_close()


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def api_predict(server, image):
    """What the API answers for ``image``, over HTTP as the page asks."""
    req = urllib.request.Request(server.url + "api/predict", json.dumps({"image": image, "layers": False}).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def canvas_png(driver, selector):
    return js(driver, f"return document.querySelector('{selector}').toDataURL()")


def ensure_trained(app, driver):
    if not app.info()["has_model"]:
        show(driver, "train")
        fill_form(driver, TRAINING)
        click(driver, "train-start")
        wait_for(driver, "return document.getElementById('train-state').dataset.state === 'done'", 120)


def test_train_live_curve_and_filters_update(lab, monkeypatch):
    app, server, driver = lab
    # at least 40 ms a step, so that on any machine the run is still going when Pause is pressed
    monkeypatch.setattr(trainer, "train_step", lambda *args: (time.sleep(0.04), train_step(*args))[1])
    assert driver.find_element("id", "no-model").is_displayed()      # no checkpoint: it offers to train
    click(driver, "goto-train")
    assert js(driver, "return document.body.dataset.view") == "train"
    fill_form(driver, TRAINING)
    click(driver, "train-start")
    wait_for(driver, "return Number(document.getElementById('filters').dataset.version) >= 1"
                     " && Number(document.getElementById('loss-chart').dataset.points) >= 5", 60, "a first snapshot")
    chart, filters = canvas_png(driver, "#loss-chart"), canvas_png(driver, "#filters canvas")
    version = int(js(driver, "return document.getElementById('filters').dataset.version"))

    click(driver, "train-pause")
    wait_for(driver, "return document.getElementById('train-state').dataset.state === 'paused'", 30)
    points = int(js(driver, "return document.getElementById('loss-chart').dataset.points"))
    step = app.train_status()["step"]
    assert points <= step < 50
    assert driver.find_element("id", "train-resume").is_enabled()
    assert not driver.find_element("id", "train-start").is_enabled()
    click(driver, "train-resume")
    wait_for(driver, "return document.getElementById('train-state').dataset.state === 'done'", 120, "the run")

    assert int(js(driver, "return document.getElementById('loss-chart').dataset.points")) == 50
    assert int(js(driver, "return document.getElementById('filters').dataset.version")) > version
    assert canvas_png(driver, "#loss-chart") != chart                       # the curve grew
    assert canvas_png(driver, "#filters canvas") != filters                 # filter 0 changed
    assert js(driver, "return document.querySelectorAll('#filters canvas').length") == 32
    assert js(driver, "return document.querySelectorAll('#filter-grads canvas').length") == 32
    assert js(driver, "return document.querySelectorAll('#norms tr').length") == 1 + 8
    assert js(driver, "return document.querySelectorAll('#digit-layers .layer').length") == 6
    progress = driver.find_element("id", "train-progress").text
    status = app.train_status()
    assert f"saved in {status['out']}" in progress and "final test accuracy" in progress
    # the saved path wraps inside Settings instead of widening it; the chart keeps its width
    assert js(driver, "return document.getElementById('settings-panel').getBoundingClientRect().width") <= 320
    assert js(driver, "return document.getElementById('loss-chart').getBoundingClientRect().width") >= 600
    assert "trained in this lab (run done), its weights at step 50" in driver.find_element("id", "model-info").text
    assert load_checkpoint(f"{status['out']}/checkpoint.npz").model["name"] == "simplecnn"


def test_draw_a_traced_three_with_the_mouse(lab):
    app, server, driver = lab
    ensure_trained(app, driver)
    show(driver, "draw")
    click(driver, "clear")
    digit = app.digit(30)
    assert digit["label"] == 3
    strokes = digit_strokes(1.0 - np.array(digit["pixels"]))
    draw(driver, strokes)
    shown = wait_for_prediction(driver)
    assert js(driver, "return document.getElementById('pad').dataset.strokes") == str(len(strokes))
    answer = api_predict(server, pad_image(driver))
    assert shown == answer["class"] == 3
    assert int(js(driver, "return document.getElementById('bars').dataset.top")) == 3
    # the 28x28 input, and every layer's maps: 32 + 32 + 64 + 64 maps and two vectors
    ink = js(driver, "const c = document.getElementById('input28').getContext('2d');"
                     "return c.getImageData(0, 0, 168, 168).data.filter((v, i) => i % 4 === 0 && v > 128).length")
    assert ink > 500
    counts = js(driver, "return [...document.querySelectorAll('#layers .maps')].map(m => m.children.length)")
    assert counts == [32, 32, 64, 64, 1, 1]
    js(driver, "document.querySelectorAll('#layers .maps')[2].children[7].click()")
    wait_for(driver, "return document.getElementById('filter-panel').dataset.filter === 'conv2.weight:7'", 30)
    assert js(driver, "return document.querySelectorAll('#filter-view .filter-grid canvas').length") == 32
    assert_pictures_are_sharp_with_a_scale(driver, "#layers, #filter-view")
    # the logits are labelled by class; every cell tells its value under the pointer
    assert js(driver, "return [...document.querySelectorAll('#layers .classes span')].map(s => s.textContent)") == \
        [str(k) for k in range(10)]
    hover(driver, "#layers .classes canvas", 3)
    readout = driver.find_element("id", "hover-value").text
    assert readout.startswith("fc2 (logits) class 3 = ")
    assert float(readout.split("= ")[1]) == pytest.approx(readout_logit(app, driver), abs=1e-3)
    assert driver.find_element("id", "draw-weights").text.startswith("weights: simplecnn trained in this lab")
    click(driver, "clear")   # a new drawing: the old filter goes too
    assert not driver.find_element("id", "filter-panel").is_displayed()
    assert js(driver, "return document.querySelectorAll('#filter-view canvas').length") == 0


def hover(driver, selector, index=0):
    """Move the mouse onto the centre of the ``index``-th element matching ``selector``."""
    from selenium.webdriver.common.action_chains import ActionChains
    element = driver.find_elements("css selector", selector)[index]
    ActionChains(driver).move_to_element(element).perform()


def readout_logit(app, driver):
    """Logit 3 of the drawing on the pad, as the API computes it."""
    answer = app.predict(pad_image(driver))
    fc2 = next(layer for layer in answer["layers"] if layer["name"] == "fc2")
    return float(decode(fc2["values"])[3])


def assert_pictures_are_sharp_with_a_scale(driver, selector):
    """Every canvas under ``selector`` is drawn without smoothing, and every layer's picture has its colour scale."""
    rendering = js(driver, f"return [...document.querySelectorAll('{', '.join(s.strip() + ' canvas' for s in selector.split(','))}')]"
                           ".map(c => getComputedStyle(c).imageRendering)")
    assert rendering and set(rendering) == {"pixelated"}
    layers = js(driver, f"return [...document.querySelectorAll('{selector.split(',')[0]} .layer')]"
                        ".map(l => l.querySelectorAll('.scale canvas').length)")
    assert layers and set(layers) == {1}


def test_a_dot_warns_and_a_blank_drawing_says_so(lab):
    app, server, driver = lab
    ensure_trained(app, driver)
    show(driver, "draw")
    click(driver, "clear")
    draw(driver, [[(140, 140), (141, 141)]])
    wait_for_prediction(driver)
    status = driver.find_element("id", "draw-status")
    assert "very little ink" in status.text and "warn" in status.get_attribute("class")
    click(driver, "clear")                      # a blank pad sent to Backprop: a sentence, not a traceback
    show(driver, "backprop")
    js(driver, "document.querySelector('input[name=bp-source][value=drawing]').click()")
    click(driver, "bp-run")
    wait_for(driver, "return !document.getElementById('error').hidden", 30, "the error")
    assert driver.find_element("id", "error").text.startswith("the drawing is blank: draw a digit first")
    show(driver, "draw")                        # the error stays with its view
    assert not driver.find_element("id", "error").is_displayed()
    js(driver, "document.querySelector('input[name=bp-source][value=digit]').click()")


def test_draw_a_one_with_a_finger(lab):
    app, server, driver = lab
    ensure_trained(app, driver)
    show(driver, "draw")
    click(driver, "clear")
    draw(driver, [[(140, 50), (140, 120), (138, 180), (137, 235)]], pointer="touch")
    shown = wait_for_prediction(driver)
    assert shown == api_predict(server, pad_image(driver))["class"] == 1


def test_backprop_one_click_at_a_time(lab):
    app, server, driver = lab
    ensure_trained(app, driver)
    show(driver, "backprop")
    click(driver, "bp-run")
    wait_for(driver, "return document.getElementById('bp-counter').dataset.step === '0'", 60, "the steps")
    n = js(driver, "return document.querySelectorAll('#bp-steps li').length")
    assert n == 24
    seen = []
    for i in range(n):
        title = driver.find_element("id", "bp-title").text
        seen.append((title, driver.find_element("id", "bp-formula").text))
        assert js(driver, "return document.querySelectorAll('#bp-steps li.done').length") == i + 1
        if i < n - 1:
            click(driver, "bp-next")
    assert not driver.find_element("id", "bp-next").is_enabled()
    assert seen[0][0] == "forward input (input), output 1×28×28"
    conv1_back = next(f for t, f in seen if "backward" in t and "conv1" in t)
    assert "col2im" in conv1_back
    relu = next(f for t, f in seen if "backward" in t and "relu1" in t)
    assert relu == "dx = G ⊙ [x > 0]"
    # the last step: the input beside the gradient that reached it
    assert js(driver, "return [...document.querySelectorAll('#bp-detail .layer-title')].map(t => t.firstChild.textContent)"
              ) == ["its output, input ", "G = dL/d input: arriving "]
    assert_pictures_are_sharp_with_a_scale(driver, "#bp-detail")
    doc = driver.find_element("css selector", "#bp-doc a")
    assert doc.get_attribute("href").endswith("/docs/backprop#the-one-idea")
    click(driver, "bp-prev")
    assert js(driver, "return document.getElementById('bp-counter').dataset.step") == str(n - 2)
    # conv1's backward: its output, the gradient arriving, and what it passes back to its input
    js(driver, "[...document.querySelectorAll('#bp-steps li')].find(li => li.textContent === '← conv1').click()")
    titles = js(driver, "return [...document.querySelectorAll('#bp-detail .layer-title')].map(t => t.firstChild.textContent)")
    assert titles[:3] == ["its output, conv1 ", "G = dL/d conv1: arriving ", "dL/d input: passed back "]
    assert "x̃: x with its zero padding" in driver.find_element("id", "bp-where").text
    assert "_{" not in "".join(f for _, f in seen)
    # the hint to choose a wrong class shows exactly when the model is sure and the gradients tiny
    loss = js(driver, "return bpRun.loss")
    assert driver.find_element("id", "bp-hint").is_displayed() == (loss < 0.01)
    driver.find_element("id", "bp-label").send_keys("3")
    click(driver, "bp-run")
    wait_for(driver, "return bpRun.label === 3 && document.getElementById('bp-counter').dataset.step === '0'", 60)
    assert not driver.find_element("id", "bp-hint").is_displayed()
    driver.find_element("id", "bp-label").clear()


def test_every_view_fits_a_phone(lab):
    """390 px wide: nothing wider than the window in any view or backprop step, and the step list leaves room."""
    app, server, driver = lab
    ensure_trained(app, driver)
    driver.set_window_size(390, 844)
    try:
        assert js(driver, "return window.innerWidth") == 390
        width = "return document.documentElement.scrollWidth"
        for view in ("train", "draw"):
            show(driver, view)
            assert js(driver, width) <= 390, view
        show(driver, "backprop")
        click(driver, "bp-run")
        wait_for(driver, "return document.getElementById('bp-counter').dataset.step === '0'", 60, "the steps")
        assert js(driver, "return document.getElementById('bp-steps').getBoundingClientRect().height") <= 0.3 * 844 + 1
        for i in range(js(driver, "return bpSteps.length")):
            js(driver, "showStep(arguments[0])", i)
            assert js(driver, width) <= 390, (i, js(driver, "return bpSteps[arguments[0]].name", i))
    finally:
        driver.set_window_size(1400, 1000)


def test_screenshots_of_every_view(lab, tmp_path):
    app, server, driver = lab
    ensure_trained(app, driver)
    paths = tour(driver, server.url, app, tmp_path, training={**TRAINING, "limit": 640})
    assert sorted(p.name for p in paths) == ["backprop-backward.png", "backprop-forward.png", "draw.png", "train.png"]
    for p in paths:
        head = p.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert width == 1400 and height >= 600


# --------------------------------------------------------------------------- the gate itself, no browser needed
def no_browser(monkeypatch):
    def missing():
        raise BrowserUnavailable("chromium and chromedriver not found (Debian: apt-get install chromium chromium-driver)")
    monkeypatch.setattr(sys.modules[__name__], "find_chromium", missing)


def test_a_missing_browser_fails_where_it_is_required(monkeypatch):
    no_browser(monkeypatch)
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match=r"MINICNN_REQUIRE_BROWSER=1 .* but chromium and chromedriver "
                                                    r"not found \(Debian: apt-get install"):
        browser_or_skip()


@pytest.mark.parametrize("value", [None, "", "0"])
def test_a_missing_browser_skips_elsewhere_saying_why_and_how(monkeypatch, value):
    no_browser(monkeypatch)
    if value is None:
        monkeypatch.delenv(REQUIRE, raising=False)
    else:
        monkeypatch.setenv(REQUIRE, value)
    with pytest.raises(pytest.skip.Exception) as skipped:
        browser_or_skip()
    reason = str(skipped.value)
    assert "NOT tested in a browser: chromium and chromedriver not found" in reason
    assert "apt-get install chromium chromium-driver" in reason and "MINICNN_REQUIRE_BROWSER=1" in reason


@pytest.mark.parametrize("value", ["yes", "true", " 1"])
def test_a_misspelt_requirement_fails_rather_than_skips(monkeypatch, value):
    no_browser(monkeypatch)
    monkeypatch.setenv(REQUIRE, value)
    with pytest.raises(pytest.fail.Exception, match=r"expected 1 \(the browser tests must run\)"):
        browser_or_skip()


def test_your_kernels_are_shown_beside_minicnns(lab, tmp_path):
    """``minicnn lab --kernels DIR``: a relu backward without its mask is marked at the first step it changes."""
    from minicnn.exercises import workbook
    from minicnn.exercises.catalog import BY_NAME
    app, server, driver = lab
    ensure_trained(app, driver)
    workbook.init(tmp_path / "ws")
    (tmp_path / "ws" / BY_NAME["relu"].file).write_text(
        "import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0), x\n\n"
        "def relu_backward(dout, cache):\n    return dout\n")
    app.kernels = str(tmp_path / "ws")
    try:
        show(driver, "backprop")
        click(driver, "bp-run")
        wait_for(driver, "return bpRun && bpRun.yours && document.getElementById('bp-counter').dataset.step === '0'", 60)
        summary = driver.find_element("id", "bp-yours")
        assert summary.is_displayed() and "first differ from minicnn's at step 16, backward fc1" in summary.text
        assert "look at relu3, backward" in summary.text
        assert js(driver, "return [...document.querySelectorAll('#bp-steps li.wrong')].map(li => li.textContent)") == \
            ["← fc1 ✗"]
        js(driver, "showStep(15)")
        assert js(driver, "return document.querySelectorAll('#bp-detail .yours.wrong .layer').length") == 1
        js(driver, "showStep(2)")
        assert js(driver, "return document.querySelectorAll('#bp-detail .yours.same').length") == 1
    finally:
        app.kernels = None
