"""minicnn.digits: a person's own digit picture -> an MNIST-style 28x28 image.

Real MNIST test digits are disguised the ways a photo or scan differs from MNIST
(off-centre, dark ink on light paper, a large canvas, colour, transparency, a
PNG or JPEG round trip); :func:`to_mnist` must undo it: the result correlates
with the undisguised digit put through the same pipeline, and its centre of
mass is at (14, 14).
"""
import numpy as np
import pytest
from PIL import Image

from minicnn import data
from minicnn.digits import centre_of_mass, load_image, resize, to_mnist

N_DIGITS = 12
MIN_CORRELATION = 0.9


@pytest.fixture(scope="module")
def digits(mnist_root):
    """The first test digits, uint8 (N, 28, 28), and their labels."""
    raw = data.raw_dir(mnist_root)
    images = data.read_idx(raw / "t10k-images-idx3-ubyte")[:N_DIGITS]
    return images, data.read_idx(raw / "t10k-labels-idx1-ubyte")[:N_DIGITS]


def correlation(a, b):
    return float(np.corrcoef(a.reshape(-1), b.reshape(-1))[0, 1])


def aligned_correlation(a, b):
    """Best correlation of ``a`` with ``b`` moved by at most one pixel each way.

    Centring is to the nearest pixel, as MNIST's was: a centre of mass at 13.49
    and one at 13.51 are shifted a pixel apart, and resampling a digit drawn at
    another size moves its strokes by a fraction of a pixel.  Thin strokes make
    a one-pixel offset cost much correlation, so the comparison allows it.
    """
    return max(correlation(np.roll(a, (dy, dx), axis=(0, 1)), b) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def on_canvas(digit, canvas_shape, at, size=None):
    """``digit`` (uint8, ink 255 on 0), resized to ``size`` (h, w) with PIL's bicubic, on a black canvas."""
    img = Image.fromarray(digit)
    if size is not None:
        img = img.resize((size[1], size[0]), Image.BICUBIC)
    canvas = np.zeros(canvas_shape, dtype=np.uint8)
    a = np.asarray(img)
    canvas[at[0]:at[0] + a.shape[0], at[1]:at[1] + a.shape[1]] = a
    return canvas


def tinted(ink_level, ink_rgb, paper_rgb):
    """An RGB uint8 picture: ``paper_rgb`` where ``ink_level`` is 0, ``ink_rgb`` where it is 255."""
    a = ink_level[..., None] / 255.0
    return np.round(np.array(paper_rgb) * (1 - a) + np.array(ink_rgb) * a).astype(np.uint8)


def shifted(d):
    return on_canvas(d, (60, 60), (3, 29))


def inverted(d):
    return 255 - on_canvas(d, (50, 70), (20, 5))


def enlarged(d):   # a 200x300 page, the digit written 150 px tall, off to the right
    return 255 - on_canvas(d, (200, 300), (30, 140), size=(150, 150))


def coloured(d):   # blue ink on cream paper
    return tinted(on_canvas(d, (200, 300), (10, 20), size=(150, 150)), (20, 40, 140), (250, 240, 215))


def stretched(d):  # written wider than tall: the box keeps the aspect of the crop, not of MNIST
    return 255 - on_canvas(d, (120, 200), (10, 30), size=(100, 140))


def transparent(d):  # black ink, alpha from the ink: transparent paper
    rgba = np.zeros((80, 90, 4), dtype=np.uint8)
    rgba[..., 3] = on_canvas(d, (80, 90), (10, 30), size=(56, 56))
    return rgba


DISGUISES = [shifted, inverted, enlarged, coloured, transparent]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("disguise", DISGUISES, ids=lambda f: f.__name__)
def test_disguised_digits_come_back_as_the_original(digits, disguise, fmt, tmp_path):
    if fmt == "JPEG" and disguise is transparent:
        pytest.skip("JPEG has no alpha channel")
    images, labels = digits
    references = [to_mnist(d / 255.0) for d in images]
    for k, digit in enumerate(images):
        path = tmp_path / f"{k}.{fmt.lower()}"
        Image.fromarray(disguise(digit)).save(path, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        out = to_mnist(load_image(path))
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        own = aligned_correlation(out, references[k])
        assert own > MIN_CORRELATION, (k, own)
        # and it is this digit, not any digit: every other class correlates less
        others = max(aligned_correlation(out, r) for r, y in zip(references, labels) if y != labels[k])
        assert own > others, (k, own, others)
        cy, cx = centre_of_mass(out)
        assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1, (k, cy, cx)


def test_an_mnist_digit_is_nearly_a_fixed_point(digits):
    """MNIST digits already went through this pipeline: doing it again changes little."""
    for digit in digits[0]:
        out = to_mnist(digit / 255.0)
        assert correlation(out, digit / 255.0) > 0.95
        assert np.abs(out - digit / 255.0).mean() < 0.05


def test_the_ink_fills_a_20_pixel_box_keeping_the_aspect(digits):
    wide = to_mnist(stretched(digits[0][0]) / 255.0)
    rows, cols = np.flatnonzero(wide.max(axis=1) > 0.25), np.flatnonzero(wide.max(axis=0) > 0.25)
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert 19 <= width <= 20 and height < width   # the crop was wider than tall


def test_known_bar_is_scaled_and_centred():
    """A 10x40 white bar on black -> 5x20 (area averaging), centre of mass at (14, 14)."""
    img = np.zeros((100, 100))
    img[30:40, 10:50] = 1.0
    out = to_mnist(img)
    np.testing.assert_allclose(out[out > 0], 1.0)
    np.testing.assert_array_equal(np.argwhere(out > 0).min(axis=0), [12, 4])   # 14 - 2 rows, 14 - 10 cols
    np.testing.assert_array_equal(np.argwhere(out > 0).max(axis=0), [16, 23])
    assert centre_of_mass(out) == (14.0, 13.5)   # an even width: the nearest-pixel shift leaves half a pixel


def test_resize_averages_areas_and_interpolates_when_enlarging():
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(resize(x, (2, 2)), [[2.5, 4.5], [10.5, 12.5]])   # 2x2 block means
    np.testing.assert_allclose(resize(np.ones((7, 5)), (3, 11)), np.ones((3, 11)))  # rows sum to 1
    np.testing.assert_allclose(resize(np.array([[0.0, 1.0]]), (1, 4)), [[0, 0.25, 0.75, 1]])


@pytest.mark.parametrize("colour", [0, 255, 128])
def test_a_blank_image_has_no_ink(colour, tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 30), colour, dtype=np.uint8)).save(path)
    with pytest.raises(ValueError, match="no ink found"):
        to_mnist(load_image(path))


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are not pixels\n")
    with pytest.raises(ValueError, match=r"notes\.png: not an image"):
        load_image(path)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "absent.png")


def test_load_image_reads_greyscale_rgb_and_16_bit_alike(tmp_path):
    grey = np.array([[0, 255], [51, 204]], dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "l.png")
    Image.fromarray(np.repeat(grey[..., None], 3, axis=2)).save(tmp_path / "rgb.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "i16.png")
    for name in ("l.png", "rgb.png", "i16.png"):
        img = load_image(tmp_path / name)
        assert img.shape == (2, 2) and img.dtype == np.float64
        np.testing.assert_allclose(img, grey / 255.0, atol=1e-6, err_msg=name)
