"""torchvision's ``utils.make_grid`` and ``utils.save_image``, the same numbers."""
import io
import math

import numpy as np

from ..autograd import Tensor
from ..checkpoint import atomic_write

__all__ = ["make_grid", "save_image"]


def _array(tensor, name):
    if isinstance(tensor, (list, tuple)):
        tensor = np.stack([_array(t, name) for t in tensor])
    a = tensor.array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected a tensor of numbers, got dtype {a.dtype}")
    return a


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Images (N, C, H, W) (or (C, H, W), (H, W)) tiled ``nrow`` to a row with ``padding`` pixels of
    ``pad_value`` between them: (3, H', W') for 1 or 3 channels, as torchvision's.  ``normalize`` maps
    ``value_range`` (default: each grid's, or each image's with ``scale_each``, min and max) to [0, 1]."""
    a = _array(tensor, "make_grid")
    a = a.astype(np.float32) if a.dtype.kind != "f" else a
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3:
        a = (np.concatenate([a, a, a]) if a.shape[0] == 1 else a)[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected images (N, C, H, W), (C, H, W) or (H, W), got shape {a.shape}")
    if a.shape[1] == 1:
        a = np.concatenate([a, a, a], axis=1)
    a = a.copy()
    if normalize:
        def norm(img, lo, hi):
            np.clip(img, lo, hi, out=img)
            img -= lo
            img /= max(hi - lo, 1e-5)
        if value_range is not None and (not isinstance(value_range, (tuple, list)) or len(value_range) != 2):
            raise ValueError(f"make_grid: expected value_range as (min, max), got {value_range!r}")
        for img in (a if scale_each else [a]):
            lo, hi = value_range if value_range is not None else (float(img.min()), float(img.max()))
            norm(img, lo, hi)
    n = a.shape[0]
    if n == 1:
        return Tensor(a[0])
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    h, w = a.shape[2] + padding, a.shape[3] + padding
    grid = np.full((a.shape[1], h * ymaps + padding, w * xmaps + padding), pad_value, dtype=a.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * h + padding:(y + 1) * h, x * w + padding:(x + 1) * w] = a[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """``make_grid(tensor, **kwargs)`` written as an 8-bit image (PNG unless ``format`` or the suffix says),
    with torchvision's rounding: ``clamp(x * 255 + 0.5, 0, 255)``; written atomically."""
    from PIL import Image
    grid = make_grid(tensor, **kwargs).array
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    image = Image.fromarray(pixels)
    buf = io.BytesIO()
    image.save(buf, format=format or _format(fp))
    if hasattr(fp, "write"):
        fp.write(buf.getvalue())
    else:
        atomic_write(fp, lambda f: f.write(buf.getvalue()))


def _format(fp):
    name = str(getattr(fp, "name", fp))
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "png"
    return {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "gif": "GIF", "tif": "TIFF",
            "tiff": "TIFF"}.get(suffix, "PNG")
