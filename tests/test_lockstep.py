"""The whole network, step by step: minicnn's SimpleCNN and the torch reference in lockstep.

* Lockstep: identical initial weights, the same 200 MNIST batches, SGD(lr 0.01,
  momentum 0.9) on both sides.  float64: every step's loss and every weight
  after 200 steps agree to 1e-9.  float32: the drift is measured and bounded.
* Interchange: weights trained by one backend give the other the same
  predictions on the 10,000 test images.
* The training paths: ``minicnn train --backend torch`` and ``--backend minicnn``
  see the same batches and write checkpoints that either backend evaluates.

Run with ``-s`` to print the measured drift and agreement; ``python -m pytest -p benchmarks.record
tests/test_lockstep.py`` also writes them to ``benchmarks/results/lockstep.json`` (``MEASURED``), from
which ``python -m benchmarks.report`` fills README's and reference/README.md's lockstep numbers.
"""
import json

import numpy as np
import pytest

from minicnn import cli, data, nn, optim
from minicnn.checkpoint import MODEL_KEY, TRAINING_KEY, load_checkpoint, save_checkpoint
from minicnn import train as minicnn_train
from minicnn.models import SimpleCNN
from minicnn.rng import manual_seed
from minicnn.testing import torch_threads
from minicnn.train import TrainConfig, load_datasets
from minicnn.train import train as train_minicnn

torch = pytest.importorskip("torch")  # the reference is optional: pip install 'minicnn[torch]'
from reference import models as ref_models  # noqa: E402
from reference import train as ref_train  # noqa: E402

STEPS = 200
DTYPES = {"float64": (np.float64, torch.float64), "float32": (np.float32, torch.float32)}


@pytest.fixture(scope="module")
def mnist():
    root = data.resolve_root(None)
    return data.load_mnist(root, train=True), data.load_mnist(root, train=False)


def twin_models(dtype, seed=0):
    """minicnn's SimpleCNN from ``manual_seed(seed)`` and the torch SimpleCNN holding the same weights.

    minicnn's runs the fused blocks, as ``minicnn train --model simplecnn`` trains it (the float32 drift
    bounds below were measured on that form)."""
    np_dtype, torch_dtype = DTYPES[dtype]
    manual_seed(seed)
    ours = SimpleCNN(fused=True).to(np_dtype)
    theirs = ref_models.load_numpy_state_dict(ref_models.SimpleCNN().to(torch_dtype), ours.state_dict())
    return ours, theirs


def weight_difference(a, b):
    """max |a - b| over every tensor of two state dicts, in float64."""
    return max(float(np.abs(a[name].astype(np.float64) - b[name]).max()) for name in a)


def run_lockstep(images, labels, dtype, steps=STEPS, seed=0, record=(10, 50, 100)):
    """Train both twins on the same ``steps`` batches.

    Returns
    -------
    losses, losses_t : ndarray (steps,), each step's loss in minicnn and in torch
    weights : dict step -> (minicnn's state dict, torch's), after each step in ``record`` and the last
    ours, theirs : the two trained models
    """
    ours, theirs = twin_models(dtype, seed)
    criterion, criterion_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    loader = data.DataLoader(images.astype(DTYPES[dtype][0]), labels, batch_size=64, shuffle=True, seed=seed)
    losses, losses_t, weights = [], [], {}
    with torch_threads(1):
        for step, (x, y) in zip(range(1, steps + 1), loader):
            losses.append(minicnn_train.train_step(ours, x, y, criterion, opt))
            losses_t.append(ref_train.train_step(theirs, x, y, criterion_t, opt_t))
            if step in record or step == steps:
                weights[step] = {k: v.copy() for k, v in ours.state_dict().items()}, ref_models.numpy_state_dict(theirs)
    return np.array(losses), np.array(losses_t), weights, ours, theirs


MEASURED = {}  # title -> {measure: value}, what report() printed; benchmarks.record writes it


def report(title, **numbers):
    MEASURED[title] = {k: float(v) for k, v in numbers.items()}
    print(f"\n{title}: " + ", ".join(f"{k} {v:.3g}" for k, v in numbers.items()))


# --------------------------------------------------------------------------- lockstep


@pytest.fixture(scope="module")
def float64_run(mnist):
    (images, labels), _ = mnist
    return run_lockstep(images, labels, "float64")


def test_float64_lockstep_agrees_to_1e9_after_200_steps(float64_run):
    losses, losses_t, weights, _, _ = float64_run
    assert len(losses) == STEPS
    assert losses[-10:].mean() < losses[:10].mean() - 1  # it trained: from ~2.3 to well below
    loss_gap, weight_gap = np.abs(losses - losses_t).max(), weight_difference(*weights[STEPS])
    report("float64 lockstep, 200 steps", max_loss_diff=loss_gap, max_weight_diff=weight_gap, final_loss=losses[-1])
    assert loss_gap <= 1e-9, f"a step's loss differs by {loss_gap:.3e}"
    assert weight_gap <= 1e-9


# float32 rounding differs from float64's; a flipped ReLU or max-pool decision then grows into a visible
# drift.  Both float32 backends are measured against the float64 trajectory (which the two backends share
# to 1e-16): torch's default float32 convolution (oneDNN) is the less exact of the two here, so torch
# float32 is no yardstick for minicnn float32.  The bounds are minicnn's, measured with some margin
# (reference/README.md has the figures).
FLOAT32_DRIFT = {10: 1e-6, 50: 5e-3, STEPS: 5e-2}
FLOAT32_LOSS_DRIFT = 5e-2


@pytest.fixture(scope="module")
def float32_run(mnist):
    """The float32 lockstep run; its two trained models also serve the interchange tests."""
    (images, labels), _ = mnist
    return run_lockstep(images, labels, "float32")


def test_float32_drift_from_the_float64_trajectory_is_bounded(float32_run, float64_run):
    losses, losses_t, weights, _, _ = float32_run
    losses64, _, weights64, _, _ = float64_run
    drift = {step: weight_difference(weights[step][0], weights64[step][0]) for step in weights}
    drift_t = {step: weight_difference(weights[step][1], weights64[step][0]) for step in weights}
    loss_gap = np.abs(losses - losses64)
    report("float32 minicnn vs float64", max_loss_diff=loss_gap.max(), loss_diff_first_10=loss_gap[:10].max(),
           **{f"max_weight_diff_after_{step}": value for step, value in drift.items()})
    report("float32 torch vs float64", max_loss_diff=np.abs(losses_t - losses64).max(),
           **{f"max_weight_diff_after_{step}": value for step, value in drift_t.items()})
    assert loss_gap[:10].max() <= 1e-5
    assert loss_gap.max() <= FLOAT32_LOSS_DRIFT
    for step, bound in FLOAT32_DRIFT.items():
        assert drift[step] <= bound, (step, drift[step])


# --------------------------------------------------------------------------- interchange


@pytest.fixture(scope="module")
def trained_checkpoints(float32_run, tmp_path_factory):
    """A checkpoint of each backend's model after the 200 float32 lockstep steps, in the shared .npz format."""
    _, _, _, ours, theirs = float32_run
    out = tmp_path_factory.mktemp("interchange")
    return {"minicnn": save_checkpoint(out / "minicnn.npz", ours.state_dict()),
            "torch": save_checkpoint(out / "torch.npz", ref_models.numpy_state_dict(theirs))}


@pytest.mark.parametrize("trained_by", ["minicnn", "torch"])
def test_checkpoint_gives_the_same_predictions_in_both_backends(trained_by, trained_checkpoints, mnist):
    _, (x_test, y_test) = mnist
    state = load_checkpoint(trained_checkpoints[trained_by]).state_dict
    ours = SimpleCNN()
    ours.load_state_dict(state)
    theirs = ref_models.load_numpy_state_dict(ref_models.SimpleCNN(), state)

    logits = minicnn_train.logits(ours, x_test)
    logits_t = ref_train.logits(theirs, x_test)
    same = float(np.mean(logits.argmax(axis=1) == logits_t.argmax(axis=1)))
    gap = float(np.abs(logits - logits_t).max())
    accuracy = 100 * float(np.mean(logits.argmax(axis=1) == y_test))
    report(f"interchange, trained by {trained_by}", identical_argmax_percent=100 * same, max_logit_diff=gap,
           max_abs_logit=float(np.abs(logits_t).max()), accuracy=accuracy)
    assert logits.shape == logits_t.shape == (10_000, 10)
    assert same >= 0.999
    assert gap <= 1e-4
    assert accuracy > 85  # a trained model, not chance: agreement on confident predictions means something


# --------------------------------------------------------------------------- the training paths and the CLI


def test_both_training_paths_see_the_same_batches(tmp_path, monkeypatch):
    """From the same initial weights, ``train --backend torch`` and ``--backend minicnn`` compute the same epoch.

    Only the initialisation differs between the two backends (each draws from
    its own generator), so the torch path is given minicnn's initial weights.
    """
    def build_with_minicnn_init(seed, dtype, name):
        manual_seed(seed)
        initial = SimpleCNN().state_dict()
        return ref_models.load_numpy_state_dict(ref_models.SimpleCNN().to(ref_train.TORCH_DTYPES[dtype]), initial)

    def load_with_small_test_set(cfg):  # the 10,000-image evaluation is not what this test is about
        x_train, y_train, x_test, y_test = load_datasets(cfg)
        return x_train, y_train, x_test[:1000], y_test[:1000]

    monkeypatch.setattr(ref_train, "build_model", build_with_minicnn_init)
    monkeypatch.setattr(minicnn_train, "load_datasets", load_with_small_test_set)  # run() serves both backends
    cfg = dict(epochs=2, limit=200, seed=5, dtype="float64", progress=False)  # 4 batches an epoch, the last short
    ours = train_minicnn(TrainConfig(out=str(tmp_path / "m"), **cfg), log=lambda line: None)
    theirs = ref_train.train(TrainConfig(out=str(tmp_path / "t"), **cfg), log=lambda line: None)
    for epoch, epoch_t in zip(ours["epochs"], theirs["epochs"]):
        assert epoch["loss"] == pytest.approx(epoch_t["loss"], rel=1e-12)
    assert ours["test_accuracy"] == theirs["test_accuracy"]
    w = load_checkpoint(tmp_path / "m" / "checkpoint.npz").state_dict
    w_t = load_checkpoint(tmp_path / "t" / "checkpoint.npz").state_dict
    assert max(float(np.abs(w[k] - w_t[k]).max()) for k in w) <= 1e-10


def test_cli_trains_with_torch_and_either_backend_evaluates(tmp_path, capsys, monkeypatch):
    load_dataset = data.load_dataset

    def small_test_split(name, root, train=True, **kwargs):  # the plumbing is under test; 10,000 images are above
        images, labels = load_dataset(name, root, train, **kwargs)
        return (images, labels) if train else (images[:1000], labels[:1000])

    monkeypatch.setattr(data, "load_dataset", small_test_split)
    run = tmp_path / "run"
    argv = ["train", "--backend", "torch", "--epochs", "1", "--limit", "640", "--out", str(run), "--no-progress"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch [1/1], Loss: ") and lines[1].startswith("Test Accuracy: ")

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["backend"] == "torch"
    assert set(metrics) == {"backend", "config", "epochs", "test_accuracy", "threads"}  # as minicnn's
    assert lines[1] == f"Test Accuracy: {metrics['test_accuracy']:.2f}%"
    assert (run / "predictions.png").stat().st_size > 0  # the tutorial's figure, as minicnn's run writes
    with np.load(run / "checkpoint.npz", allow_pickle=False) as npz:
        model_files = [f for f in npz.files if not f.startswith(TRAINING_KEY)]  # the rest: tests/test_resume.py
        assert sorted(model_files) == sorted([*SimpleCNN().state_dict(), MODEL_KEY])

    for backend in ("minicnn", "torch"):
        assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--backend", backend]) == 0
        accuracy = float(capsys.readouterr().out.strip().removeprefix("Test Accuracy: ").rstrip("%"))
        assert accuracy == pytest.approx(metrics["test_accuracy"], abs=0.15)  # at most one of 1,000 differs


def test_cli_torch_backend_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"conv1.weight": np.zeros((3, 3), np.float32)})
    assert cli.main(["evaluate", str(bad), "--backend", "torch", "--model", "simplecnn"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minicnn: error: checkpoint") and "does not fit" in err
    assert cli.main(["train", "--backend", "torch", "--lr", "0", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lr" in err


def test_cli_without_torch_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.delitem(__import__("sys").modules, "reference.train", raising=False)
    assert cli.main(["train", "--backend", "torch", "--limit", "64", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("minicnn: error: --backend torch: needs PyTorch")
