"""Turn a picture of a handwritten digit into an MNIST-style 28x28 image.

MNIST's makers took each NIST digit (dark ink made white on black), cropped it
to its ink, scaled it with anti-aliasing to fit a 20x20 box keeping its aspect
ratio, and pasted it into a 28x28 field so that its centre of mass sits at the
field's centre.  Measured on the 10,000 test digits, with ``(row, column)``
pixel indices as coordinates, that centre of mass is (13.99, 14.01) on average
with a spread of 0.29 px (integer shifts), and 92 % of the digits are exactly
20 px tall.  :func:`to_mnist` does the same to a photo or scan, so a network
trained on MNIST sees what it was trained on:

1. greyscale;
2. make the background dark: if the border is light (dark ink on paper), invert;
3. stretch so the paper is 0 and the darkest ink 1;
4. crop to the pixels brighter than :data:`INK_THRESHOLD`;
5. resample into a 20x20 box, keeping the aspect ratio (area averaging when
   shrinking, bilinear when enlarging — both as two small matrix products);
6. paste into 28x28 so that the centre of mass is at (14, 14).

The result is in [0, 1] with ink 1, as ``ToTensor()`` gives for MNIST; a model
trained on :func:`minicnn.data.load_mnist` images also needs the tutorial's
``Normalize((0.5,), (0.5,))``, i.e. ``(image - 0.5) / 0.5``.
"""
import os

import numpy as np

BOX = 20               #: the longer side of the digit in the 28x28 field
FIELD = 28             #: output size
CENTRE = 14.0          #: where the centre of mass goes, in (row, column) pixel indices
INK_THRESHOLD = 0.25   #: after stretching, a pixel brighter than this is ink (for the crop)
MIN_CONTRAST = 0.1     #: ink must be at least this much brighter than the paper, else "no ink"


# --------------------------------------------------------------------------- reading
def load_image(path):
    """Read an image file as greyscale in [0, 1].

    Colour is reduced to luminance (ITU-R 601: 0.299 R + 0.587 G + 0.114 B);
    transparent pixels are composited onto white paper; a JPEG's EXIF rotation
    (phone photos) is applied.

    Parameters
    ----------
    path : str or path-like
        A PNG, JPEG, or any other file Pillow reads; any size, greyscale,
        RGB, RGBA, palette or 16-bit.

    Returns
    -------
    image : ndarray, shape (H, W), float64, values in [0, 1] (1 is white)

    Raises
    ------
    ValueError
        If the file is not an image Pillow can read (the message names the path).
    FileNotFoundError
        If there is no such file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError
    path = os.fspath(path)
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img.load()
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image (expected a PNG or JPEG file Pillow can read)") from None
    except (OSError, SyntaxError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable image ({exc})") from None
    if img.mode.startswith("I"):   # 16-bit greyscale: convert("RGBA") would clip it to 8 bits
        return np.clip(np.asarray(img, dtype=np.float64) / 65535.0, 0.0, 1.0)
    return to_grey(np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0)


def to_grey(image):
    """Luminance of a greyscale, RGB or RGBA image (alpha composited onto white).

    Parameters
    ----------
    image : ndarray, shape (H, W), (H, W, 3) or (H, W, 4), values in [0, 1]

    Returns
    -------
    grey : ndarray, shape (H, W), float64
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"to_grey: expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}")
    grey = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    if image.shape[2] == 4:
        alpha = image[..., 3]
        grey = alpha * grey + (1.0 - alpha)   # transparent = white paper
    return grey


# --------------------------------------------------------------------------- resampling
def _area_matrix(n_in, n_out):
    """(n_out, n_in) matrix averaging input pixels over each output pixel's footprint (shrinking)."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale             # output pixel i covers [i*scale, (i+1)*scale)
    j = np.arange(n_in)[None, :]                       # input pixel j covers [j, j+1)
    overlap = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    return overlap / scale


def _bilinear_matrix(n_in, n_out):
    """(n_out, n_in) matrix of linear interpolation weights, pixel centres aligned (enlarging)."""
    src = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    left = np.floor(src).astype(np.int64)
    right = np.minimum(left + 1, n_in - 1)
    frac = src - left
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(m, (rows, left), 1.0 - frac)
    np.add.at(m, (rows, right), frac)
    return m


def _resample_matrix(n_in, n_out):
    return _area_matrix(n_in, n_out) if n_out <= n_in else _bilinear_matrix(n_in, n_out)


def resize(image, shape):
    """Anti-aliased resize: area averaging along an axis that shrinks, bilinear along one that grows.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    shape : (int, int), the output (H', W')

    Returns
    -------
    ndarray, shape (H', W'), float64: ``Ry @ image @ Rx.T`` with ``Ry`` (H', H), ``Rx`` (W', W)
    """
    (h, w), (oh, ow) = image.shape, shape
    return _resample_matrix(h, oh) @ image @ _resample_matrix(w, ow).T


def centre_of_mass(image):
    """Intensity-weighted mean ``(row, column)`` of a non-negative (H, W) image."""
    total = image.sum()
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return float(image.sum(axis=1) @ rows / total), float(image.sum(axis=0) @ cols / total)


# --------------------------------------------------------------------------- the pipeline
def _dark_background(grey):
    """Invert if the border (the outermost row and column on each side) is mostly light."""
    border = np.concatenate([grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]])
    return 1.0 - grey if np.median(border) > 0.5 else grey


def to_mnist(image):
    """Preprocess one digit picture as MNIST's were: (H, W) or colour -> (28, 28).

    Parameters
    ----------
    image : ndarray, shape (H, W), (H, W, 3) or (H, W, 4), values in [0, 1]
        E.g. from :func:`load_image`.  Light ink on dark or dark ink on light
        paper, any size, the digit anywhere in it.

    Returns
    -------
    digit : ndarray, shape (28, 28), float32, values in [0, 1], ink 1 on background 0;
        the ink fits a 20x20 box (its longer side 20 px) and its centre of mass
        is at (14, 14) to the nearest pixel.

    Raises
    ------
    ValueError
        ``"no ink found"`` if the image is blank (no pixel stands out from the paper).
    """
    grey = _dark_background(to_grey(image))
    if grey.size == 0:
        raise ValueError("to_mnist: no ink found (empty image)")
    paper, ink = np.median(grey), grey.max()
    if ink - paper < MIN_CONTRAST:
        raise ValueError(f"to_mnist: no ink found (brightest pixel {ink:.3f}, paper {paper:.3f})")
    grey = np.clip((grey - paper) / (ink - paper), 0.0, 1.0)

    ink_mask = grey > INK_THRESHOLD
    rows, cols = np.flatnonzero(ink_mask.any(axis=1)), np.flatnonzero(ink_mask.any(axis=0))
    crop = grey[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    h, w = crop.shape
    scale = BOX / max(h, w)
    box = np.clip(resize(crop, (max(1, round(h * scale)), max(1, round(w * scale)))), 0.0, 1.0)

    cy, cx = centre_of_mass(box)
    top, left = int(round(CENTRE - cy)), int(round(CENTRE - cx))
    out = np.zeros((FIELD, FIELD), dtype=np.float32)
    # a lopsided digit can be pushed partly outside the field; what falls outside is cut off
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + box.shape[0], FIELD), min(left + box.shape[1], FIELD)
    out[y0:y1, x0:x1] = box[y0 - top:y1 - top, x0 - left:x1 - left]
    return out
