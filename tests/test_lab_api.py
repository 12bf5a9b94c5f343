"""minicnn lab without a browser: the JSON API as Python (LabApp) and over HTTP (LabServer).

One short training run (through the lab's own worker) gives the model the other tests use.
"""
import base64
import http.client
import io as bytes_io
import json
import re
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import minicnn
import minicnn.lab
from minicnn import functional as F
from minicnn import nn
from minicnn.checkpoint import load_checkpoint, save_checkpoint
from minicnn.digits import to_mnist
from minicnn.lab import LabApp, LabError, decode
from minicnn.lab.app import normalise
from minicnn.lab.server import MAX_BODY, LabServer
from minicnn.lab.stages import record_modules, stages
from minicnn.models import MODELS
from minicnn.train import logits as train_logits

QUICK = {"optimizer": "adam", "lr": 0.001, "limit": 3200, "test_limit": 200, "every": 25}


def wait_until(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def png_data_url(grey):
    """An (H, W) grey image in [0, 1] as the data URL a canvas gives."""
    from PIL import Image
    buf = bytes_io.BytesIO()
    Image.fromarray(np.round(np.asarray(grey) * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    """A LabApp whose model is a 50-step run of its own training worker (Adam, 3200 images)."""
    lab = LabApp(None, mnist_root, tmp_path_factory.mktemp("runs"))
    lab.train_start(QUICK)
    wait_until(lambda: lab.train_status()["state"] == "done")
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def server(app):
    srv = LabServer(app, port=0)
    srv.serve_in_thread()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(server, method, path, body=None, headers=None):
    """``(status, JSON)`` of one request; ``body`` a dict (sent as JSON) or bytes (sent as they are)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    conn.request(method, path, body=payload, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if r.getheader("Content-Type", "").startswith("application/json") else data


# --------------------------------------------------------------------------- the run and its folder
def test_the_run_folder_is_a_normal_run(app):
    status = app.train_status()
    assert status["step"] == 50 and len(status["losses"]) == 50 and len(status["smoothed"]) == 50
    assert np.mean(status["losses"][-10:]) < np.mean(status["losses"][:10]) * 0.6   # it learned
    ckpt = load_checkpoint(f"{status['out']}/checkpoint.npz")
    assert ckpt.model == {"name": "simplecnn", "kwargs": {}}
    model = minicnn.build_model("simplecnn")
    model.load_state_dict(ckpt.state_dict)
    metrics = json.loads(open(f"{status['out']}/metrics.json").read())
    assert metrics["steps"] == 50 and metrics["stopped"] is False
    assert metrics["test_accuracy"] == status["test_accuracy"] > 70
    assert [a["step"] for a in metrics["accuracies"]] == [25, 50]


def test_the_smoothed_loss_is_the_debiased_moving_average(app):
    losses, smoothed = app.train_status()["losses"], app.train_status()["smoothed"]
    ema = 0.0
    for n, (loss, s) in enumerate(zip(losses, smoothed), 1):
        ema = 0.9 * ema + 0.1 * loss
        assert s == pytest.approx(ema / (1 - 0.9 ** n))
    assert smoothed[0] == pytest.approx(losses[0])


# --------------------------------------------------------------------------- Draw
def test_predict_a_known_digit_and_what_the_network_saw(app):
    digit = app.digit(30)                        # a clear 3, as the page would draw it: dark ink on white
    assert digit["label"] == 3
    answer = app.predict(digit["pixels"])
    assert answer["class"] == 3 and answer["probabilities"][3] > 0.5
    assert sum(answer["probabilities"]) == pytest.approx(1.0)
    seen = decode(answer["input"])
    np.testing.assert_array_equal(seen, to_mnist(np.array(digit["pixels"])))
    # the same numbers as the model's own forward on that input
    logits = train_logits(app._current(), normalise(seen))[0].astype(np.float64)
    p = np.exp(logits - logits.max())
    np.testing.assert_allclose(answer["probabilities"], p / p.sum(), rtol=1e-5, atol=1e-7)


def test_predict_accepts_a_png_data_url_like_the_canvas(app):
    pixels = np.array(app.digit(30)["pixels"])
    big = np.kron(pixels, np.ones((10, 10)))     # 280x280, as the pad
    from_png = app.predict(png_data_url(big), layers=False)
    from_list = app.predict(big.tolist(), layers=False)
    assert "layers" not in from_png
    assert from_png["class"] == from_list["class"] == 3
    np.testing.assert_allclose(from_png["probabilities"], from_list["probabilities"], atol=1e-3)


def test_predict_shows_every_layer_and_filters_name_their_conv(app):
    layers = {layer["name"]: layer for layer in app.predict(app.digit(0)["pixels"])["layers"]}
    assert list(layers) == ["relu1", "pool1", "relu2", "pool2", "relu3", "fc2"]
    assert [layers[n]["shape"] for n in layers] == [[32, 28, 28], [32, 14, 14], [64, 14, 14], [64, 7, 7],
                                                    [128], [10]]
    assert layers["pool2"]["filter"] == "conv2.weight" and layers["relu3"]["filter"] is None
    assert decode(layers["relu1"]["values"]).min() >= 0
    f = app.filter("conv2.weight", 5)
    np.testing.assert_array_equal(decode(f["weights"]), app._current().conv2.weight.data[5])
    assert f["bias"] == pytest.approx(float(app._current().conv2.bias.data[5]))


@pytest.mark.parametrize("call, status, match", [
    (lambda a: a.predict(np.ones((40, 40)).tolist()), 422, "the drawing is blank: draw a digit first"),
    (lambda a: a.predict(png_data_url(np.ones((280, 280)))), 422, "the drawing is blank"),
    (lambda a: a.predict("data:image/png;base64,AAAA"), 400, "not a readable picture"),
    (lambda a: a.predict("data:image/png;base64,***"), 400, "base64"),
    (lambda a: a.predict("hello"), 400, "data URL"),
    (lambda a: a.predict([[0.5, "x"]]), 400, "list of numbers"),
    (lambda a: a.predict([[2.0, 0.0]]), 400, r"\[0, 1\]"),
    (lambda a: a.predict(7), 400, "data URL"),
    (lambda a: a.filter("fc1.weight", 0), 400, "conv weight"),
    (lambda a: a.filter("conv1.weight", 32), 400, "index"),
    (lambda a: a.digit(10_000), 400, "index"),
    (lambda a: a.backprop(), 400, "exactly one"),
    (lambda a: a.backprop(digit=0, label=10), 400, "label"),
    (lambda a: a.train_start({"lr": -1}), 400, "learning rate"),
    (lambda a: a.train_start({"model": "nope"}), 400, "model"),
    (lambda a: a.train_start({"steps": 3}), 400, "unknown settings"),
    (lambda a: a.train_start({"batch_size": "64"}), 400, "integer"),
    (lambda a: a.train_pause(), 409, "done"),
    (lambda a: a.train_stop(), 409, "done"),
])
def test_bad_requests_are_refused_with_a_4xx_and_a_reason(app, call, status, match):
    with pytest.raises(LabError, match=match) as info:
        call(app)
    assert info.value.status == status


def test_a_huge_picture_is_refused_before_it_is_decoded(app):
    from PIL import Image
    buf = bytes_io.BytesIO()
    Image.new("L", (3000, 3000), 255).save(buf, format="PNG")   # small file, 9 million pixels
    with pytest.raises(LabError, match="over") as info:
        app.predict("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    assert info.value.status == 413


def test_without_a_model_draw_answers_409_and_offers_to_train(mnist_root, tmp_path):
    lab = LabApp(None, mnist_root, tmp_path)
    assert lab.info()["has_model"] is False and lab.train_status()["state"] == "idle"
    with pytest.raises(LabError, match="train one") as info:
        lab.predict(lab.digit(0)["pixels"])
    assert info.value.status == 409


def test_a_checkpoint_is_drawn_with(app, mnist_root, tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", app._current().state_dict(), {"name": "simplecnn", "kwargs": {}})
    lab = LabApp(path, mnist_root, tmp_path)
    assert lab.info()["checkpoint"] == str(path) and lab.info()["has_model"]
    pixels = app.digit(30)["pixels"]
    assert lab.predict(pixels)["probabilities"] == app.predict(pixels)["probabilities"]


# --------------------------------------------------------------------------- stages
def test_simplecnn_stages_compute_what_the_model_computes(app):
    model = app._current()
    x = normalise(to_mnist(1.0 - np.array(app.digit(7)["pixels"])))
    with minicnn.no_grad():
        st = stages(model, x)
        np.testing.assert_allclose(st[-1].tensor.data, model(x).data, rtol=1e-5, atol=1e-5)
        unfused = minicnn.SimpleCNN(fused=False)
        unfused.load_state_dict(model.state_dict())
        np.testing.assert_allclose(stages(unfused, x)[-1].tensor.data, model(x).data, rtol=1e-5, atol=1e-5)


class TinyNet(nn.Module):
    """A model the lab has never heard of: Sequential features, a ReLU used twice, a linear head."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.act = nn.ReLU()
        self.head = nn.Linear(4 * 14 * 14, 10)

    def forward(self, x):
        x = self.act(self.features(x))
        return self.head(self.act(x).flatten(1))


def test_any_model_shows_each_leaf_module_output(monkeypatch):
    monkeypatch.setitem(MODELS, "tinynet", TinyNet)
    minicnn.manual_seed(0)
    model = minicnn.build_model("tinynet")
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    original = nn.Module.__call__
    with minicnn.no_grad():
        st = stages(model, x)
    assert nn.Module.__call__ is original     # the wrapper is gone again
    assert [(s.name, s.op, s.inputs) for s in st] == [
        ("input", "input", ()), ("features.0", "conv", ("input",)), ("features.1", "relu", ("features.0",)),
        ("features.2", "pool", ("features.1",)), ("act", "relu", ("features.2",)), ("act#2", "relu", ("act",)),
        ("flatten", "flatten", ("act#2",)), ("head", "linear", ("flatten",))]
    assert [s.filter for s in st[1:5]] == ["features.0.weight"] * 4
    assert st[-1].params == ("head.weight", "head.bias")
    np.testing.assert_array_equal(st[-1].tensor.data, model(x).data)


def test_stages_follow_the_real_graph_of_a_residual_network():
    """resnet-mini: the functional residual adds and ReLUs are stages, each add names its two inputs (the
    block's bn2 and its shortcut: the block's input, or its downsample), and the ops inside a leaf module
    (batch norm's own ops) are not; the observer is gone afterwards."""
    from minicnn.autograd import engine
    minicnn.manual_seed(0)
    model = minicnn.build_model("resnet-mini").eval()
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    with minicnn.no_grad():
        st = stages(model, x)
        expected = model(x)
    assert getattr(engine._observers, "stack", []) == []
    by_name = {s.name: s for s in st}
    assert by_name["layer1.0.add"].op == "add" and by_name["layer1.0.add"].inputs == ("layer1.0.bn2", "bn1")
    assert by_name["layer2.0.add"].inputs == ("layer2.0.bn2", "layer2.0.downsample.1")
    assert by_name["layer2.0.downsample.0"].inputs == ("layer1.1.relu",)   # the block's input, not bn2
    assert by_name["layer2.0.relu"].inputs == ("layer2.0.add",) and by_name["bn1"].op == "batch_norm"
    assert by_name["avgpool"].op == "adaptive_avg_pool" and by_name["flatten"].inputs == ("avgpool",)
    assert sum(s.op == "add" for s in st) == 6 and [s.name for s in st][-1] == "fc"
    np.testing.assert_array_equal(st[-1].tensor.data, expected.data)
    # every op the four models run has its own formula, none the generic chain rule
    from minicnn.lab.formulas import FORMULAS
    for name in MODELS:
        with minicnn.no_grad():
            ops = {s.op for s in stages(minicnn.build_model(name).eval(), x)}
        assert ops <= set(FORMULAS), (name, ops - set(FORMULAS))


def test_backprop_steps_of_any_model(monkeypatch):
    from minicnn.lab.backprop import backprop_steps
    minicnn.manual_seed(0)
    model = TinyNet()
    x = np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32)
    steps = backprop_steps(model, x, label=4)["steps"]
    backward = [(s["name"], s["op"]) for s in steps if s["phase"] == "backward"]
    assert backward == [("loss", "loss"), ("head", "linear"), ("flatten", "flatten"), ("act#2", "relu"), ("act", "relu"),
                        ("features.2", "pool"), ("features.1", "relu"), ("features.0", "conv"), ("input", "input")]
    conv = next(s for s in steps if s["phase"] == "backward" and s["name"] == "features.0")
    assert [p["name"] for p in conv["params"]] == ["features.0.weight", "features.0.bias"]
    model.zero_grad()
    F.cross_entropy(model(x), np.array([4])).backward()
    np.testing.assert_allclose(decode(conv["params"][0]["values"]), model.features[0].weight.grad, rtol=1e-5)


def test_recording_is_per_thread(monkeypatch):
    model, other = TinyNet(), TinyNet()
    x = np.zeros((1, 1, 28, 28), np.float32)
    started, go = threading.Event(), threading.Event()

    def record():
        with record_modules(model) as calls:
            started.set()
            go.wait()
            model(x)
        record.calls = calls

    t = threading.Thread(target=record)
    t.start()
    started.wait()
    model(x)        # this thread's calls, while the other records: not recorded
    other(x)
    go.set()
    t.join()
    assert len(record.calls) == 7   # six leaf-module calls and the flatten between them


# --------------------------------------------------------------------------- backprop
def test_backprop_steps_show_the_real_gradients(app):
    answer = app.backprop(digit=30)
    steps = answer["steps"]
    names = [(s["phase"], s["name"]) for s in steps]
    forward = ["input", "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2", "loss"]
    assert names == [("forward", n) for n in forward] + [("backward", n) for n in ["loss"] + forward[-2::-1]]
    assert answer["label"] == 3
    # dL/dlogits = softmax - onehot, and the parameter gradients are loss.backward()'s on the model itself
    model = app._current()
    x = normalise(app._test_set()[0][30, 0] / 255.0)
    model.zero_grad()
    logits = model(x)
    F.cross_entropy(logits, np.array([3])).backward()
    p = np.exp(logits.data[0] - logits.data[0].max())
    p /= p.sum()
    fc2 = next(s for s in steps if s["phase"] == "backward" and s["name"] == "fc2")
    np.testing.assert_allclose(decode(fc2["grad"]), p - np.eye(10)[3], atol=1e-6)
    assert answer["loss"] == pytest.approx(-np.log(p[3]), rel=1e-5)
    conv1 = next(s for s in steps if s["phase"] == "backward" and s["name"] == "conv1")
    dw = {q["name"]: q for q in conv1["params"]}["conv1.weight"]
    np.testing.assert_allclose(decode(dw["values"]), model.conv1.weight.grad, rtol=1e-4, atol=1e-7)
    fc1 = next(s for s in steps if s["phase"] == "backward" and s["name"] == "fc1")
    big = {q["name"]: q for q in fc1["params"]}["fc1.weight"]
    assert big["values"] is None
    assert big["norm"] == pytest.approx(float(np.linalg.norm(model.fc1.weight.grad)), rel=1e-4)
    model.zero_grad()
    # every backward step's formula is the docs' for its op; the input's gradient is there too
    assert "col2im" in conv1["formula"] and conv1["doc"] == "convolution"
    assert decode(steps[-1]["grad"]).shape == (1, 28, 28)


def test_backprop_of_a_drawing_defaults_to_the_predicted_class(app):
    pixels = app.digit(30)["pixels"]
    assert app.backprop(image=pixels)["label"] == app.predict(pixels, layers=False)["class"]
    assert app.backprop(image=pixels, label=8)["label"] == 8


# --------------------------------------------------------------------------- training control
def test_pause_resume_stop_and_a_second_start(app):
    app.train_start({**QUICK, "limit": 64 * 400, "every": 2})
    try:
        with pytest.raises(LabError, match="already running") as info:
            app.train_start(QUICK)
        assert info.value.status == 409
        wait_until(lambda: app.train_status()["step"] >= 3)
        app.train_pause()
        time.sleep(0.3)                                      # a step in flight finishes
        step = app.train_status()["step"]
        time.sleep(0.3)
        assert app.train_status()["state"] == "paused" and app.train_status()["step"] == step
        with pytest.raises(LabError, match="already paused"):
            app.train_start(QUICK)
        app.train_resume()
        wait_until(lambda: app.train_status()["step"] > step + 2)
        snap = app.train_snapshot()
        assert snap["filters"]["name"] == "conv1.weight" and decode(snap["filters"]["grads"]).shape == (32, 1, 3, 3)
        assert [n["name"] for n in snap["norms"]][:2] == ["conv1.weight", "conv1.bias"]
        assert snap["digit"]["label"] == 7 and len(snap["digit"]["layers"]) == 6
    finally:
        status = app.train_stop()
    assert status["state"] == "stopped" and status["step"] < 400
    assert json.loads(open(f"{status['out']}/metrics.json").read())["stopped"] is True


# --------------------------------------------------------------------------- HTTP
def test_http_serves_the_page_and_the_api(server, app):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"minicnn lab" in page
    assert request(server, "GET", "/static/lab.js")[0] == 200
    assert request(server, "GET", "/static/../server.py")[0] == 404
    status, info = request(server, "GET", "/api/info")
    assert status == 200 and "simplecnn" in info["models"] and "sgd" in info["optimizers"]
    status, answer = request(server, "POST", "/api/predict", {"image": app.digit(30)["pixels"], "layers": False})
    assert status == 200 and answer["class"] == 3
    status, steps = request(server, "POST", "/api/backprop", {"digit": 1})
    assert status == 200 and steps["label"] == 2
    assert server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("method, path, body, status, match", [
    ("POST", "/api/predict", b"{not json", 400, "malformed JSON"),
    ("POST", "/api/predict", b"[1, 2]", 400, "JSON object"),
    ("POST", "/api/predict", {"picture": 1}, 400, "'image'"),
    ("POST", "/api/predict", {"image": [[1.0] * 8] * 8}, 422, "blank"),
    ("PUT", "/api/predict", b"{}", 405, "/api/predict expects POST, not PUT"),
    ("DELETE", "/api/info", None, 405, "/api/info expects GET, not DELETE"),
    ("PATCH", "/api/train/start", b"{}", 405, "expects POST, not PATCH"),
    ("OPTIONS", "/", None, 405, "/ expects GET, not OPTIONS"),
    ("POST", "/api/train/start", {"lr": "fast"}, 400, "learning rate"),
    ("GET", "/api/predict", None, 405, "POST"),
    ("POST", "/api/info", b"{}", 405, "GET"),
    ("GET", "/api/nothing", None, 404, "no such"),
    ("GET", "/api/filter?name=conv1.weight", None, 400, "index"),
    ("GET", "/api/train/status?since=x", None, 400, "since"),
])
def test_http_errors_are_json_with_a_4xx(server, method, path, body, status, match):
    got, answer = request(server, method, path, body)
    assert got == status and answer["status"] == status
    assert match in answer["error"]


def test_http_head_is_get_without_a_body_and_other_methods_say_what_is_allowed(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=60)
    for path in ("/", "/api/info"):
        conn.request("GET", path)
        get = conn.getresponse()
        body = get.read()
        conn.request("HEAD", path)
        head = conn.getresponse()
        assert head.status == get.status == 200 and head.read() == b""
        assert head.getheader("Content-Type") == get.getheader("Content-Type")
        if path == "/":   # the page is the same bytes (info is JSON of a live state)
            assert int(head.getheader("Content-Length")) == len(body)
    conn.request("PUT", "/api/info")
    put = conn.getresponse()
    assert put.status == 405 and put.getheader("Allow") == "GET, HEAD" and json.loads(put.read())["status"] == 405
    conn.close()


def test_garbage_pictures_get_a_message_without_python_internals(app):
    for url in ("data:image/png;base64,AAAA", "data:image/png;base64," + base64.b64encode(b"GIF89a" * 9).decode()):
        with pytest.raises(LabError) as info:
            app.predict(url)
        assert info.value.status == 400 and "expected a PNG or JPEG" in str(info.value)
        assert "BytesIO" not in str(info.value) and "0x" not in str(info.value)


@pytest.mark.parametrize("settings, label", [
    ({"lr": -1}, "learning rate"), ({"batch_size": 0}, "batch size"), ({"limit": 0}, "training images"),
    ({"momentum": -1}, "momentum"), ({"epochs": 0}, "epochs"), ({"batch_size": "64"}, "batch size"),
    ({"every": 0}, "update every")])
def test_form_errors_name_the_fields_label_not_a_command_line_flag(app, settings, label):
    from minicnn.lab.trainer import LABELS
    with pytest.raises(LabError) as info:
        app.train_start(settings)
    assert label in str(info.value) and "--" not in str(info.value) and "_" not in str(info.value)
    page = (Path(minicnn.lab.__file__).parent / "static" / "index.html").read_text()
    for key, text in LABELS.items():   # the labels are the form's own
        assert re.search(rf'<label>{text} <(select|input) name="{key}"', page), (key, text)


def test_a_dot_is_answered_with_a_warning_and_a_digit_without(app):
    dot = np.ones((280, 280))
    dot[130:150, 130:150] = 0.0
    answer = app.predict(png_data_url(dot), layers=False)
    assert "very little ink" in answer["warning"]
    assert app.predict(app.digit(30)["pixels"], layers=False)["warning"] is None


def test_draw_and_backprop_say_which_weights_they_use(app, mnist_root, tmp_path):
    assert re.fullmatch(r"simplecnn trained in this lab \(run (done|stopped)\), its weights at step \d+",
                        app.predict(app.digit(0)["pixels"])["weights"])
    assert app.backprop(digit=0)["weights"] == app.info()["weights"] == app.weights()
    ckpt = app.train_status()["out"] + "/checkpoint.npz"
    fresh = LabApp(ckpt, mnist_root, tmp_path)
    assert fresh.weights() == f"simplecnn from {ckpt}" == fresh.backprop(digit=0)["weights"]


def test_the_derivation_the_formulas_link_to_is_served(server):
    from minicnn.lab.formulas import FORMULAS
    status, page = request(server, "GET", "/docs/backprop")
    assert status == 200 and b"<h2 id=\"convolution\">Convolution</h2>" in page
    for f in FORMULAS.values():
        assert f'id="{f["doc"]}"'.encode() in page, f["doc"]
    assert request(server, "GET", "/docs/nothing")[0] == 404


def test_http_second_start_is_409(server):
    status, first = request(server, "POST", "/api/train/start", {**QUICK, "limit": 64 * 400})
    try:
        assert status == 200 and first["state"] == "running"
        status, answer = request(server, "POST", "/api/train/start", QUICK)
        assert status == 409 and "already" in answer["error"]
    finally:
        status, stopped = request(server, "POST", "/api/train/stop", b"{}")
    assert status == 200 and stopped["state"] == "stopped"


def test_closing_the_server_stops_the_training_run(mnist_root, tmp_path):
    lab = LabApp(None, mnist_root, tmp_path)
    srv = LabServer(lab, port=0)
    srv.serve_in_thread()
    status, started = request(srv, "POST", "/api/train/start", {**QUICK, "limit": 64 * 400})
    assert status == 200 and started["state"] == "running"
    srv.shutdown()
    srv.server_close()
    status = lab.train_status()
    assert status["state"] == "stopped" and status["step"] < 400
    assert (Path(status["out"]) / "checkpoint.npz").is_file() and Path(status["out"]).parent == tmp_path


def test_http_oversized_body_is_413_without_reading_it(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.putrequest("POST", "/api/predict")
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()                                 # and no body: the answer comes first
    r = conn.getresponse()
    assert r.status == 413 and "over the limit" in json.loads(r.read())["error"]
    conn.close()


def test_http_missing_length_and_foreign_host(server):
    with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=30) as s:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b" 411 " in s.recv(4096).split(b"\r\n")[0] + b" "
    status, answer = request(server, "GET", "/api/info", headers={"Host": "evil.example:8000"})
    assert status == 403 and "127.0.0.1" in answer["error"]


def test_the_cli_refuses_a_bad_checkpoint_and_port(tmp_path, capsys):
    from minicnn.cli import main
    assert main(["lab", str(tmp_path / "missing.npz")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["lab", "--port", "70000"]) == 1
    assert "--port" in capsys.readouterr().err


def test_the_command_serves_until_sigterm_and_stops_its_run(mnist_root, tmp_path):
    """``minicnn lab --port 0`` prints its address; SIGTERM stops the server and the run, whose folder is written."""
    import signal
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, "-m", "minicnn", "lab", "--port", "0", "--data-dir", str(mnist_root),
                             "--runs", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[1])
    try:
        line = proc.stdout.readline()
        assert line.startswith("minicnn lab: serving on http://127.0.0.1:")
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/train/start", json.dumps({**QUICK, "limit": 64 * 400}))
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "metrics.json").read_text())["stopped"] is True
    assert (run / "checkpoint.npz").is_file()


def test_formulas_are_plain_unicode_with_every_symbol_defined():
    from minicnn.lab.formulas import FORMULAS, formula
    for op in FORMULAS:
        f = formula(op)
        text = f["forward"] + f["backward"]
        assert "_{" not in text and "\\" not in text and "^{" not in text, op     # no LaTeX
        assert "G = dL/dy" in f["where"], op
        for symbol in ("G₂", "cols", "x̃", "S", "W₂", "Ω(p)", "μ", "m", "P"):
            if re.search(rf"(?<![\w]){re.escape(symbol)}(?![\w])", text):
                assert re.search(rf"(?<![\w]){re.escape(symbol)}[:,]", f["where"]), (op, symbol)


def test_every_formula_points_at_a_section_of_docs_backprop():
    import re

    from minicnn.lab.formulas import FORMULAS, GENERIC
    text = (Path(__file__).resolve().parents[1] / "docs" / "backprop.md").read_text()
    # GitHub's anchors: lower case, punctuation dropped, each space a hyphen
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^#+ (.*)$", text, flags=re.M)}
    for op, f in {**FORMULAS, "generic": GENERIC}.items():
        assert f["doc"] in anchors, (op, f["doc"])


# --------------------------------------------------------------------------- minicnn lab --kernels DIR
WRONG_RELU = '''import numpy as np


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout          # the mask forgotten: every gradient passes
'''


def test_your_kernels_beside_minicnns_mark_the_first_step_that_differs(app, mnist_root, tmp_path):
    from minicnn.exercises import workbook
    from minicnn.exercises.catalog import BY_NAME
    workbook.init(tmp_path / "ws")
    relu = tmp_path / "ws" / BY_NAME["relu"].file
    ckpt = app.train_status()["out"] + "/checkpoint.npz"
    lab = LabApp(ckpt, mnist_root, tmp_path / "runs", kernels=tmp_path / "ws")
    untouched = lab.backprop(digit=0)["yours"]                  # templates are skipped: minicnn's kernels
    assert untouched["kernels"] == [] and untouched["first_different"] is None

    relu.write_text(WRONG_RELU)                                  # read again at the next run
    answer = lab.backprop(digit=0)
    yours, steps = answer["yours"], answer["steps"]
    assert yours["kernels"] == ["relu_backward", "relu_forward"]
    first = yours["first_different"]
    assert steps[first]["phase"] == "backward" and steps[first]["name"] == "fc1"   # what relu3 passed back
    assert yours["culprit"].startswith("relu3, backward")
    assert all(s["difference"] <= 1e-4 for s in yours["steps"][:first]) and yours["steps"][first]["difference"] > 1e-2
    np.testing.assert_array_equal(decode(yours["steps"][first]["grad"]),        # the learner's own numbers
                                  decode(steps[steps.index(next(s for s in steps if s["name"] == "relu3"
                                                                 and s["phase"] == "backward"))]["grad"]))

    relu.write_text(WRONG_RELU.replace("return dout          # the mask forgotten: every gradient passes",
                                       "return dout * (cache > 0)"))
    assert lab.backprop(digit=0)["yours"]["first_different"] is None          # fixed: no step differs

    relu.write_text(WRONG_RELU.replace("return dout          # the mask forgotten: every gradient passes",
                                       "raise NotImplementedError('not yet')"))
    assert lab.backprop(digit=0)["yours"]["error"] == "NotImplementedError: not yet"
    relu.write_text("def relu_forward(x:\n")
    with pytest.raises(LabError, match=r"your kernels: .*02_relu.py:1: SyntaxError") as info:
        lab.backprop(digit=0)
    assert info.value.status == 400
    with pytest.raises(ValueError, match="no workbook in"):
        LabApp(ckpt, mnist_root, tmp_path / "runs", kernels=tmp_path / "nothing")
