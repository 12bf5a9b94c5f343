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
from minicnn.lab import LabApp
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
    assert js(driver, "return document.querySelectorAll('#bp-detail canvas').length") == 1   # dL/d input
    click(driver, "bp-prev")
    assert js(driver, "return document.getElementById('bp-counter').dataset.step") == str(n - 2)


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
