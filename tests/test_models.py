"""The models beyond SimpleCNN against their torch mirrors: the same state_dict, 50 float64 steps in lockstep,
and ``minicnn train --model NAME`` / ``minicnn evaluate`` on both backends.

Lockstep: identical initial weights, the same MNIST batches (8 or 16 images), SGD(lr 0.01, momentum 0.9) on
both sides, every model in training mode, so batch norm normalises with batch statistics and updates its
running estimates on both sides.  Dropout draws different masks in the two libraries, so simplecnn-bn
runs with ``dropout=0`` here (the same network, every unit kept); the masks themselves are tested in
``test_layers.py``.  Run with ``-s`` to print the measured gaps; ``python -m pytest -p
benchmarks.record tests/test_models.py`` writes them to ``benchmarks/results/models_lockstep.json``.
"""
import json

import numpy as np
import pytest

from minicnn import cli, data, nn, optim
from minicnn.checkpoint import MODEL_KEY, TRAINING_KEY
from minicnn import train as minicnn_train
from minicnn.models import MODELS
from minicnn.rng import manual_seed
from minicnn.testing import torch_threads

torch = pytest.importorskip("torch")
from reference import models as ref_models  # noqa: E402
from reference import train as ref_train  # noqa: E402

NEW_MODELS = ["simplecnn-bn", "lenet5", "resnet-mini"]
LOCKSTEP_KWARGS = {"simplecnn-bn": {"dropout": 0.0}, "lenet5": {}, "resnet-mini": {}}
STEPS = 50
BATCH = {"simplecnn-bn": 8, "lenet5": 16, "resnet-mini": 8}  # small slices keep the float64 steps fast
MEASURED = {}  # model -> the lockstep's measured gaps (benchmarks.record writes them)


@pytest.fixture
def restore_threads():
    """The CLI test runs minicnn on one thread; later tests get the pool size they had."""
    from minicnn import threads
    before = threads.num_threads()
    yield
    threads.configure(before)


@pytest.fixture(scope="module")
def mnist_slice():
    images, labels = data.load_mnist(data.resolve_root(None), train=True)
    n = STEPS * max(BATCH.values())
    return images[:n].astype(np.float64), labels[:n]


def twins(name, dtype=np.float64, **kwargs):
    manual_seed(0)
    ours = MODELS[name](**kwargs).to(dtype)
    theirs = ref_models.MODELS[name](**kwargs).to(getattr(torch, np.dtype(dtype).name))
    return ours, ref_models.load_numpy_state_dict(theirs, ours.state_dict())


@pytest.mark.parametrize("name", NEW_MODELS)
def test_state_dict_keys_shapes_and_dtypes_match_the_mirror(name):
    ours = MODELS[name]().state_dict()
    theirs = ref_models.numpy_state_dict(ref_models.MODELS[name]())
    assert list(ours) == list(theirs)
    for key in ours:
        assert ours[key].shape == theirs[key].shape and ours[key].dtype == theirs[key].dtype, key


@pytest.mark.parametrize("name", NEW_MODELS)
def test_fifty_float64_steps_in_lockstep_with_torch(name, mnist_slice):
    images, labels = mnist_slice
    ours, theirs = twins(name, **LOCKSTEP_KWARGS[name])
    ours.train()
    theirs.train()
    criterion, criterion_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    losses, losses_t, b = [], [], BATCH[name]
    with torch_threads(1):
        for step in range(STEPS):
            x, y = images[step * b:(step + 1) * b], labels[step * b:(step + 1) * b]
            losses.append(minicnn_train.train_step(ours, x, y, criterion, opt))
            losses_t.append(ref_train.train_step(theirs, x, y, criterion_t, opt_t))
    state, state_t = ours.state_dict(), ref_models.numpy_state_dict(theirs)
    gap = max(float(np.abs(state[k].astype(np.float64) - state_t[k]).max()) for k in state)
    loss_gap = float(np.abs(np.subtract(losses, losses_t)).max())
    MEASURED[name] = {"steps": STEPS, "batch": b, "max_weight_diff": gap, "max_loss_diff": loss_gap}
    print(f"\n{name}: 50 float64 steps, max weight/buffer diff {gap:.2e}, max loss diff {loss_gap:.2e}, "
          f"loss {np.mean(losses[:5]):.3f} -> {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.15  # it trained (LeNet-5's tanh is the slowest)
    assert loss_gap <= 1e-9
    assert gap <= 1e-9
    for key in state:
        if key.endswith("num_batches_tracked"):
            assert int(state[key]) == int(state_t[key]) == STEPS
    # and in evaluation mode (batch norm on the running estimates) they predict the same
    ours.eval()
    theirs.eval()
    x = images[:64]
    with nn.no_grad():
        logits = ours(x).data
    np.testing.assert_allclose(logits, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NEW_MODELS)
def test_cli_trains_each_model_on_both_backends_and_either_evaluates(name, tmp_path, capsys, monkeypatch,
                                                                     restore_threads):
    load_mnist = data.load_mnist

    def small_test_split(root, train=True, **kwargs):  # the plumbing is under test, not the accuracy
        images, labels = load_mnist(root, train, **kwargs)
        return (images, labels) if train else (images[:200], labels[:200])

    monkeypatch.setattr(data, "load_mnist", small_test_split)
    # one thread each: torch's OpenMP workers spin between ops and starve minicnn's pool on shared cores
    monkeypatch.setenv("MINICNN_NUM_THREADS", "1")
    accuracies = {}
    for backend in ("minicnn", "torch"):
        run = tmp_path / backend
        argv = ["train", "--model", name, "--backend", backend, "--epochs", "1", "--limit", "128",
                "--batch-size", "32", "--out", str(run), "--no-progress"]
        assert cli.main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("Epoch [1/1], Loss: ")
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["config"]["model"] == name and metrics["backend"] == backend
        with np.load(run / "checkpoint.npz", allow_pickle=False) as npz:
            model_files = [f for f in npz.files if f != MODEL_KEY and not f.startswith(TRAINING_KEY)]
        assert sorted(model_files) == sorted(MODELS[name]().state_dict())
        for evaluator in ("minicnn", "torch"):
            assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--backend", evaluator]) == 0
            out = capsys.readouterr().out.strip()
            accuracies[backend, evaluator] = float(out.removeprefix("Test Accuracy: ").rstrip("%"))
        # a checkpoint gives the same accuracy whichever backend rebuilds the model from its record
        # (at most one of the 200 images may flip between float32 implementations)
        assert accuracies[backend, "minicnn"] == pytest.approx(accuracies[backend, "torch"], abs=0.51)
        assert accuracies[backend, "minicnn"] == pytest.approx(metrics["test_accuracy"], abs=0.51)
