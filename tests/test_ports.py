"""Whole PyTorch programs (tests/ports/) run under torch, then with only their imports rewritten by the
import map of docs/porting.md; what they print must agree, and their first training step, in float64 from
the same weights, must equal torch's.

The map is the contract: a program that needs any other edit to run on minicnn fails here.  The training
programs (two subprocesses each, about a minute) are the extended tier (``make test-slow``); the
build-the-model walk-through and the float64 first steps of the programs' models run in ``make test``.
"""
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("torch")
pytest.importorskip("torchvision")

PORTS = REPO / "tests" / "ports"

# docs/porting.md's import map: torch's packages are minicnn's, torchvision is minicnn.vision; a bare
# `import torch` / `import torchvision` keeps its name with `as`
IMPORT = re.compile(r"^(?P<kind>import|from) (?P<package>torchvision|torch)(?P<rest>[.\w]*)(?P<tail>.*)$")
PACKAGES = {"torch": "minicnn", "torchvision": "minicnn.vision"}


def port(source):
    """``source`` with each import line rewritten by the map, and nothing else."""
    out = []
    for line in source.splitlines():
        match = IMPORT.match(line)
        if match and (match["rest"] == "" or match["rest"].startswith(".")):
            kind, package, rest, tail = match.group("kind", "package", "rest", "tail")
            alias = f" as {package}" if kind == "import" and not rest and not tail.strip() else ""
            line = f"{kind} {PACKAGES[package]}{rest}{alias}{tail}"
        out.append(line)
    ported = "\n".join(out) + "\n"
    assert not re.search(r"^(import|from) torch", ported, re.M), "an import the map does not cover"
    return ported


def run(path, args, cwd):
    result = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, cwd=cwd,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def both(name, args, tmp_path):
    """``(torch's output, minicnn's output)`` of ``tests/ports/NAME.py``."""
    source = (PORTS / f"{name}.py").read_text()
    ported = tmp_path / f"{name}_minicnn.py"
    ported.write_text(port(source))
    for side in ("ran_torch", "ran_minicnn"):   # (not "torch"/"minicnn": a folder of that name beside the
        (tmp_path / side).mkdir()              # script would shadow the package)
    return run(PORTS / f"{name}.py", args, tmp_path / "ran_torch"), run(ported, args, tmp_path / "ran_minicnn")


NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?")


def shape_of(text):
    """The output with every number as <n>: what must be the same whatever the random weights (the two
    libraries draw different initial weights and shuffles)."""
    return NUMBER.sub("<n>", text)


@pytest.mark.extended
def test_pytorch_examples_mnist_ports_by_its_imports(tmp_path, mnist_root):
    data = str(Path(mnist_root).resolve())   # (the programs run in folders of their own: an absolute path)
    args = ["--data", data, "--epochs", "2", "--train-images", "1280", "--test-images", "500",
            "--log-interval", "5", "--save-model"]
    theirs, ours = both("mnist_main", args, tmp_path)
    assert shape_of(ours) == shape_of(theirs)
    assert ours.count("Train Epoch: ") == theirs.count("Train Epoch: ") == 2 * 4   # 20 batches, every 5th
    accuracy = [int(m) for m in re.findall(r"Accuracy: (\d+)/500", ours + theirs)]
    assert len(accuracy) == 4 and min(accuracy[1], accuracy[3]) > 400, accuracy   # both learn
    import minicnn
    state = minicnn.load(tmp_path / "ran_minicnn" / "mnist_cnn.pt")          # torch.save wrote a state_dict
    assert list(state) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                           "fc2.weight", "fc2.bias"]


@pytest.mark.extended
def test_the_tutorials_program_ports_by_its_imports(tmp_path, mnist_root):
    data = str(Path(mnist_root).resolve())
    theirs, ours = both("tutorial_cnn", ["--data", data, "--epochs", "2", "--limit", "5120"], tmp_path)
    assert shape_of(ours) == shape_of(theirs)
    accuracy = [float(a) for a in re.findall(r"Test Accuracy: ([\d.]+)%", ours + theirs)]
    assert len(accuracy) == 2 and min(accuracy) > 85, accuracy


@pytest.mark.extended
def test_pytorch_examples_vae_ports_by_its_imports(tmp_path, mnist_root):
    data = str(Path(mnist_root).resolve())
    args = ["--data", data, "--epochs", "2", "--train-images", "1024", "--test-images", "256", "--log-interval", "4"]
    theirs, ours = both("vae", args, tmp_path)
    assert shape_of(ours) == shape_of(theirs)
    assert ours.count("Train Epoch: ") == theirs.count("Train Epoch: ") == 2 * 2 and "loss fell: True" in ours
    for side in ("ran_torch", "ran_minicnn"):
        assert sorted(p.name for p in (tmp_path / side / "results").iterdir()) == [
            "reconstruction_1.png", "reconstruction_2.png", "sample_1.png", "sample_2.png"]


@pytest.mark.extended
def test_pytorch_examples_dcgan_ports_by_its_imports(tmp_path, mnist_root):
    """The printed options and both networks line for line (torch's reprs), the losses' lines, the pictures
    and the two state_dicts under torch's keys."""
    data = str(Path(mnist_root).resolve())
    args = ["--dataset", "mnist", "--dataroot", data, "--limit", "64", "--batchSize", "16", "--ngf", "8",
            "--ndf", "8", "--nz", "16", "--niter", "2", "--manualSeed", "1", "--outf", "out"]
    theirs, ours = both("dcgan", args, tmp_path)
    assert shape_of(ours) == shape_of(theirs)
    assert "(0): ConvTranspose2d(16, 64, kernel_size=(4, 4), stride=(1, 1), bias=False)" in ours
    assert ours.count("Loss_D: ") == 2 * 4
    import minicnn
    for name in ("netG_epoch_1.pth", "netD_epoch_1.pth"):
        state = minicnn.load(tmp_path / "ran_minicnn" / "out" / name)
        import torch
        reference = torch.load(tmp_path / "ran_torch" / "out" / name, weights_only=True)
        assert list(state) == list(reference) and all(state[k].shape == tuple(reference[k].shape) for k in state)
    assert {p.name for p in (tmp_path / "ran_minicnn" / "out").iterdir()} >= {
        "real_samples.png", "fake_samples_epoch_000.png", "fake_samples_epoch_001.png"}


def plain_sizes(text):
    """torch's ``torch.Size([3, 28])`` printed as the tuple minicnn prints, ``(3, 28)`` (docs/porting.md:
    a shape is a plain tuple)."""
    return re.sub(r"torch\.Size\(\[([\d, ]*)\]\)",
                  lambda m: repr(tuple(int(n) for n in m.group(1).split(",") if n.strip())), text)


def test_the_build_the_model_tutorial_prints_what_torch_prints(tmp_path):
    """No weights are printed, only the model, shapes and checks: the output is the same line for line."""
    theirs, ours = both("build_model", [], tmp_path)
    assert ours == plain_sizes(theirs)
    assert "NeuralNetwork(\n  (flatten): Flatten(start_dim=1, end_dim=-1)" in ours and ours.count("Layer: ") == 6
    assert "Using cpu device" in ours and "Rows sum to 1: True" in ours


@pytest.mark.extended   # (two processes, about 35 s; the lazy layers' own tests run in make test)
def test_d2ls_lazy_lenet_prints_what_torch_prints(tmp_path):
    """Lazy layers sized by a dummy batch, net.apply(init), the layer-by-layer shapes: the same output."""
    theirs, ours = both("d2l_lenet", [], tmp_path)
    assert ours == plain_sizes(theirs)
    assert "Conv2d output shape:\t (1, 6, 28, 28)" in ours and "61706 parameters" in ours
    assert "loss fell: True" in ours


def load(name, ported):
    """The module of ``tests/ports/NAME.py`` (under torch, or ported), its ``main`` not run."""
    source = (PORTS / f"{name}.py").read_text()
    return runpy.run_path(str(PORTS / f"{name}.py"), run_name=f"port_{name}") if not ported else \
        _exec(port(source), name)


def _exec(source, name):
    namespace = {"__name__": f"port_{name}_minicnn"}
    exec(compile(source, f"{name}_minicnn.py", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("name, model, optimizer, loss", [
    ("mnist_main", "Net", lambda optim, params: optim.Adadelta(params, lr=1.0), "nll_loss"),
    ("tutorial_cnn", "SimpleCNN", lambda optim, params: optim.SGD(params, lr=0.01, momentum=0.9), "cross_entropy"),
])
def test_the_first_steps_equal_torchs_in_float64(name, model, optimizer, loss):
    import torch
    theirs_ns, ours_ns = load(name, False), load(name, True)
    torch.manual_seed(0)
    theirs = theirs_ns[model]().double().eval()      # eval: dropout off, the same arithmetic on both sides
    ours = ours_ns[model]().double().eval()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    opt_t, opt_o = optimizer(theirs_ns["optim"], theirs.parameters()), optimizer(ours_ns["optim"], ours.parameters())
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)
        opt_t.zero_grad()
        getattr(theirs_ns["F"], loss)(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt_t.step()
        opt_o.zero_grad()
        getattr(ours_ns["F"], loss)(ours(ours_ns["torch"].tensor(x)), ours_ns["torch"].tensor(y)).backward()
        opt_o.step()
    expected = theirs.state_dict()
    for key, value in ours.state_dict().items():
        ref = expected[key].numpy()
        assert np.abs(value - ref).max() <= 1e-12 * max(np.abs(ref).max(), 1e-30), key


def test_the_map_rewrites_imports_only():
    assert port("import torch\nx = torch.zeros(2)  # import torch\n") == \
        "import minicnn as torch\nx = torch.zeros(2)  # import torch\n"
    assert port("from torchvision import datasets, transforms\n") == "from minicnn.vision import datasets, transforms\n"
    for theirs, ours in [("import torch.nn as nn", "import minicnn.nn as nn"),
                         ("import torch.utils.data", "import minicnn.utils.data"),
                         ("from torch import nn, optim", "from minicnn import nn, optim"),
                         ("from torch.nn import functional as F", "from minicnn.nn import functional as F"),
                         ("import torchvision", "import minicnn.vision as torchvision"),
                         ("import torchvision.utils as vutils", "import minicnn.vision.utils as vutils"),
                         ("from torchvision.utils import save_image", "from minicnn.vision.utils import save_image")]:
        assert port(theirs) == ours + "\n", theirs
    with pytest.raises(AssertionError, match="an import the map does not cover"):
        port("import torchtext\n")


def _same_weights(theirs, ours):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _assert_same_state(theirs, ours, bound=1e-12):
    expected = theirs.state_dict()
    for key, value in ours.state_dict().items():
        ref = expected[key].numpy()
        assert np.abs(np.asarray(value, np.float64) - ref).max() <= bound * max(np.abs(ref).max(), 1e-30), key


def test_the_vaes_first_steps_equal_torchs_in_float64(monkeypatch):
    """The VAE's loss (binary cross-entropy summed, plus the KL term) and Adam, three steps from the same
    weights; the reparameterisation's noise is the same array on both sides (the libraries draw differently)."""
    import torch
    import minicnn
    theirs_ns, ours_ns = load("vae", False), load("vae", True)
    torch.manual_seed(0)
    theirs, ours = theirs_ns["VAE"]().double(), ours_ns["VAE"]().double()
    _same_weights(theirs, ours)
    opt_t = theirs_ns["optim"].Adam(theirs.parameters(), lr=1e-3)
    opt_o = ours_ns["optim"].Adam(ours.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, eps = rng.random((8, 1, 28, 28)), rng.standard_normal((8, 20))
        monkeypatch.setattr(torch, "randn_like", lambda t: torch.from_numpy(eps))
        monkeypatch.setattr(minicnn, "randn_like", lambda t: minicnn.tensor(eps))
        for ns, model, opt, lib in ((theirs_ns, theirs, opt_t, torch.from_numpy), (ours_ns, ours, opt_o, minicnn.tensor)):
            opt.zero_grad()
            recon, mu, logvar = model(lib(x))
            ns["loss_function"](recon, lib(x), mu, logvar).backward()
            opt.step()
    _assert_same_state(theirs, ours)


def test_the_dcgans_first_steps_equal_torchs_in_float64():
    """One discriminator step (real and fake batches, BCELoss) and one generator step, with Adam's betas,
    twice, from the same weights and noise: transposed convolutions, batch norm in training mode, LeakyReLU."""
    import torch
    import minicnn
    theirs_ns, ours_ns = load("dcgan", False), load("dcgan", True)
    torch.manual_seed(0)
    nets = {}
    for side, ns in (("t", theirs_ns), ("o", ours_ns)):
        nets[side] = (ns["Generator"](1, 8, 4, 1).double(), ns["Discriminator"](1, 4, 1).double())
        for net in nets[side]:
            net.apply(ns["weights_init"])
    for t, o in zip(nets["t"], nets["o"]):
        _same_weights(t, o)
    optims = {side: [ns["optim"].Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999)) for net in nets[side]]
              for side, ns in (("t", theirs_ns), ("o", ours_ns))}
    rng = np.random.default_rng(0)
    for _ in range(2):
        real, noise = rng.uniform(-1, 1, (4, 1, 64, 64)), rng.standard_normal((4, 8, 1, 1))
        for side, ns, lib in (("t", theirs_ns, torch.from_numpy), ("o", ours_ns, minicnn.tensor)):
            (netG, netD), (optG, optD) = nets[side], optims[side]
            criterion = ns["nn"].BCELoss()
            netD.zero_grad()
            label = ns["torch"].full((4,), 1, dtype=ns["torch"].float64)
            criterion(netD(lib(real)), label).backward()
            fake = netG(lib(noise))
            label.fill_(0)
            criterion(netD(fake.detach()), label).backward()
            optD.step()
            netG.zero_grad()
            label.fill_(1)
            criterion(netD(fake), label).backward()
            optG.step()
    for t, o in zip(nets["t"], nets["o"]):
        _assert_same_state(t, o, 1e-10)
