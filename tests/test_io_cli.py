"""Checkpoints on disk (minicnn.checkpoint) and the ``minicnn`` command line."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from minicnn import SimpleCNN, cli, data, manual_seed
from minicnn.checkpoint import (CheckpointError, MODEL_KEY, TRAINING_KEY, load_checkpoint, save_checkpoint,
                                write_json)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
EPOCH_LINE = re.compile(r"Epoch \[1/1\], Loss: (\d+\.\d{4})")
ACCURACY_LINE = re.compile(r"Test Accuracy: (\d{1,3}\.\d{2})%")


class OpensAFile:
    """Unpickling this object creates ``path``: proof that something was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def write_pickle_trap(path, marker):
    np.savez(path, **{"conv1.weight": np.array([OpensAFile(marker)], dtype=object)})
    return path


# --------------------------------------------------------------------------- io
def test_checkpoint_round_trip(tmp_path):
    manual_seed(0)
    state = SimpleCNN().state_dict()
    path = save_checkpoint(tmp_path / "sub" / "checkpoint.npz", state)
    assert path == tmp_path / "sub" / "checkpoint.npz"
    loaded = load_checkpoint(path)
    assert list(loaded.state_dict) == KEYS
    assert loaded.model is None  # no record: a plain state_dict does not say which model (as torch's)
    assert load_checkpoint(path, model="simplecnn").model == {"name": "simplecnn", "kwargs": {}}
    for k in KEYS:
        assert loaded.state_dict[k].dtype == np.float32
        np.testing.assert_array_equal(loaded.state_dict[k], state[k])
    with np.load(path, allow_pickle=False) as npz:  # readable by plain numpy, without pickle
        assert sorted(npz.files) == sorted(KEYS)
        np.testing.assert_array_equal(npz["fc2.bias"], state["fc2.bias"])
    assert os.listdir(path.parent) == ["checkpoint.npz"]  # no temp file left behind


def test_float64_checkpoint_round_trip(tmp_path):
    state = {"w": np.linspace(0, 1, 7)}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "c.npz", state)).state_dict
    assert loaded["w"].dtype == np.float64
    np.testing.assert_array_equal(loaded["w"], state["w"])


def test_the_model_record_round_trips_as_json_without_pickle(tmp_path):
    model = {"name": "simplecnn", "kwargs": {"fused": False}}
    path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(2, np.float32), "n": np.array(3)}, model)
    loaded = load_checkpoint(path)
    assert loaded.model == model and set(loaded.state_dict) == {"w", "n"}  # integer buffers are kept
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz[MODEL_KEY])) == model


def test_a_checkpoint_with_nan_or_inf_is_refused_naming_the_tensors(tmp_path):
    state = {"a": np.zeros(3, np.float32), "b": np.array([1.0, np.nan]), "c": np.array([np.inf])}
    path = save_checkpoint(tmp_path / "c.npz", state)
    with pytest.raises(CheckpointError, match=r"c.npz: NaN or Inf in b, c$"):
        load_checkpoint(path)


def test_a_torch_save_file_is_named_as_such(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(3)}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model.pt: a zip archive but not a minicnn checkpoint "
                                                 r"\(a torch.save file\?\): it holds .*data.pkl"):
        load_checkpoint(tmp_path / "model.pt")


def test_a_zip_of_other_things_is_refused(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "c.npz", "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(CheckpointError, match=r"c.npz: a zip archive but not a minicnn checkpoint: "
                                                 r"it holds notes.txt"):
        load_checkpoint(tmp_path / "c.npz")


def test_object_arrays_are_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "unpickled"
    path = write_pickle_trap(tmp_path / "trap.npz", marker)
    with pytest.raises(CheckpointError, match=r"trap.npz: cannot be read as an .npz of arrays"):
        load_checkpoint(path)
    assert not marker.exists()
    # the trap is real: loading it unsafely runs the payload
    with np.load(path, allow_pickle=True) as npz:
        npz["conv1.weight"]
    assert marker.exists()


@pytest.mark.parametrize("content, match", [
    (b"", r"checkpoint.npz: an empty file$"),
    (b"this is not a checkpoint\n" * 10, r"checkpoint.npz: a text file, not an .npz archive$"),
    (b"\x80\x04\x95" + b"\x00" * 20, r"a Python pickle \(minicnn never unpickles files\)$"),
    (b"\x00garbage" * 100, r"not an .npz archive \(neither a zip nor a numpy file\)$"),
])
def test_garbage_files_are_refused(tmp_path, content, match):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["truncated", "flipped byte"])
def test_damaged_checkpoints_are_refused(tmp_path, damage):
    path = save_checkpoint(tmp_path / "checkpoint.npz", {"w": np.arange(1000, dtype=np.float32)})
    blob = bytearray(path.read_bytes())
    if damage == "truncated":
        blob = blob[:len(blob) // 2]
    else:
        blob[200] ^= 0xFF  # inside the array data: the zip CRC no longer matches
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r"checkpoint.npz"):
        load_checkpoint(path)


def test_other_unusable_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"missing.npz: no such file"):
        load_checkpoint(tmp_path / "missing.npz")
    np.savez(tmp_path / "text.npz", w=np.array(["a", "b"]))
    with pytest.raises(CheckpointError, match=r"expected numeric arrays, got w \(<U1\)"):
        load_checkpoint(tmp_path / "text.npz")
    with pytest.raises(TypeError, match=r"save_checkpoint: w expected a numeric array, got dtype <U1"):
        save_checkpoint(tmp_path / "out.npz", {"w": np.array(["a"])})
    assert not (tmp_path / "out.npz").exists()


def test_a_single_npy_array_is_refused(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match=r"a single .npy array, not an .npz archive"):
        load_checkpoint(tmp_path / "single.npy")


def test_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "checkpoint.npz", {"w": np.ones(4, np.float32)})
    old = path.read_bytes()

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        save_checkpoint(path, {"w": np.zeros(4, np.float32)})
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_write_json_is_atomic_and_readable(tmp_path):
    path = write_json(tmp_path / "metrics.json", {"a": 1, "b": [1.5, "x"]})
    assert json.loads(path.read_text()) == {"a": 1, "b": [1.5, "x"]}
    assert os.listdir(tmp_path) == ["metrics.json"]


# --------------------------------------------------------------------------- CLI helpers
def one_error_line(err):
    """The single stderr line of a failed command (no traceback, no usage block)."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("minicnn") and ": error: " in lines[0]
    return lines[0]


def run_module(*args, env=None):
    """``python -m minicnn ARGS`` in a fresh interpreter, from the repo root."""
    return subprocess.run([sys.executable, "-m", "minicnn", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------- CLI: usage errors
@pytest.mark.parametrize("argv, match", [
    ([], r"the following arguments are required: command"),
    (["--bogus"], r"the following arguments are required: command"),
    (["--bogus", "train"], r"unrecognized arguments: --bogus"),
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
    (["train", "--bogus"], r"unrecognized arguments: --bogus"),
    (["train", "--epochs", "two"], r"argument --epochs: invalid int value: 'two'"),
    (["train", "--lr"], r"argument --lr: expected one argument"),
    (["train", "--dtype", "float16"], r"argument --dtype: invalid choice: 'float16'"),
    (["evaluate"], r"the following arguments are required: checkpoint"),
    (["train", "--model-arg", "fused"], r"argument --model-arg: expected NAME=VALUE"),
    (["train", "--model-arg", "1x=2"], r"argument --model-arg: expected NAME=VALUE"),
])
def test_bad_flags_exit_2_with_one_line(argv, match, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(match, one_error_line(err))


def test_bad_flag_in_a_real_process():
    proc = run_module("train", "--bogus")
    assert proc.returncode == 2
    assert re.search(r"unrecognized arguments: --bogus", one_error_line(proc.stderr))
    assert proc.stdout == ""


# --------------------------------------------------------------------------- CLI: runtime errors
@pytest.mark.parametrize("argv, match", [
    (["train", "--lr", "-1"], r"--lr: expected a finite number > 0, got -1.0"),
    (["train", "--lr", "nan"], r"--lr: expected a finite number > 0, got nan"),
    (["train", "--epochs", "0"], r"--epochs: expected >= 1, got 0"),
    (["train", "--batch-size", "0"], r"--batch-size: expected >= 1, got 0"),
    (["train", "--momentum", "1"], r"--momentum: expected 0 <= momentum < 1, got 1.0"),
    (["train", "--limit", "0"], r"--limit: expected >= 1, got 0"),
    (["train", "--model-arg", "nosuch=1"], r"model simplecnn: .*unexpected keyword argument 'nosuch'"),
    (["train", "--model", "resnet-mini", "--model-arg", "widths=3"], r"model resnet-mini: "),
])
def test_bad_values_exit_1_with_one_line_before_training(argv, match, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path / "run"), "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(match, one_error_line(err))
    assert not (tmp_path / "run").exists()


def test_bad_value_in_a_real_process(tmp_path):
    proc = run_module("train", "--lr", "-1", "--out", str(tmp_path / "run"))
    assert proc.returncode == 1
    assert one_error_line(proc.stderr) == "minicnn: error: --lr: expected a finite number > 0, got -1.0"


def test_evaluate_missing_checkpoint(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path / "nope.npz")]) == 1
    assert re.search(r"nope.npz: no such file", one_error_line(capsys.readouterr().err))


def test_evaluate_garbage_checkpoint(tmp_path, capsys):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(b"\x00garbage" * 100)
    assert cli.main(["evaluate", str(path)]) == 1
    assert re.search(r"checkpoint.npz: not an .npz archive", one_error_line(capsys.readouterr().err))


@pytest.mark.parametrize("content, what", [(b"some notes\n", "a text file"), (None, "a torch.save file")])
def test_evaluate_names_what_a_file_is_not(tmp_path, capsys, content, what):
    path = tmp_path / "model.pt"
    if content is None:
        torch = pytest.importorskip("torch")
        torch.save({"w": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    assert cli.main(["evaluate", str(path)]) == 1
    assert what in one_error_line(capsys.readouterr().err)


def test_evaluate_refuses_nan_weights(tmp_path, capsys):
    state = SimpleCNN().state_dict()
    state["fc1.weight"][0, 0] = np.nan
    path = save_checkpoint(tmp_path / "checkpoint.npz", state)
    assert cli.main(["evaluate", str(path)]) == 1
    assert one_error_line(capsys.readouterr().err).endswith("NaN or Inf in fc1.weight")


def test_evaluate_pickle_trap_is_refused(tmp_path, capsys):
    marker = tmp_path / "unpickled"
    path = write_pickle_trap(tmp_path / "checkpoint.npz", marker)
    assert cli.main(["evaluate", str(path)]) == 1
    one_error_line(capsys.readouterr().err)
    assert not marker.exists()


def test_evaluate_checkpoint_of_another_model(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "checkpoint.npz", {"conv1.weight": np.zeros((32, 1, 3, 3), np.float32)})
    assert cli.main(["evaluate", str(path), "--model", "simplecnn"]) == 1
    assert re.search(r"does not fit model simplecnn .*missing keys", one_error_line(capsys.readouterr().err))


def test_a_plain_state_dict_must_be_told_its_model(tmp_path, capsys):
    """A plain state_dict (no model record) does not say which network it is: minicnn used to assume
    SimpleCNN; now the caller names it, and a record that says otherwise is refused."""
    path = save_checkpoint(tmp_path / "plain.npz", SimpleCNN().state_dict())
    for argv in (["evaluate", str(path)], ["predict", str(path), str(tmp_path / "digit.png")]):
        assert cli.main(argv) == 1
        line = one_error_line(capsys.readouterr().err)
        assert "a plain state_dict, with no record of its model" in line and "--model NAME" in line
    with pytest.raises(CheckpointError, match=r"no record of its model.*model=NAME"):
        load_checkpoint(path, require_model=True)
    assert load_checkpoint(path).model is None  # reading the arrays needs no model
    named = save_checkpoint(tmp_path / "named.npz", SimpleCNN().state_dict(), {"name": "simplecnn"})
    with pytest.raises(CheckpointError, match=r"holds model simplecnn, not lenet5"):
        load_checkpoint(named, model="lenet5")
    assert cli.main(["evaluate", str(named), "--model", "lenet5"]) == 1
    assert "holds model simplecnn, not lenet5" in one_error_line(capsys.readouterr().err)
    with pytest.raises(TypeError, match="load_checkpoint model: expected a model name"):
        load_checkpoint(path, model=3)


def test_evaluate_rebuilds_the_model_the_checkpoint_names(tmp_path, mnist_root, capsys):
    """A checkpoint of SimpleCNN(fused=False) evaluates on that model (same keys, another network object)."""
    from minicnn import train as T
    manual_seed(3)
    model = SimpleCNN(fused=False)
    path = save_checkpoint(tmp_path / "c.npz", model.state_dict(), {"name": "simplecnn", "kwargs": {"fused": False}})
    assert cli.main(["evaluate", str(path), "--data-dir", str(mnist_root)]) == 0
    x, y = data.load_mnist(mnist_root, train=False)
    assert capsys.readouterr().out.strip() == T.accuracy_line(T.accuracy(model, x, y))
    bad = save_checkpoint(tmp_path / "d.npz", model.state_dict(), {"name": "nonet", "kwargs": {}})
    assert cli.main(["evaluate", str(bad)]) == 1
    from minicnn.models import MODELS
    assert f"model: expected one of {sorted(MODELS)}, got 'nonet'" in one_error_line(capsys.readouterr().err)


def test_evaluate_truncated_checkpoint(tmp_path, capsys):
    manual_seed(0)
    path = save_checkpoint(tmp_path / "checkpoint.npz", SimpleCNN().state_dict())
    path.write_bytes(path.read_bytes()[:5000])
    assert cli.main(["evaluate", str(path)]) == 1
    one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_wrong_data_dir_without_npm(command, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    bin_dir = tmp_path / "bin"  # a PATH with no npm on it
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    if command == "train":
        argv = ["train", "--data-dir", str(empty), "--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    else:
        ckpt = save_checkpoint(tmp_path / "checkpoint.npz", SimpleCNN().state_dict())
        argv = ["evaluate", str(ckpt), "--model", "simplecnn", "--data-dir", str(empty)]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    line = one_error_line(err)
    assert str(empty) in line and "ubyte" in line and "npm" in line
    assert list(empty.iterdir()) == []  # nothing half-written into the data folder
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- CLI: train and evaluate
def test_train_then_evaluate(tmp_path, mnist_root, capsys):
    run = tmp_path / "run"
    argv = ["train", "--epochs", "1", "--limit", "256", "--out", str(run), "--data-dir", str(mnist_root),
            "--no-progress"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2, out
    loss = float(EPOCH_LINE.fullmatch(lines[0]).group(1))
    accuracy = float(ACCURACY_LINE.fullmatch(lines[1]).group(1))
    assert 0 < loss < 5  # 4 SGD steps at lr 0.01: about chance level still

    # it trained: the checkpoint is seed 0's initialisation moved by a few small steps
    manual_seed(0)
    init = SimpleCNN().state_dict()

    assert {"checkpoint.npz", "metrics.json"} <= {p.name for p in run.iterdir()}
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # atomic writes left no temp file
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"backend", "config", "epochs", "test_accuracy", "threads"} <= set(metrics)
    assert metrics["backend"] == "minicnn"
    assert f"{metrics['test_accuracy']:.2f}" == f"{accuracy:.2f}"
    assert len(metrics["epochs"]) == 1 and f"{metrics['epochs'][0]['loss']:.4f}" == f"{loss:.4f}"
    assert metrics["config"]["limit"] == 256 and metrics["config"]["lr"] == 0.01
    with np.load(run / "checkpoint.npz", allow_pickle=False) as npz:
        model_files = [f for f in npz.files if not f.startswith(TRAINING_KEY)]  # the rest: tests/test_resume.py
        assert sorted(model_files) == sorted(KEYS + [MODEL_KEY]) and TRAINING_KEY in npz.files
        for k in KEYS:
            step = np.abs(npz[k] - init[k]).max()
            assert 0 < step < 0.1 * np.abs(init[k]).max(), k

    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--data-dir", str(mnist_root)]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [lines[1]]
    # the printed accuracy is the checkpoint's, recomputed here from its weights and the test set
    from minicnn import train as T
    model = SimpleCNN()
    model.load_state_dict(load_checkpoint(run / "checkpoint.npz").state_dict)
    x, y = data.load_mnist(mnist_root, train=False)
    assert f"{T.accuracy(model, x, y):.2f}" == f"{accuracy:.2f}"


def test_written_files_get_ordinary_permissions(tmp_path):
    """Like open(): 0666 minus the umask, not mkstemp's private 0600."""
    import os
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(3, np.float32)})
        meta = write_json(tmp_path / "m.json", {"a": 1})
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
    assert os.stat(meta).st_mode & 0o777 == 0o644


def test_evaluate_uses_the_dataset_the_checkpoint_was_trained_on(tmp_path, mnist_root, capsys, monkeypatch):
    """A run on another dataset records it; evaluate without --dataset scores that test set, not MNIST's."""
    asked = []
    load_dataset = data.load_dataset

    def recording(name, root, train=True, **kwargs):
        asked.append(name)
        return load_dataset("mnist", root, train, **kwargs)  # the files at hand; the name is what is tested
    run = tmp_path / "run"
    assert cli.main(["train", "--epochs", "1", "--limit", "64", "--out", str(run), "--data-dir", str(mnist_root),
                     "--no-progress"]) == 0
    ckpt = load_checkpoint(run / "checkpoint.npz")
    ckpt.training["settings"]["dataset"] = "fashion-mnist"
    save_checkpoint(run / "checkpoint.npz", ckpt.state_dict, ckpt.model, ckpt.training)
    monkeypatch.setattr(data, "load_dataset", recording)
    capsys.readouterr()
    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--data-dir", str(mnist_root)]) == 0
    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--data-dir", str(mnist_root), "--dataset", "mnist"]) == 0
    assert asked == ["fashion-mnist", "mnist"]


def test_the_prediction_figure_names_the_classes(tmp_path, monkeypatch):
    """Fashion-MNIST's figure says "Label: Trouser", not "Label: 1"; a wrong prediction is titled in red."""
    import matplotlib.axes
    from minicnn import figures
    titles = []
    set_title = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title",
                        lambda self, text, **kw: titles.append((text, kw.get("color"))) or set_title(self, text, **kw))
    names = data.get_spec("fashion-mnist").classes
    path = figures.save_predictions(tmp_path / "p.png", np.zeros((2, 1, 28, 28)), np.array([1, 9]),
                                    np.array([1, 0]), classes=names)
    assert path.stat().st_size > 0
    assert titles == [("Label: Trouser\nPred: Trouser", "black"), ("Label: Ankle boot\nPred: T-shirt/top", "red")]


def test_model_arguments_from_the_command_line_reach_the_model_and_the_checkpoint(tmp_path, mnist_root, capsys):
    """--model-arg NAME=VALUE (JSON where it parses) is a constructor argument: saved in the checkpoint, so
    evaluate rebuilds the same network, and a resume that contradicts it is refused by name."""
    run = tmp_path / "run"
    argv = ["train", "--epochs", "1", "--limit", "64", "--out", str(run), "--data-dir", str(mnist_root),
            "--no-progress", "--model-arg", "fused=false"]
    assert cli.main(argv) == 0
    ckpt = load_checkpoint(run / "checkpoint.npz")
    assert ckpt.model == {"name": "simplecnn", "kwargs": {"fused": False}}
    assert ckpt.training["settings"]["model_kwargs"] == {"fused": False}
    from minicnn import classify
    assert classify.load_model(run / "checkpoint.npz").fused is False
    capsys.readouterr()
    assert cli.main(["train", "--resume", str(run), "--model-arg", "fused=true"]) == 1
    assert re.search(r"--model-arg \{'fused': True\}: contradicts the run", one_error_line(capsys.readouterr()[1]))
