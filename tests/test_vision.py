"""minicnn.vision is torchvision's paths for what minicnn has: the same classes, the same numbers, and a
missing name says what minicnn has instead."""
import io

import numpy as np
import pytest
from PIL import Image

import minicnn
import minicnn.vision as torchvision_like
from minicnn import data

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

GRIDS = [((5, 1, 6, 7), {}), ((3, 3, 4, 4), {"nrow": 2, "padding": 1, "pad_value": 0.5}),
         ((4, 1, 5, 5), {"normalize": True}), ((4, 3, 5, 5), {"normalize": True, "scale_each": True}),
         ((2, 1, 5, 5), {"normalize": True, "value_range": (-1, 1)}), ((1, 6, 6), {}), ((6, 6), {}),
         ((9, 2, 3, 3), {"nrow": 4})]


@pytest.mark.parametrize("shape, kwargs", GRIDS)
def test_make_grid_and_save_image_are_torchvisions(shape, kwargs, tmp_path):
    x = np.random.default_rng(len(shape)).standard_normal(shape).astype(np.float32)
    ours = torchvision_like.utils.make_grid(minicnn.tensor(x), **kwargs)
    np.testing.assert_array_equal(ours.numpy(), torchvision.utils.make_grid(torch.from_numpy(x), **kwargs).numpy())
    torchvision.utils.save_image(torch.from_numpy(x), tmp_path / "theirs.png", **kwargs)
    torchvision_like.utils.save_image(minicnn.tensor(x), tmp_path / "ours.png", **kwargs)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "ours.png")),
                                  np.asarray(Image.open(tmp_path / "theirs.png")))
    buf = io.BytesIO()   # a file object, as torchvision takes, with the format named
    torchvision_like.utils.save_image(x, buf, format="png", **kwargs)
    np.testing.assert_array_equal(np.asarray(Image.open(buf)), np.asarray(Image.open(tmp_path / "theirs.png")))


def test_the_paths_are_the_classes_minicnn_has():
    assert torchvision_like.datasets.MNIST is data.MNIST and torchvision_like.datasets.FashionMNIST is data.FashionMNIST
    assert torchvision_like.transforms.Normalize is data.transforms.Normalize
    model = torchvision_like.models.simplecnn()
    assert isinstance(model, minicnn.SimpleCNN) and type(torchvision_like.models.resnet_mini()).__name__ == "ResNetMini"


@pytest.mark.parametrize("path, name, says", [
    ("datasets", "CIFAR10", "minicnn has FashionMNIST, MNIST"),
    ("transforms", "ColorJitter", "minicnn has CenterCrop, Compose, Lambda, Normalize"),
    ("models", "resnet18", "minicnn.from_torch(torchvision.models.resnet18(weights=None))"),
])
def test_a_name_minicnn_lacks_says_what_it_has(path, name, says):
    with pytest.raises(AttributeError, match=rf"minicnn\.vision\.{path} has no {name} \(torchvision has it; .*"
                                             rf"{says.replace('(', '[(]').replace(')', '[)]')}"):
        getattr(getattr(torchvision_like, path), name)


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match=r"make_grid: expected images \(N, C, H, W\), \(C, H, W\) or \(H, W\), got"):
        torchvision_like.utils.make_grid(np.zeros((1, 1, 1, 2, 2)))
    with pytest.raises(TypeError, match="make_grid: expected a tensor of numbers, got dtype <U1"):
        torchvision_like.utils.make_grid(np.array(["a"]))
    with pytest.raises(ValueError, match=r"make_grid: expected value_range as \(min, max\)"):
        torchvision_like.utils.make_grid(np.zeros((2, 1, 2, 2)), normalize=True, value_range=1)
