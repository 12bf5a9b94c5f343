"""Classify a person's own digit pictures with a trained checkpoint (``minicnn predict``).

A picture goes through :func:`minicnn.digits.to_mnist` (greyscale, light ink
on dark, cropped, scaled into 20x20, centred by mass in 28x28: what MNIST's
makers did), then the tutorial's ``Normalize((0.5,), (0.5,))`` that the
training images had, and the model's softmax gives a probability per class.
"""
import numpy as np

from . import digits
from .checkpoint import CheckpointError, atomic_write, load_checkpoint
from .models import build_model
from .train import logits


def load_model(path, model=None, **overrides):
    """The model a checkpoint names, holding its arrays, in the arrays' float dtype, in eval mode.

    ``model`` names the model of a plain state_dict, which does not say (a name of ``minicnn.MODELS``).
    ``overrides`` replace the record's constructor arguments (e.g. ``fused=False`` for SimpleCNN,
    which has the same parameters either way).  Raises :class:`minicnn.checkpoint.CheckpointError` for a
    file that is not a checkpoint, does not say which model it holds, or does not fit that model.
    """
    ckpt = load_checkpoint(path, model=model, require_model=True)
    floats = [v.dtype for v in ckpt.state_dict.values() if v.dtype.kind == "f"]
    name = ckpt.model["name"]
    try:
        net = build_model(name, **{**ckpt.model["kwargs"], **overrides})
        net.to(floats[0] if floats else np.float32).load_state_dict(ckpt.state_dict)
    except (ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path}: does not fit model {name} ({exc})") from None
    net.eval()
    return net


def prepare(path):
    """Read a picture and make it an MNIST digit.

    Returns
    -------
    original : ndarray (H, W) float64 in [0, 1], the picture in greyscale (1 is white)
    digit : ndarray (28, 28) float32 in [0, 1], ink 1 on 0, as ``ToTensor()`` gives for MNIST

    Raises ValueError (not an image, no ink) or FileNotFoundError, each message naming ``path``.
    """
    try:
        original = digits.load_image(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path}: a directory, not an image") from None
    try:
        return original, digits.to_mnist(original)
    except ValueError as exc:
        raise ValueError(f"{path}: {str(exc).removeprefix('to_mnist: ')}") from None


def as_displayed(path):
    """The picture as a person sees it, RGB (H, W, 3) float in [0, 1] (transparency shown as white paper)."""
    from PIL import Image, ImageOps
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode.startswith("I"):   # 16-bit greyscale
            return np.repeat(digits.load_image(path)[..., None], 3, axis=2)
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64) / 255.0
    alpha = rgba[..., 3:]
    return alpha * rgba[..., :3] + (1.0 - alpha)


def normalise(batch, dtype=np.float32):
    """(N, 28, 28) in [0, 1] -> (N, 1, 28, 28) in [-1, 1]: ``(x - 0.5) / 0.5``, as the training data."""
    batch = np.asarray(batch, dtype=dtype)
    return ((batch - 0.5) / 0.5)[:, None]


def probabilities(model, images):
    """Softmax of the model's logits (N, classes), computed in float64 with the max subtracted."""
    z = logits(model, images).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def top_line(name, probs, top=3):
    """``name: 7 (98.1%), 1 (1.2%), 2 (0.3%)``: the ``top`` classes of one row of probabilities."""
    order = np.argsort(-probs, kind="stable")[:top]
    return f"{name}: " + ", ".join(f"{int(k)} ({100 * probs[k]:.1f}%)" for k in order)


def save_inputs_figure(path, originals, inputs, titles):
    """Each original picture beside the 28x28 image the network saw, one row per picture; atomic write.

    ``originals``: (H, W) greyscale or (H, W, 3) RGB arrays in [0, 1]; ``inputs``: (28, 28) arrays in [0, 1].
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(originals)
    if n < 1:
        raise ValueError("save_inputs_figure: expected at least one picture")
    fig, axes = plt.subplots(n, 2, figsize=(5.5, 2.6 * n), squeeze=False)
    for (ax_o, ax_i), original, digit, title in zip(axes, originals, inputs, titles):
        ax_o.imshow(original, cmap="gray", vmin=0, vmax=1)
        ax_o.set_title(title, fontsize=9, loc="left")
        ax_i.imshow(digit, cmap="gray", vmin=0, vmax=1)
        ax_i.set_title("network input (28x28)", fontsize=9)
        for ax in (ax_o, ax_i):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
