"""Shared fixtures: the MNIST root, hypothesis profiles, the ``slow`` and ``extended`` markers, small
thread chunks (``MINICNN_TEST_CHUNKS=small``), a numba tripwire."""
import functools
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import settings

import minicnn
from minicnn import data
from minicnn.data import DataError

REPO = Path(__file__).resolve().parents[1]

# Shapes are small, so each example is fast, but the first call of a numba kernel compiles it:
# no deadline.  The default profile is derandomized: every run (yours, CI's, on any clone) draws the
# same examples, so a green run means the same thing everywhere and a red one reproduces.  New draws
# come from `make test-random` (HYPOTHESIS_PROFILE=random, which CI runs too: a failure prints the
# seed to rerun with) and HYPOTHESIS_PROFILE=thorough for a long run before a release.
settings.register_profile("minicnn", max_examples=30, deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.register_profile("random", max_examples=30, deadline=None, database=None, print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "minicnn"))

# MINICNN_TEST_CHUNKS=small (`make test-threaded`): every parallel pass splits its work into chunks of a
# few values on 3 threads, so the tests' small shapes run the threaded paths (chunk bounds, per-chunk
# sums, the pool) that the default 2**18-value minimum keeps for large batches.
SMALL_CHUNKS = os.environ.get("MINICNN_TEST_CHUNKS") == "small"


def pytest_configure(config):
    from minicnn import threads
    if SMALL_CHUNKS:
        threads.MIN_CHUNK_VALUES = threads.MIN_CHUNK_MACS = 4
        threads.configure(int(os.environ.get("MINICNN_NUM_THREADS", 3)))
    else:
        threads.configure()   # as the CLI and the examples do: a thread per core, OpenBLAS at 1
    config.addinivalue_line("markers", "slow: over ~20 s (the full MNIST epoch, kill-and-resume matrix); "
                                       "part of `make test`, not of `make test-fast`")
    config.addinivalue_line("markers", "extended: minutes (the fuzz under NUMBA_BOUNDSCHECK, torch resume, most kill points); "
                                       "only `make test-slow` and CI run it")
    config.addinivalue_line("markers", "portable: compiles numba for other CPU targets (minutes); "
                                       "only `make test-portable` and CI run it")
    config.addinivalue_line("markers", "default_chunks: asserts the default chunk sizes or one-chunk results; "
                                       "skipped under MINICNN_TEST_CHUNKS=small")


def pytest_collection_modifyitems(config, items):
    if SMALL_CHUNKS:
        skip = pytest.mark.skip(reason="asserts the default chunk sizes; MINICNN_TEST_CHUNKS=small changes them")
        for item in items:
            if "default_chunks" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_root():
    """Dataset root ($MINICNN_DATA, else the repo's data/), files verified (fetched if missing)."""
    from minicnn import data
    root = Path(os.environ.get("MINICNN_DATA") or REPO / "data")
    data.fetch_mnist(root, quiet=True)
    return root


class NumbaTripwire:
    """Every numba-compiled function in minicnn, replaced by one that fails the test while armed.

    ``with tripwire: call(...)`` proves that ``call`` raised before any numba code ran: a numba
    kernel given a wrong shape reads out of bounds instead of raising, so checks must come first.
    The replacements are in the modules only while armed: a kernel numba compiles outside (a valid
    forward that makes a backward's cache, with a cold cache) must find the numba helpers it calls.
    """

    def __init__(self):
        self.armed = False
        self.patched = []  # the names, for the assertion that there is something to trip on
        self.targets = []  # (module, name, the numba function, its replacement)
        self.calls = []

    def wrap(self, name, kernel):
        @functools.wraps(kernel.py_func)
        def tripwire(*args, **kwargs):
            if self.armed:
                self.calls.append(name)
                raise AssertionError(f"numba kernel {name} ran before the input was rejected")
            return kernel(*args, **kwargs)
        return tripwire

    def __enter__(self):
        for module, name, _, replacement in self.targets:
            setattr(module, name, replacement)
        self.armed = True
        return self

    def __exit__(self, *exc):
        self.armed = False
        for module, name, kernel, _ in self.targets:
            setattr(module, name, kernel)
        return False



@pytest.fixture
def torch():
    """torch, for the tests that compare with it; they skip where it is not installed (it is optional)."""
    return pytest.importorskip("torch")


@pytest.fixture
def numba_tripwire():
    from numba.core.dispatcher import Dispatcher
    wire = NumbaTripwire()
    for info in pkgutil.walk_packages(minicnn.__path__, "minicnn."):
        if info.name.endswith("__main__"):
            continue
        with warnings.catch_warnings():  # the deprecated old module paths warn on import
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(info.name)
        for name, obj in list(vars(module).items()):
            if isinstance(obj, Dispatcher):
                wire.targets.append((module, name, obj, wire.wrap(f"{info.name}.{name}", obj)))
                wire.patched.append(f"{info.name}.{name}")
    assert wire.patched, "no numba kernels found in minicnn: the tripwire would prove nothing"
    yield wire
    wire.__exit__()


@pytest.fixture(scope="session")
def small_checkpoint(mnist_root, tmp_path_factory):
    """A SimpleCNN trained for a few seconds (Adam, one pass over 12 000 images; about 95 % on the test set),
    saved as ``minicnn train`` saves one: for the tests of ``minicnn predict`` and of the examples."""
    from minicnn import data, nn, optim, threads
    from minicnn.checkpoint import save_checkpoint
    from minicnn.train import train_step
    threads.configure()
    x, y = data.load_mnist(mnist_root, train=True)
    minicnn.manual_seed(0)
    model, criterion = minicnn.SimpleCNN(fused=True), nn.CrossEntropyLoss()  # as minicnn train saves it
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    for images, labels in data.DataLoader(x[:12000], y[:12000], batch_size=64, shuffle=True, seed=0):
        train_step(model, images, labels, criterion, optimizer)
    path = tmp_path_factory.mktemp("small_checkpoint") / "checkpoint.npz"
    return save_checkpoint(path, model.state_dict(), {"name": "simplecnn", "kwargs": {}})


# --------------------------------------------------------------------------- Fashion-MNIST, fetched once
# (the dataset tests, and the converted ResNet-18 that trains on it: see tests/test_datasets.py's docstring)
FASHION = data.DATASETS["fashion-mnist"]
DEB_CACHE = (Path(os.environ.get("MINICNN_DATA") or REPO / "data") / FASHION.folder / "apt-cache").absolute()


def cached_debs(cache=DEB_CACHE):
    """The kept .deb files of the pinned package version (``apt-get download`` names them so)."""
    return sorted(cache.glob(f"{FASHION.source.package}_{FASHION.source.version}_*.deb"))


def caching_apt(bin_dir, cache, real_apt):
    """An ``apt-get`` for PATH's front: ``download PACKAGE`` copies the kept .deb into the current folder, as
    the real one would download it; with none kept, it runs the real apt-get and keeps what that downloaded."""
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "apt-get"
    script.write_text(f"""#!{sys.executable}
import os, shutil, subprocess, sys
from pathlib import Path
cache, pattern = Path({str(cache)!r}), {f"{FASHION.source.package}_{FASHION.source.version}_*.deb"!r}
assert sys.argv[1:] == ["download", {FASHION.source.package!r}], sys.argv
kept = sorted(cache.glob(pattern))
if kept:
    shutil.copyfile(kept[0], kept[0].name)
    sys.exit(0)
if {real_apt!r} is None:
    sys.exit("E: apt-get is not installed and no .deb is kept in " + str(cache))
done = subprocess.run([{real_apt!r}, *sys.argv[1:]])
if done.returncode == 0:
    cache.mkdir(parents=True, exist_ok=True)
    for deb in Path().glob(pattern):
        tmp = cache / ("." + deb.name + f".{{os.getpid()}}.tmp")
        shutil.copyfile(deb, tmp)
        os.replace(tmp, cache / deb.name)  # atomic: a session killed mid-copy keeps no half file
sys.exit(done.returncode)
""")
    script.chmod(0o755)


@pytest.fixture(scope="session")
def fashion_root(tmp_path_factory):
    """A fresh root holding Fashion-MNIST, fetched by ``data.fetch``'s real apt route (once per session; the
    .deb downloaded once per machine, see the module docstring)."""
    kept, real_apt = cached_debs(), shutil.which("apt-get")
    if shutil.which("dpkg-deb") is None or (real_apt is None and not kept):
        pytest.skip(f"dpkg-deb, and apt-get or a .deb of {FASHION.source.package} in {DEB_CACHE}, are needed "
                    f"to fetch Fashion-MNIST")
    bin_dir = tmp_path_factory.mktemp("apt-shim")
    caching_apt(bin_dir, DEB_CACHE, real_apt)
    root = tmp_path_factory.mktemp("fashion")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        try:
            data.fetch("fashion-mnist", root, quiet=True)
        except DataError as exc:
            if kept:
                raise DataError(f"{exc} [the .deb came from {kept[0]}: delete it to download it again]") from None
            if "apt-get update" not in str(exc) or os.geteuid() != 0:
                raise
            # A fresh machine (a CI container) may have no package lists yet.
            subprocess.run([real_apt, "update", "-qq"], check=True, capture_output=True, timeout=300)
            data.fetch("fashion-mnist", root, quiet=True)
    assert cached_debs(), f"the downloaded .deb was not kept in {DEB_CACHE}"
    return root
