"""The dataset registry, Fashion-MNIST from Debian's package, the Dataset/DataLoader API and the transforms.

The real Fashion-MNIST files are fetched once per session into a fresh folder by the real route
(``data.fetch``: ``apt-get download``, ``dpkg-deb``, the pinned digests, torchvision's layout); the
corruption tests work on copies of them.  The 31 MB .deb itself is downloaded once per machine: the
first session's real ``apt-get download`` is kept in the dataset root (``$MINICNN_DATA``, else the
repo's ``data/``, where ``minicnn fetch-data`` puts MNIST), under ``FashionMNIST/apt-cache/``, and
later sessions hand that file to the same fetch through an ``apt-get`` shim, without the network.
Delete that folder to make the next session download it again.
"""

import dataclasses
import hashlib
import io
import json
import shutil
import stat
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from minicnn import cli, data
from minicnn.data import DataError, DataLoader, TensorDataset, transforms as T

from conftest import DEB_CACHE, FASHION, cached_debs

SHIPPED = {  # the digests of the .gz files as the Debian package holds them
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}


def leftovers(root):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*"))


def sha256(blob):
    return hashlib.sha256(blob).hexdigest()


@pytest.fixture(scope="session")
def fashion_test(fashion_root):
    return data.load_pixels("fashion-mnist", fashion_root, train=False, fetch=False)


def copy_of(fashion_root, tmp_path):
    raw = data.raw_dir(tmp_path, "fashion-mnist")
    shutil.copytree(data.raw_dir(fashion_root, "fashion-mnist"), raw)
    return raw


def empty_path(tmp_path, monkeypatch):
    """A PATH with neither apt-get nor npm on it."""
    bin_dir = tmp_path / "empty-bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))


# --------------------------------------------------------------------------- the registry


def test_registry_holds_two_specs_of_one_shape():
    assert sorted(data.DATASETS) == ["fashion-mnist", "mnist"]
    for name, spec in data.DATASETS.items():
        assert spec.name == name and data.get_spec(name) is spec
        assert len(spec.files) == 4 and all(len(h) == 64 and int(h, 16) >= 0 for h in spec.files.values())
        assert {f for pair in spec.splits.values() for f in pair} == set(spec.files)
        assert spec.image_shape == (1, 28, 28) and len(spec.classes) == 10
        assert len(spec.mean) == len(spec.std) == spec.image_shape[0]
    assert data.DATASETS["mnist"].folder == "MNIST" and FASHION.folder == "FashionMNIST"
    assert FASHION.source.shipped == SHIPPED
    assert FASHION.classes[0] == "T-shirt/top" and FASHION.classes[9] == "Ankle boot"


@pytest.mark.parametrize("name, error, match", [
    ("cifar10", ValueError, r"dataset: expected one of \['fashion-mnist', 'mnist'\], got 'cifar10'"),
    ("MNIST", ValueError, "got 'MNIST'"),
    (None, TypeError, "dataset: expected a name .str., one of .*got NoneType"),
])
def test_unknown_dataset_lists_the_choices(name, error, match):
    for call in (lambda: data.get_spec(name), lambda: data.fetch(name), lambda: data.load_dataset(name),
                 lambda: data.raw_dir("r", name)):
        with pytest.raises(error, match=match):
            call()


def test_a_third_dataset_is_one_more_entry(tmp_path, monkeypatch):
    # A KMNIST-like spec: only the registry changes, and fetch/load/raw_dir follow it.
    pixels, labels = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251, np.array([4, 1], np.uint8)
    blobs = {"t10k-images-idx3-ubyte": idx_bytes(pixels), "t10k-labels-idx1-ubyte": idx_bytes(labels)}
    spec = dataclasses.replace(data.DATASETS["mnist"], name="kmnist", folder="KMNIST",
                               files={k: sha256(v) for k, v in blobs.items()}, mean=(0.2,), std=(0.4,))
    monkeypatch.setitem(data.DATASETS, "kmnist", spec)
    raw = data.raw_dir(tmp_path, "kmnist")
    assert raw == tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, blob in blobs.items():
        (raw / name).write_bytes(blob)
    images, got = data.load_dataset("kmnist", tmp_path, train=False, fetch=False)
    assert got.tolist() == [4, 1]
    expected = (pixels.astype(np.float32) / np.float32(255) - np.float32(0.2)) / np.float32(0.4)
    assert np.array_equal(images[:, 0], expected)
    assert "kmnist" in cli.build_parser()._subparsers._group_actions[0].choices["fetch-data"].format_help()


def idx_bytes(array):
    return bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes() + array.astype(np.uint8).tobytes()


# --------------------------------------------------------------------------- Fashion-MNIST, real files


def test_apt_fetch_lays_files_out_as_torchvision_does(fashion_root, tmp_path, monkeypatch):
    assert leftovers(fashion_root) == ["FashionMNIST", "FashionMNIST/raw"] + [
        f"FashionMNIST/raw/{f}" for f in sorted(FASHION.files)]  # no .deb, no .gz, no scratch folder
    raw = data.raw_dir(fashion_root, "fashion-mnist")
    for name, digest in FASHION.files.items():
        assert sha256((raw / name).read_bytes()) == digest
        assert stat.S_IMODE((raw / name).stat().st_mode) & 0o044 == 0o044  # readable, not mkstemp's 0o600
    empty_path(tmp_path, monkeypatch)
    assert data.fetch("fashion-mnist", fashion_root, quiet=True) == raw  # all present: apt is not needed


def test_real_fashion_splits(fashion_root, fashion_test):
    pixels, labels = fashion_test
    assert pixels.shape == (10000, 1, 28, 28) and pixels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10 and labels.dtype == np.int64
    assert labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    images, labels2 = data.load_dataset("fashion-mnist", fashion_root, train=False, fetch=False)
    assert images.dtype == np.float32 and images.min() == -1.0 and images.max() == 1.0
    assert np.array_equal(labels, labels2)
    train_pixels, train_labels = data.load_pixels("fashion-mnist", fashion_root, train=True, fetch=False)
    assert train_pixels.shape == (60000, 1, 28, 28) and np.bincount(train_labels).tolist() == [6000] * 10


@pytest.mark.parametrize("mean, std", [((0.5,), (0.5,)), ((0.2860,), (0.3530,))])
def test_torchvision_reads_our_layout_and_preprocessing_is_bit_identical(fashion_root, fashion_test, mean, std):
    pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    transform = tv.transforms.Compose([tv.transforms.ToTensor(), tv.transforms.Normalize(mean, std)])
    reference = tv.datasets.FashionMNIST(str(fashion_root), train=False, download=False, transform=transform)
    pixels, labels = fashion_test
    ours = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(pixels)
    for i in [0, 1, 17, 5000, 9999]:
        img, target = reference[i]
        assert np.array_equal(ours[i].view(np.uint32), img.numpy().view(np.uint32)), i
        assert labels[i] == target
    if mean == (0.5,):
        images, _ = data.load_dataset("fashion-mnist", fashion_root, train=False, fetch=False)
        assert np.array_equal(images.view(np.uint32), ours.view(np.uint32))


def test_fashion_dataset_class(fashion_root):
    ds = data.FashionMNIST(fashion_root, train=False, download=False, transform=FASHION.transform())
    assert len(ds) == 10000 and ds.classes == FASHION.classes and ds.data.dtype == np.uint8
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and label == 9
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert np.array_equal(x[0], image) and y.tolist() == ds.targets[:5].tolist()


# --------------------------------------------------------------------------- Fashion-MNIST, bad files


def test_corrupt_present_file_is_refused_by_name_and_left_alone(fashion_root, tmp_path, monkeypatch):
    raw = copy_of(fashion_root, tmp_path)
    bad = raw / "train-images-idx3-ubyte"
    blob = bytearray(bad.read_bytes())
    blob[123456] ^= 0x40
    bad.write_bytes(blob)
    empty_path(tmp_path, monkeypatch)
    with pytest.raises(DataError) as err:
        data.fetch("fashion-mnist", tmp_path, quiet=True)
    msg = str(err.value)
    assert str(bad) in msg and "SHA-256 mismatch" in msg and FASHION.files[bad.name] in msg and "delete" in msg
    assert bad.read_bytes() == blob
    with pytest.raises(DataError, match=f"{bad}: SHA-256 mismatch"):
        data.load_dataset("fashion-mnist", tmp_path, train=True, fetch=False)


def test_truncated_file_is_refused_by_name(fashion_root, tmp_path):
    raw = copy_of(fashion_root, tmp_path)
    bad = raw / "t10k-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-1])
    with pytest.raises(DataError, match=f"{bad}: SHA-256 mismatch, file truncated or corrupt.*10007 bytes"):
        data.load_pixels("fashion-mnist", tmp_path, train=False, fetch=False)


def test_missing_file_without_apt_says_how_to_place_it(fashion_root, tmp_path, monkeypatch):
    raw = copy_of(fashion_root, tmp_path)
    (raw / "t10k-images-idx3-ubyte").unlink()
    empty_path(tmp_path, monkeypatch)
    with pytest.raises(DataError) as err:
        data.fetch("fashion-mnist", tmp_path, quiet=True)
    msg = str(err.value)
    assert f"{raw / 't10k-images-idx3-ubyte'}: missing, and `apt-get` is not on PATH" in msg
    assert "apt-get download dataset-fashion-mnist" in msg and "dpkg-deb -x" in msg and "gunzip" in msg
    assert "\n" not in msg
    assert sorted(p.name for p in raw.iterdir()) == sorted(set(FASHION.files) - {"t10k-images-idx3-ubyte"})
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: file not found.*apt-get download"):
        data.load_pixels("fashion-mnist", tmp_path, train=False, fetch=False)


def fake_apt(tmp_path, monkeypatch, members=None, fail=None):
    """``apt-get download`` that writes a dummy .deb, ``dpkg-deb --fsys-tarfile`` that prints a tar of ``members``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tar_path = tmp_path / "fs.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name, blob in (members or {}).items():
            info = tarfile.TarInfo(f"./usr/share/datasets/fashion-mnist/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    apt = f"sys.stderr.write({fail!r}); sys.exit(100)" if fail else "open('dataset-fashion-mnist_1_all.deb', 'wb')"
    scripts = {"apt-get": apt,
               "dpkg-deb": f"sys.stdout.buffer.write(open({str(tar_path)!r}, 'rb').read())"}
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


def gz(blob):
    import gzip
    return gzip.compress(blob, mtime=0)


def pin_fashion(monkeypatch, files, shipped):
    source = dataclasses.replace(FASHION.source, shipped=shipped)
    monkeypatch.setitem(data.DATASETS, "fashion-mnist", dataclasses.replace(FASHION, files=files, source=source))


def test_fetch_installs_gunzipped_verified_files(tmp_path, monkeypatch):
    labels = idx_bytes(np.arange(10, dtype=np.uint8))
    pin_fashion(monkeypatch, {"t10k-labels-idx1-ubyte": sha256(labels)},
                {"t10k-labels-idx1-ubyte.gz": sha256(gz(labels))})
    fake_apt(tmp_path, monkeypatch, {"t10k-labels-idx1-ubyte.gz": gz(labels)})
    raw = data.fetch("fashion-mnist", tmp_path / "root", quiet=True)
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == labels
    assert leftovers(tmp_path / "root") == ["FashionMNIST", "FashionMNIST/raw", "FashionMNIST/raw/t10k-labels-idx1-ubyte"]


@pytest.mark.parametrize("case", ["shipped digest", "uncompressed digest", "truncated gzip", "not gzip"])
def test_bad_download_is_refused_and_nothing_is_written(tmp_path, monkeypatch, case):
    labels = idx_bytes(np.arange(10, dtype=np.uint8))
    member = {"shipped digest": gz(labels + b"x"), "uncompressed digest": gz(labels + b"x"),
              "truncated gzip": gz(labels)[:-9], "not gzip": labels}[case]
    shipped = sha256(gz(labels)) if case == "shipped digest" else sha256(member)
    pin_fashion(monkeypatch, {"t10k-labels-idx1-ubyte": sha256(labels)}, {"t10k-labels-idx1-ubyte.gz": shipped})
    fake_apt(tmp_path, monkeypatch, {"t10k-labels-idx1-ubyte.gz": member})
    root = tmp_path / "root"
    match = {"shipped digest": "as shipped", "uncompressed digest": "uncompressed",
             "truncated gzip": "cannot be decompressed", "not gzip": "cannot be decompressed"}[case]
    with pytest.raises(DataError, match=match) as err:
        data.fetch("fashion-mnist", root, quiet=True)
    assert "t10k-labels-idx1-ubyte.gz" in str(err.value) and "nothing written" in str(err.value)
    assert leftovers(root) == ["FashionMNIST", "FashionMNIST/raw"]  # no file, no temp file, no scratch


def test_apt_failure_is_reported_with_the_update_hint(tmp_path, monkeypatch):
    fake_apt(tmp_path, monkeypatch, fail="W: something\nE: Unable to locate package dataset-fashion-mnist\n")
    root = tmp_path / "root"
    with pytest.raises(DataError) as err:
        data.fetch("fashion-mnist", root, quiet=True)
    msg = str(err.value)
    assert "`apt-get download dataset-fashion-mnist` failed (E: Unable to locate package" in msg
    assert "apt-get update" in msg and "gunzip" in msg
    assert leftovers(root) == ["FashionMNIST", "FashionMNIST/raw"]


# --------------------------------------------------------------------------- DataLoader and datasets


def toy(n=10, dtype=np.float32):
    return np.arange(n * 12).reshape(n, 3, 2, 2).astype(dtype), np.arange(n, dtype=np.int64)


def test_drop_last_and_len():
    x, y = toy(10)
    assert [len(b) for _, b in DataLoader(x, y, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(x, y, batch_size=4, drop_last=True)) == 2 and len(DataLoader(x, y, batch_size=4)) == 3
    assert len(DataLoader(x, y, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(TensorDataset(x, y))) == 10  # torch's default batch_size=1


def test_shuffle_is_deterministic_per_seed_and_generator():
    x, y = toy(40)
    a = [b.tolist() for _, b in DataLoader(x, y, batch_size=8, shuffle=True, seed=4)]
    b = [b.tolist() for _, b in DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, seed=4)]
    c = [b.tolist() for _, b in DataLoader(x, y, batch_size=8, shuffle=True,
                                           generator=np.random.default_rng(4))]
    assert a == b == c
    assert np.concatenate(a).tolist() == np.random.default_rng(4).permutation(40).tolist()  # as before datasets
    assert a != [b.tolist() for _, b in DataLoader(x, y, batch_size=8, shuffle=True, seed=5)]


def test_uint8_images_are_converted_as_to_tensor():
    pixels = np.arange(4 * 1 * 8 * 8, dtype=np.int64).reshape(4, 1, 8, 8).astype(np.uint8)
    x, _ = next(iter(DataLoader(pixels, np.zeros(4, np.int64), batch_size=4)))
    assert x.dtype == np.float32 and np.array_equal(x, pixels.astype(np.float32) / np.float32(255))


class PerSample(data.Dataset):
    """A Dataset with only __len__ and __getitem__: the loader stacks the samples."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_a_plain_dataset_gives_the_same_batches_as_tensor_dataset():
    x, y = toy(11)
    for (xa, ya), (xb, yb) in zip(DataLoader(PerSample(x, y), batch_size=3, shuffle=True, seed=1),
                                  DataLoader(TensorDataset(x, y), batch_size=3, shuffle=True, seed=1), strict=True):
        assert np.array_equal(xa, xb) and np.array_equal(ya, yb)


def augmented(seed, transform):
    pixels = (np.arange(16 * 8 * 8) % 256).astype(np.uint8).reshape(16, 1, 8, 8)
    ds = TensorDataset(pixels, np.arange(16, dtype=np.int64), transform=transform)
    return [(x, y) for x, y in DataLoader(ds, batch_size=5, shuffle=True, seed=seed)]


def test_augmentation_is_reproducible_and_leaves_the_order_alone():
    aug = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(8, padding=2), T.ToTensor()])
    a, b, c = augmented(3, aug), augmented(3, aug), augmented(4, aug)
    plain = augmented(3, T.ToTensor())
    assert all(np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))
    assert [y.tolist() for _, y in a] == [y.tolist() for _, y in plain]  # same order with or without
    assert not all(np.array_equal(xa, xp) for (xa, _), (xp, _) in zip(a, plain))


def test_transforms_outside_a_loader_follow_manual_seed():
    from minicnn import manual_seed
    x = np.arange(6 * 16, dtype=np.float32).reshape(6, 1, 4, 4)
    manual_seed(7)
    first = T.RandomCrop(4, padding=1)(x)
    manual_seed(7)
    assert np.array_equal(T.RandomCrop(4, padding=1)(x), first)


@pytest.mark.parametrize("make, error, match", [
    (lambda: DataLoader(3), TypeError, "dataset: expected a map-style dataset .* or an images array with labels, got int"),
    (lambda: DataLoader([[0.0]], np.zeros(1, np.int64)), TypeError, "images: expected a numpy.ndarray"),
    (lambda: DataLoader(TensorDataset(*toy()), 4, True, [0, 1]), ValueError, "sampler is mutually exclusive with shuffle"),
    (lambda: DataLoader(TensorDataset(*toy()), generator=3), TypeError, "generator: expected a numpy.random.Generator or None, got int"),
    (lambda: TensorDataset(), ValueError, "at least one array"),
    (lambda: TensorDataset(np.zeros(3), np.zeros(4)), ValueError, r"lengths \[3, 4\]"),
    (lambda: TensorDataset([1, 2]), TypeError, "got list as argument 0"),
    (lambda: TensorDataset(np.zeros(3), transform=3), TypeError, "transform to be callable, got int"),
    (lambda: TensorDataset(np.zeros(3))[3], IndexError, "index 3 out of range for 3"),
    (lambda: TensorDataset(np.zeros(3))[1.0], TypeError, "int index, got float"),
    (lambda: data.load_pixels("mnist", train="yes"), TypeError, "train: expected a bool, got str"),
    (lambda: data.resolve_root(3), TypeError, "data_dir: expected a path, got int"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------------- transforms against torchvision


def batch(n=6, c=3, h=9, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, c, h, w), dtype=np.uint8)


def torch_mods():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision")
    return torch, tv.transforms.functional, tv.transforms


@pytest.mark.parametrize("padding", [None, 2, (1, 3), (0, 1, 2, 3)])
@pytest.mark.parametrize("size", [5, (7, 4)])
def test_random_crop_equals_torchvision_crop_at_the_same_offsets(padding, size):
    torch, F, _ = torch_mods()
    x = batch()
    crop = T.RandomCrop(size, padding=padding)
    out = crop(x, np.random.default_rng(1))
    top, left = crop.get_params(crop.pad(x), np.random.default_rng(1))
    h, w = crop.size
    tv_padding = [0, 0, 0, 0] if padding is None else ([padding] if isinstance(padding, int) else list(padding))
    assert out.shape == (6, 3, h, w) and out.dtype == np.uint8
    for n in range(len(x)):
        expected = F.crop(F.pad(torch.from_numpy(x[n]), tv_padding, fill=0), int(top[n]), int(left[n]), h, w)
        assert np.array_equal(out[n], expected.numpy()), n
    assert len({(int(a), int(b)) for a, b in zip(top, left)}) > 1  # offsets differ across the batch


def test_random_horizontal_flip_equals_torchvision_hflip():
    torch, F, _ = torch_mods()
    x = batch(n=20)
    flip = T.RandomHorizontalFlip(p=0.5)
    out = flip(x, np.random.default_rng(2))
    flags = flip.get_params(x, np.random.default_rng(2))
    assert 0 < flags.sum() < len(x)
    for n in range(len(x)):
        expected = F.hflip(torch.from_numpy(x[n])).numpy() if flags[n] else x[n]
        assert np.array_equal(out[n], expected), n
    assert np.array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    assert np.array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)


def test_random_affine_translation_equals_torchvision_affine():
    torch, F, tvt = torch_mods()
    x = batch(n=12, c=1, h=28, w=28)
    affine = T.RandomAffine(0, translate=(0.1, 0.2))
    out = affine(x, np.random.default_rng(3))
    dx, dy = affine.get_params(x, np.random.default_rng(3))
    assert np.abs(dx).max() <= 3 and np.abs(dy).max() <= 6 and len(set(zip(dx.tolist(), dy.tolist()))) > 1
    for n in range(len(x)):
        expected = F.affine(torch.from_numpy(x[n]), angle=0.0, translate=[int(dx[n]), int(dy[n])], scale=1.0,
                            shear=[0.0, 0.0], interpolation=tvt.InterpolationMode.NEAREST, fill=0)
        assert np.array_equal(out[n], expected.numpy()), (n, dx[n], dy[n])


def test_normalize_per_channel_is_bit_identical_to_torchvision():
    torch, _, tvt = torch_mods()
    x = T.ToTensor()(batch(c=3))
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    ours = T.Normalize(mean, std)(x)
    theirs = tvt.Normalize(mean, std)(torch.from_numpy(x))
    assert np.array_equal(ours.view(np.uint32), theirs.numpy().view(np.uint32))
    x64 = x.astype(np.float64)
    assert np.array_equal(T.Normalize(mean, std)(x64), tvt.Normalize(mean, std)(torch.from_numpy(x64)).numpy())


@pytest.mark.parametrize("shape, size", [((28, 28), 64), ((28, 28), 20), ((30, 17), (11, 40)), ((5, 9), 7),
                                         ((64, 64), 28), ((28, 28), (28, 28)), ((9, 4), (1, 1))])
def test_resize_is_torchvisions_antialiased_bilinear(shape, size):
    """Float images as torchvision's tensor path to float32 rounding; uint8 within one grey level (its uint8
    path rounds in fixed point) and nearly everywhere the same."""
    torch, _, tvt = torch_mods()
    rng = np.random.default_rng(sum(shape))
    images = rng.standard_normal((2, 3, *shape)).astype(np.float32)
    ours, theirs = T.Resize(size)(images), tvt.Resize(size)(torch.from_numpy(images)).numpy()
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() <= 1e-5
    pixels = rng.integers(0, 256, (2, 3, *shape)).astype(np.uint8)
    ours, theirs = T.Resize(size)(pixels), tvt.Resize(size)(torch.from_numpy(pixels)).numpy()
    assert ours.dtype == np.uint8 and np.abs(ours.astype(int) - theirs).max() <= 1 and (ours != theirs).mean() < 0.01
    # the weights of every output pixel sum to 1, and shrinking averages every input pixel in (antialiasing)
    weights = T.resize_weights(shape[0], 3)
    assert np.allclose(weights.sum(1), 1) and (weights.sum(0) > 0).all()


@pytest.mark.parametrize("shape, size", [((28, 28), 20), ((28, 28), (13, 31)), ((5, 4), (8, 8)), ((7, 6), 3),
                                         ((6, 6), 6)])
def test_center_crop_is_torchvisions(shape, size):
    torch, _, tvt = torch_mods()
    x = np.random.default_rng(0).integers(1, 256, (2, 1, *shape)).astype(np.uint8)
    assert np.array_equal(T.CenterCrop(size)(x), tvt.CenterCrop(size)(torch.from_numpy(x)).numpy())


def test_transforms_do_not_modify_their_input():
    x = batch()
    before = x.copy()
    for t in [T.ToTensor(), T.RandomCrop(5, padding=1), T.RandomHorizontalFlip(1.0),
              T.RandomAffine(0, translate=(0.3, 0.3)), T.Compose([T.ToTensor(), T.Normalize(0.5, 0.5)]),
              T.Resize(5), T.CenterCrop(5), T.CenterCrop(3)]:
        out = t(x, np.random.default_rng(0))
        assert not np.shares_memory(out, x)
    assert np.array_equal(x, before)


@pytest.mark.parametrize("make, error, match", [
    (lambda: T.ToTensor()(np.zeros((2, 2, 2), np.uint8)), ValueError, "ToTensor: expected 4 dimensions"),
    (lambda: T.ToTensor()(np.zeros((1, 1, 2, 2), np.int32)), TypeError, "uint8 or floating images, got int32"),
    (lambda: T.ToTensor()([1]), TypeError, "ToTensor: expected a numpy.ndarray .* got list"),
    (lambda: T.Normalize((0.5,), (0.0,)), ValueError, "std without zeros"),
    (lambda: T.Normalize("a", (1,)), TypeError, "mean as a sequence of numbers"),
    (lambda: T.Normalize((0.5,), (0.5,))(np.zeros((1, 1, 2, 2), np.uint8)), TypeError, "apply ToTensor first"),
    (lambda: T.Normalize((0.5, 0.5), (0.5, 0.5))(np.zeros((1, 3, 2, 2))), ValueError, "expected 2 channels"),
    (lambda: T.RandomCrop(0), ValueError, "positive size"),
    (lambda: T.RandomCrop(2.5), TypeError, "size as an int or a pair"),
    (lambda: T.RandomCrop(3, padding=-1), ValueError, "padding >= 0"),
    (lambda: T.RandomCrop(3, padding=(1, 2, 3)), TypeError, "padding as an int or 2 or 4 ints"),
    (lambda: T.RandomCrop(30)(np.zeros((1, 1, 28, 28))), ValueError, "at least 30x30 after padding, got 28x28"),
    (lambda: T.RandomHorizontalFlip(1.5), ValueError, r"p in \[0, 1\]"),
    (lambda: T.RandomAffine(10), ValueError, "only translation is implemented"),
    (lambda: T.RandomAffine(0, translate=(0.1,)), TypeError, r"translate as \(a, b\)"),
    (lambda: T.RandomAffine(0, translate=(0.1, 2)), ValueError, r"translate values in \[0, 1\]"),
    (lambda: T.Compose(T.ToTensor()), TypeError, "Compose: expected a list of callables"),
    (lambda: T.Lambda(3), TypeError, "Lambda: expected a callable"),
    (lambda: T.use_generator(3).__enter__(), TypeError, "numpy.random.Generator, got int"),
    (lambda: T.Resize(0), ValueError, "Resize: expected a positive size, got 0"),
    (lambda: T.Resize("64"), TypeError, "Resize: expected size as an int or a pair of ints"),
    (lambda: T.Resize(8, interpolation="nearest"), ValueError, "bilinearly only, got interpolation='nearest'"),
    (lambda: T.Resize(8, antialias=False), ValueError, "always antialiases"),
    (lambda: T.Resize(8)(np.zeros((1, 1, 4, 4), np.int32)), TypeError, "uint8 or floating images, got int32"),
    (lambda: T.Resize(8)(np.zeros((4, 4), np.uint8)), ValueError, "Resize: expected 4 dimensions"),
    (lambda: T.CenterCrop((0, 3)), ValueError, "CenterCrop: expected a positive size"),
])
def test_transforms_refuse_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --------------------------------------------------------------------------- command line


def test_cli_fetch_and_bad_dataset(fashion_root, capsys):
    assert cli.main(["fetch-data", "--dataset", "fashion-mnist", "--data-dir", str(fashion_root)]) == 0
    assert capsys.readouterr().out.strip() == str(data.raw_dir(fashion_root, "fashion-mnist"))
    for command in (["fetch-data"], ["train"], ["evaluate", "c.npz"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*command, "--dataset", "cifar10"])
        assert exit_.value.code == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert "invalid choice: 'cifar10'" in err and "fashion-mnist" in err and "mnist" in err
    from minicnn.train import TrainConfig
    with pytest.raises(ValueError, match=r"--dataset: expected one of \['fashion-mnist', 'mnist'\], got 'x'"):
        TrainConfig(dataset="x").validate()


def test_cli_trains_and_evaluates_on_fashion_with_augment(fashion_root, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--dataset", "fashion-mnist", "--augment", "--epochs", "1", "--limit", "128",
            "--data-dir", str(fashion_root), "--out", str(run), "--no-progress"]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["config"]["dataset"] == "fashion-mnist" and metrics["config"]["augment"] is True
    assert lines[1] == f"Test Accuracy: {metrics['test_accuracy']:.2f}%"
    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--dataset", "fashion-mnist",
                     "--data-dir", str(fashion_root)]) == 0
    assert capsys.readouterr().out.splitlines() == [lines[1]]
