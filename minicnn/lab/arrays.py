"""Arrays in and out of the JSON API: the page's drawing in, feature maps and weights out.

An array goes out as ``{"shape": [...], "min": float, "max": float, "b64": str}``: its float32
values, little-endian, base64-encoded (a page decodes them with ``new Float32Array``; Python with
:func:`decode`).  That is about 1.3 bytes of JSON per byte of data, and exact.

An image comes in as a PNG/JPEG data URL (what ``canvas.toDataURL()`` gives) or as a nested list
of grey values in [0, 1], (H, W).
"""
import base64
import binascii
import io

import numpy as np

MAX_PIXELS = 2048 * 2048   #: a larger picture is refused (413) before it is decoded in full


class LabError(Exception):
    """A request the lab refuses: ``status`` is the HTTP status (4xx), the message says why."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def encode(array):
    """An ndarray as the JSON object above (float32)."""
    a = np.ascontiguousarray(array, dtype="<f4")
    finite = a[np.isfinite(a)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    return {"shape": list(a.shape), "min": lo, "max": hi, "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode(obj):
    """The ndarray (float32) of an :func:`encode` object."""
    return np.frombuffer(base64.b64decode(obj["b64"]), dtype="<f4").reshape(obj["shape"])


def parse_image(value):
    """A drawing as greyscale (H, W) float64 in [0, 1] (1 is white), from a data URL or a nested list.

    Raises LabError 400 for anything else, 413 for a picture over :data:`MAX_PIXELS`.
    """
    if isinstance(value, str):
        return _from_data_url(value)
    if isinstance(value, list):
        try:
            grey = np.array(value, dtype=np.float64)
        except (ValueError, TypeError):
            raise LabError(400, "image: expected a data URL or an (H, W) list of numbers in [0, 1]") from None
        if grey.ndim != 2 or grey.size == 0:
            raise LabError(400, f"image: expected an (H, W) list of rows, got shape {grey.shape}")
        if grey.size > MAX_PIXELS:
            raise LabError(413, f"image: {grey.shape[0]}x{grey.shape[1]} is over {MAX_PIXELS} pixels")
        if not (np.isfinite(grey).all() and grey.min() >= 0 and grey.max() <= 1):
            raise LabError(400, "image: expected values in [0, 1]")
        return grey
    raise LabError(400, f"image: expected a data URL string or a list of rows, got {type(value).__name__}")


def _from_data_url(url):
    from PIL import Image, UnidentifiedImageError

    from ..digits import to_grey
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
        raise LabError(400, "image: expected a data URL 'data:image/png;base64,...'")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise LabError(400, "image: the data URL's base64 is malformed") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:   # reads the header only: the size is known before decoding
            if img.width * img.height > MAX_PIXELS:
                raise LabError(413, f"image: {img.width}x{img.height} is over {MAX_PIXELS} pixels")
            rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
    except Image.DecompressionBombError as exc:
        raise LabError(413, f"image: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):   # PIL's messages name a BytesIO object
        raise LabError(400, f"image: not a readable picture: expected a PNG or JPEG in the data URL, got "
                            f"{len(raw)} bytes that are neither") from None
    return to_grey(rgba)
