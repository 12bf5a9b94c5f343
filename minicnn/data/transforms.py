"""torchvision-shaped transforms that work on a whole batch at once.

Every transform takes a batch ``x`` of shape (N, C, H, W) and returns a new
array; the input is never modified. Where torchvision has the same transform
the arithmetic is the same, so the result is bit-identical to applying
torchvision's transform to each image (the random ones: for the same drawn
offsets or flags). Random transforms draw one value per image, all in one call
(no Python loop over images), from

* the ``generator`` argument, if given;
* else the generator of the :class:`~minicnn.data.DataLoader` that is fetching
  the batch (it installs one with :func:`use_generator`), so a loader's seed
  fixes its augmentation;
* else :func:`minicnn.rng.get_rng`, which ``minicnn.manual_seed`` seeds
  (as ``torch.manual_seed`` seeds torchvision's transforms).

Example::

    Compose([RandomCrop(28, padding=2), ToTensor(), Normalize((0.5,), (0.5,))])
"""

from __future__ import annotations

import contextlib
import contextvars
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import rng

__all__ = ["CenterCrop", "Compose", "Lambda", "Normalize", "RandomAffine", "RandomCrop", "RandomHorizontalFlip",
           "Resize", "ToTensor", "Transform", "current_generator", "use_generator"]

_generator = contextvars.ContextVar("minicnn_transform_generator", default=None)


def current_generator() -> np.random.Generator:
    """The generator random transforms draw from when none is passed (see the module text)."""
    return _generator.get() or rng.get_rng()


@contextlib.contextmanager
def use_generator(generator: np.random.Generator):
    """Within the block, random transforms called without a generator draw from ``generator``."""
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"use_generator: expected a numpy.random.Generator, got {type(generator).__name__}")
    token = _generator.set(generator)
    try:
        yield generator
    finally:
        _generator.reset(token)


def _check_batch(name: str, x) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name}: expected 4 dimensions (N, C, H, W), got shape {x.shape}")
    return x


def _pair(name: str, value, what: str) -> tuple[int, int]:
    """``value`` as (height, width): an int means both."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name}: expected {what} as an int or a pair of ints, got {value!r}")
    return int(value[0]), int(value[1])


class Transform:
    """Base of minicnn's transforms: ``transform(x, generator=None) -> new batch``."""

    def __call__(self, x: np.ndarray, generator: np.random.Generator | None = None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Apply ``transforms`` in order; minicnn transforms get the same ``generator``.

    Parameters
    ----------
    transforms : list
        :class:`Transform` objects, or any callable ``f(x) -> x``.
    """

    def __init__(self, transforms):
        transforms = list(transforms) if isinstance(transforms, (list, tuple)) else transforms
        if not isinstance(transforms, list) or not all(callable(t) for t in transforms):
            raise TypeError(f"Compose: expected a list of callables, got {transforms!r}")
        self.transforms = transforms

    def __call__(self, x, generator=None):
        for t in self.transforms:
            x = t(x, generator) if isinstance(t, Transform) else t(x)
        return x


class Lambda(Transform):
    """Apply a plain function ``f(x) -> x`` (e.g. a dtype cast)."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x, generator=None):
        return self.fn(x)


class ToTensor(Transform):
    """uint8 pixels (N, C, H, W) -> float32 in [0, 1], as ``torchvision.transforms.ToTensor``.

    ``u8 / 255`` in float32, the same one rounding as torch's ``img.float().div(255)``.
    A floating batch is returned as a copy, unscaled (torchvision passes it through too).
    Unlike torchvision there is no HWC -> CHW transpose: minicnn's images are NCHW already.
    """

    def __call__(self, x, generator=None):
        x = _check_batch("ToTensor", x)
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255)
        if np.issubdtype(x.dtype, np.floating):
            return x.copy()
        raise TypeError(f"ToTensor: expected uint8 or floating images, got {x.dtype}")


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel, in ``x``'s dtype, as ``torchvision.transforms.Normalize``.

    Parameters
    ----------
    mean, std : sequence of float, one per channel (or one for all)
    """

    def __init__(self, mean, std):
        self.mean = self._floats("mean", mean)
        self.std = self._floats("std", std)
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"Normalize: expected mean and std of the same length, "
                             f"got {len(self.mean)} and {len(self.std)}")
        if 0.0 in self.std:
            raise ValueError(f"Normalize: expected std without zeros, got {self.std}")

    @staticmethod
    def _floats(name, values):
        if isinstance(values, numbers.Real) and not isinstance(values, bool):
            values = (values,)
        if (not isinstance(values, (tuple, list)) or not values
                or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)):
            raise TypeError(f"Normalize: expected {name} as a sequence of numbers, got {values!r}")
        return tuple(float(v) for v in values)

    def __call__(self, x, generator=None):
        x = _check_batch("Normalize", x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Normalize: expected a floating batch (apply ToTensor first), got {x.dtype}")
        channels = x.shape[1]
        if max(len(self.mean), len(self.std)) not in (1, channels):
            raise ValueError(f"Normalize: expected {max(len(self.mean), len(self.std))} channels "
                             f"to match mean and std, got {channels}")
        # torch rounds mean and std to the tensor's dtype first, then subtracts and divides.
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(1, -1, 1, 1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(1, -1, 1, 1)
        return (x - mean) / std


class RandomCrop(Transform):
    """Pad, then cut a ``size`` window at a random place, a new place per image.

    As ``torchvision.transforms.RandomCrop(size, padding, fill=fill)`` with
    constant padding: offsets ``top ~ U{0..H+pt+pb-h}``, ``left ~ U{0..W+pl+pr-w}``.

    Parameters
    ----------
    size : int or (h, w)
    padding : None, int, (left/right, top/bottom) or (left, top, right, bottom)
        torchvision's order.
    fill : number
        Value of the padded pixels (0 is black for uint8 and for ToTensor's output).
    """

    def __init__(self, size, padding=None, fill=0):
        self.size = _pair("RandomCrop", size, "size")
        if min(self.size) < 1:
            raise ValueError(f"RandomCrop: expected a positive size, got {size!r}")
        self.padding = self._padding(padding)
        if not isinstance(fill, numbers.Real) or isinstance(fill, bool):
            raise TypeError(f"RandomCrop: expected fill as a number, got {fill!r}")
        self.fill = fill

    @staticmethod
    def _padding(padding) -> tuple[int, int, int, int]:
        """(left, top, right, bottom), torchvision's order."""
        if padding is None:
            return (0, 0, 0, 0)
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (padding,) * 4
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if (not isinstance(padding, (tuple, list)) or len(padding) != 4
                or not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding)):
            raise TypeError(f"RandomCrop: expected padding as an int or 2 or 4 ints, got {padding!r}")
        if min(padding) < 0:
            raise ValueError(f"RandomCrop: expected padding >= 0, got {padding!r}")
        return tuple(int(p) for p in padding)

    def pad(self, x: np.ndarray) -> np.ndarray:
        """``x`` with ``padding`` added around each image, filled with ``fill``."""
        left, top, right, bottom = self.padding
        return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=self.fill)

    def get_params(self, x: np.ndarray, generator=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw (top, left), each int64 of shape (N,), for the padded batch ``x``."""
        x = _check_batch("RandomCrop", x)
        (h, w), (ph, pw) = self.size, x.shape[2:]
        if h > ph or w > pw:
            raise ValueError(f"RandomCrop: expected images of at least {h}x{w} after padding, got {ph}x{pw}")
        g = generator if generator is not None else current_generator()
        return g.integers(0, ph - h + 1, size=len(x)), g.integers(0, pw - w + 1, size=len(x))

    def __call__(self, x, generator=None):
        padded = self.pad(_check_batch("RandomCrop", x))
        top, left = self.get_params(padded, generator)
        return crop(padded, top, left, *self.size)


def crop(x: np.ndarray, top: np.ndarray, left: np.ndarray, height: int, width: int) -> np.ndarray:
    """``out[n] = x[n, :, top[n]:top[n]+height, left[n]:left[n]+width]``, all images in one gather.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    top, left : int arrays, shape (N,), windows inside the image

    Returns
    -------
    ndarray, shape (N, C, height, width), a new array
    """
    windows = sliding_window_view(x, (height, width), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w), a view
    # The two index arrays are split by a slice, so their (N,) axis comes first: (N, C, h, w).
    return windows[np.arange(len(x)), :, top, left]


class CenterCrop(Transform):
    """The central ``size`` window of each image, as ``torchvision.transforms.CenterCrop(size)``: the window
    starts at ``round((H - h) / 2)``, ``round((W - w) / 2)`` (Python's rounding, as torchvision), and an image
    smaller than ``size`` is first padded with zeros, ``(h - H) // 2`` above and the rest below (the same
    across).

    Parameters
    ----------
    size : int or (h, w)
    """

    def __init__(self, size):
        self.size = _pair("CenterCrop", size, "size")
        if min(self.size) < 1:
            raise ValueError(f"CenterCrop: expected a positive size, got {size!r}")

    def __call__(self, x, generator=None):
        x = _check_batch("CenterCrop", x)
        (h, w), (height, width) = self.size, x.shape[2:]
        if h > height or w > width:
            ph, pw = max(h - height, 0), max(w - width, 0)
            x = np.pad(x, ((0, 0), (0, 0), (ph // 2, (ph + 1) // 2), (pw // 2, (pw + 1) // 2)))
            height, width = x.shape[2:]
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return x[:, :, top:top + h, left:left + w].copy()


class Resize(Transform):
    """Bilinear resizing, as ``torchvision.transforms.Resize(size)`` on tensors (``antialias=True``).

    ``size`` an int: the shorter side becomes ``size`` and the longer ``int(size * long / short)``
    (torchvision's rule); ``(h, w)``: exactly that. Each output pixel is a weighted mean of the input
    pixels under a triangle filter centred at ``(i + 0.5) * scale`` (``scale = in / out``) and ``scale``
    pixels wide when shrinking (the antialiasing: every input pixel counts), one pixel when enlarging
    (plain bilinear interpolation with half-pixel centres, ``align_corners=False``); the weights of each
    output pixel are normalised to sum to 1, the two axes done one after the other, as torch's
    ``interpolate(..., mode="bilinear", antialias=True)``. Float images keep their dtype; uint8 images are
    computed in float64 and rounded (torchvision's uint8 path computes in fixed point: the two differ by at
    most one grey level, as its PIL path differs again).

    Parameters
    ----------
    size : int or (h, w)
    """

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        if isinstance(size, (tuple, list)) and len(size) == 1:
            size = size[0]
        if isinstance(size, numbers.Integral) and not isinstance(size, bool):
            if size < 1:
                raise ValueError(f"Resize: expected a positive size, got {size!r}")
            self.size = int(size)
        else:
            self.size = _pair("Resize", size, "size")
            if min(self.size) < 1:
                raise ValueError(f"Resize: expected a positive size, got {size!r}")
        if str(getattr(interpolation, "value", interpolation)) != "bilinear":
            raise ValueError(f"Resize: minicnn resizes bilinearly only, got interpolation={interpolation!r}")
        if max_size is not None or antialias is not True:
            raise ValueError("Resize: minicnn has no max_size and always antialiases (torchvision's default), "
                             f"got max_size={max_size!r}, antialias={antialias!r}")

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        if not isinstance(self.size, int):
            return self.size
        if height <= width:
            return self.size, int(self.size * width / height)
        return int(self.size * height / width), self.size

    def __call__(self, x, generator=None):
        x = _check_batch("Resize", x)
        if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
            raise TypeError(f"Resize: expected uint8 or floating images, got {x.dtype}")
        (h, w), (height, width) = self.output_size(*x.shape[2:]), x.shape[2:]
        dtype = np.float64 if x.dtype == np.uint8 else x.dtype
        rows, cols = resize_weights(height, h).astype(dtype), resize_weights(width, w).astype(dtype)
        out = np.einsum("oh,nchw->ncow", rows, x.astype(dtype, copy=False))
        out = np.einsum("ncow,pw->ncop", out, cols)
        return np.clip(np.round(out), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else out


def resize_weights(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) float64: row ``i`` holds the normalised triangle-filter weights of output pixel
    ``i`` (torch's antialiased bilinear, PIL's algorithm, including its ``int()`` truncation of the window)."""
    scale = size_in / size_out
    support, step = (scale, 1.0 / scale) if scale >= 1.0 else (1.0, 1.0)
    weights = np.zeros((size_out, size_in))
    for i in range(size_out):
        center = scale * (i + 0.5)
        first, last = max(int(center - support + 0.5), 0), min(int(center + support + 0.5), size_in)
        w = np.maximum(0.0, 1.0 - np.abs((np.arange(first, last) - center + 0.5) * step))
        weights[i, first:last] = w / w.sum()
    return weights


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``, as ``torchvision.transforms.RandomHorizontalFlip``."""

    def __init__(self, p=0.5):
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: expected p in [0, 1], got {p!r}")
        self.p = float(p)

    def get_params(self, x: np.ndarray, generator=None) -> np.ndarray:
        """Draw the flags, bool of shape (N,): True means flip."""
        g = generator if generator is not None else current_generator()
        return g.random(len(_check_batch("RandomHorizontalFlip", x))) < self.p

    def __call__(self, x, generator=None):
        flip = self.get_params(x, generator)
        return np.where(flip[:, None, None, None], x[..., ::-1], x)


class RandomAffine(Transform):
    """Shift each image by a random whole number of pixels, as torchvision's
    ``RandomAffine(degrees=0, translate=(a, b), fill=fill)`` does with nearest interpolation.

    Only translation: ``degrees`` must be 0 (there is no rotation, scale or shear).
    Shifts ``dx = round(U(-a*W, a*W))``, ``dy = round(U(-b*H, b*H))``; pixel ``(y, x)`` of
    the output is ``(y - dy, x - dx)`` of the input, ``fill`` where that is outside.
    """

    def __init__(self, degrees=0, translate=None, fill=0):
        if degrees not in (0, (0, 0), [0, 0]):
            raise ValueError(f"RandomAffine: only translation is implemented, expected degrees=0, got {degrees!r}")
        if translate is not None:
            if (not isinstance(translate, (tuple, list)) or len(translate) != 2
                    or not all(isinstance(t, numbers.Real) and not isinstance(t, bool) for t in translate)):
                raise TypeError(f"RandomAffine: expected translate as (a, b), got {translate!r}")
            if not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"RandomAffine: expected translate values in [0, 1], got {translate!r}")
            translate = (float(translate[0]), float(translate[1]))
        if not isinstance(fill, numbers.Real) or isinstance(fill, bool):
            raise TypeError(f"RandomAffine: expected fill as a number, got {fill!r}")
        self.degrees, self.translate, self.fill = 0, translate, fill

    def get_params(self, x: np.ndarray, generator=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw (dx, dy), each int64 of shape (N,)."""
        n, _, h, w = _check_batch("RandomAffine", x).shape
        if self.translate is None:
            return np.zeros(n, np.int64), np.zeros(n, np.int64)
        g = generator if generator is not None else current_generator()
        max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
        # np.rint rounds half to even, as Python's round() in torchvision's get_params.
        dx = np.rint(g.uniform(-max_dx, max_dx, size=n)).astype(np.int64)
        dy = np.rint(g.uniform(-max_dy, max_dy, size=n)).astype(np.int64)
        return dx, dy

    def __call__(self, x, generator=None):
        dx, dy = self.get_params(x, generator)
        h, w = x.shape[2:]
        # Pad by the largest shift, then cut the window that the shift lands on.
        py, px = (int(np.ceil(self.translate[1] * h)), int(np.ceil(self.translate[0] * w))) \
            if self.translate else (0, 0)
        padded = np.pad(x, ((0, 0), (0, 0), (py, py), (px, px)), constant_values=self.fill)
        return crop(padded, py - dy, px - dx, h, w)
