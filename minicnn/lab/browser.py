"""Driving the lab's page in headless Chromium: the browser tests and ``minicnn lab --screenshots``.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``; ``make setup``
installs them when run as root) and the ``selenium`` package (the ``dev`` extra).  Everything the
page is asked to do goes through real pointer events (mouse or touch) and clicks, as a person would.
"""
import shutil
import time
from pathlib import Path

import numpy as np

PAD = 280   #: the drawing pad's size in CSS pixels (and canvas pixels)


class BrowserError(OSError):
    """The browser could not do what was asked (the message says what); ``minicnn`` prints it on one line."""


class BrowserUnavailable(BrowserError):
    """No Chromium, no chromedriver, or no selenium: the message says which and how to install it."""


def find_chromium():
    """``(chromium, chromedriver)`` paths; raises :class:`BrowserUnavailable` naming what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        raise BrowserUnavailable("selenium is not installed (pip install 'minicnn[dev]')") from None
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        raise BrowserUnavailable(f"{missing} not found (Debian: apt-get install chromium chromium-driver)")
    return browser, driver


def start_browser(width=1400, height=1000):
    """A headless Chromium WebDriver session with a ``width`` x ``height`` window."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    browser, driver = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "--force-device-scale-factor=1", "--hide-scrollbars"):
        options.add_argument(arg)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_window_size(width, height)   # --window-size stops at 500 px wide: a phone's 390 needs this
    return session


def wait_for(driver, script, timeout=60.0, what=None, *args):
    """Poll the JavaScript ``script`` (``return ...``, given ``args``) until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = driver.execute_script(script, *args)
        if value:
            return value
        if time.monotonic() > deadline:
            raise BrowserError(f"waited {timeout:.0f} s for {what or script}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- drawing
def digit_strokes(ink, threshold=0.5):
    """Trace a (28, 28) digit (ink near 1) as horizontal strokes on the pad: one per run of ink in a row.

    The page's pen is two digit pixels wide with round ends, so each stroke is drawn a pixel short
    and the trace keeps the digit's width.  Returns a list of strokes, each a list of ``(x, y)`` pad pixels.
    """
    cell = PAD / ink.shape[1]
    strokes = []
    for r, row in enumerate(np.asarray(ink) > threshold):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c + 1 < len(row) and row[c + 1]:
                    c += 1
                y = (r + 0.5) * cell
                x0, x1 = (start + 1) * cell, max(start + 1, c) * cell
                strokes.append([(x0, y), (x1, y)])
            c += 1
    return strokes


def draw(driver, strokes, pointer="mouse"):
    """Draw ``strokes`` on the pad with pointer events from a ``mouse`` or a ``touch`` (a finger)."""
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    pad = driver.find_element(By.ID, "pad")
    kind = interaction.POINTER_TOUCH if pointer == "touch" else interaction.POINTER_MOUSE
    actions = ActionBuilder(driver, mouse=PointerInput(kind, pointer), duration=0)
    p = actions.pointer_action
    for stroke in strokes:   # offsets are from the element's centre (WebDriver's rule)
        x, y = stroke[0]
        p.move_to(pad, int(x - PAD / 2), int(y - PAD / 2))
        p.pointer_down()
        for x, y in stroke[1:]:
            p.move_to(pad, int(x - PAD / 2), int(y - PAD / 2))
        p.pointer_up()
    actions.perform()


def wait_for_prediction(driver, timeout=60.0):
    """Wait until the page shows the answer for every stroke drawn; returns the class it shows."""
    wait_for(driver, "const p = document.getElementById('pad');"
             "return p.dataset.strokes !== '0' && p.dataset.shown === p.dataset.strokes", timeout, "the prediction")
    return int(driver.find_element("id", "predicted").text)


def pad_image(driver):
    """The pad's picture as the data URL the page sends to /api/predict."""
    return driver.execute_script("return document.getElementById('pad').toDataURL('image/png')")


# --------------------------------------------------------------------------- the tour
def click(driver, element_id):
    driver.find_element("id", element_id).click()


def show(driver, view):
    """Click the tab of ``view`` (``draw``, ``train`` or ``backprop``)."""
    driver.find_element("css selector", f".tab[data-view={view}]").click()


def fill_form(driver, settings):
    """Set the Train form's fields (by name) to ``settings``."""
    for name, value in settings.items():
        driver.execute_script("const e = document.getElementById('train-form').elements[arguments[0]];"
                              "e.value = arguments[1];", name, str(value))


def train_in_page(driver, settings, timeout=300.0):
    """On the Train tab: fill the form, press Start, wait until the run is done."""
    show(driver, "train")
    fill_form(driver, settings)
    before = driver.execute_script("return document.getElementById('train-state').dataset.run || ''")
    click(driver, "train-start")
    wait_for(driver, "const s = document.getElementById('train-state').dataset;"
                     "return s.run !== arguments[0] && ['done', 'stopped', 'error'].includes(s.state)",
             timeout, "the training run", before)
    state = driver.find_element("id", "train-state").text
    if not state.startswith("done"):
        raise BrowserError(f"the training run ended as: {state}")
    wait_for(driver, "return document.getElementById('filters').children.length > 0", 30, "the filters")


def full_page(driver, path, width=1400):
    """Screenshot of the whole page: the window is made as tall as the document first."""
    height = driver.execute_script("return Math.ceil(document.querySelector('main').getBoundingClientRect().bottom"
                                   " + window.scrollY) + window.outerHeight - window.innerHeight")
    driver.set_window_size(width, max(600, min(height + 10, 4000)))
    time.sleep(0.2)
    driver.save_screenshot(str(path))
    return Path(path)


TOUR_TRAINING = {"model": "simplecnn", "optimizer": "adam", "lr": 0.001, "batch_size": 64, "limit": 6400,
                 "test_limit": 2000, "every": 10}


def tour(driver, url, app, out_dir, digit_index=30, training=None):
    """Visit every view as a learner would and save a PNG of each in ``out_dir``; returns the paths.

    Without a model, it trains one first (``training``, default :data:`TOUR_TRAINING`); a checkpoint's
    model is drawn with first and a short run is trained after (its screenshot is of the Train view
    either way).  The drawing is test digit ``digit_index`` traced with the mouse.
    """
    training = TOUR_TRAINING if training is None else training
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    driver.get(url)
    wait_for(driver, "return document.body.dataset.ready === '1'", 30, "the page")
    shots = []
    had_model = app.info()["has_model"]
    if not had_model:
        train_in_page(driver, training)
        shots.append(full_page(driver, out / "train.png"))
    show(driver, "draw")
    d = app.digit(digit_index)
    draw(driver, digit_strokes(1.0 - np.array(d["pixels"])))
    wait_for_prediction(driver)
    wait_for(driver, "return document.querySelectorAll('#layers canvas').length > 100", 30, "the feature maps")
    driver.execute_script("document.querySelectorAll('#layers .layer')[2].querySelectorAll('canvas')[5].click()")
    wait_for(driver, "return !document.getElementById('filter-panel').hidden", 30, "the filter")
    shots.append(full_page(driver, out / "draw.png"))
    show(driver, "backprop")
    driver.execute_script("document.getElementById('bp-digit').value = arguments[0]", str(digit_index))
    click(driver, "bp-run")
    wait_for(driver, "return document.getElementById('bp-counter').dataset.step === '0'", 60, "the steps")
    for _ in range(2):
        click(driver, "bp-next")
    shots.append(full_page(driver, out / "backprop-forward.png"))
    n = driver.execute_script("return bpSteps.length")
    backward_conv2 = driver.execute_script(
        "return bpSteps.findIndex(s => s.phase === 'backward' && s.name === 'conv2')")
    for _ in range(backward_conv2 - 2 if backward_conv2 > 0 else n - 3):
        click(driver, "bp-next")
    shots.append(full_page(driver, out / "backprop-backward.png"))
    if had_model:
        train_in_page(driver, training)
        shots.append(full_page(driver, out / "train.png"))
    return shots


def take_screenshots(app, out_dir):
    """``minicnn lab --screenshots DIR``: serve ``app`` on a free port, tour it in headless Chromium."""
    find_chromium()
    from selenium.common.exceptions import WebDriverException

    from .server import LabServer
    server = LabServer(app, port=0)
    server.serve_in_thread()
    driver = None
    try:
        driver = start_browser()
        return tour(driver, server.url, app, out_dir)
    except WebDriverException as exc:
        raise BrowserError(f"Chromium: {exc.msg or exc}") from None
    finally:
        if driver is not None:
            driver.quit()
        server.shutdown()
        server.server_close()
