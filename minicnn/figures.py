"""The tutorial's figure: test images titled with their label and the model's prediction."""
import numpy as np
from .checkpoint import atomic_write


def save_predictions(path, images, labels, predictions, count=6, classes=None):
    """Save a 1 x ``count`` PNG of ``images[:count]`` with "Label: y / Pred: p" titles.

    Parameters
    ----------
    path : str or Path, written atomically
    images : ndarray, shape (N, 1, H, W)
    labels, predictions : ndarray, shape (N,)
    classes : sequence of str, optional; class names to title with instead of the numbers
        (MNIST's digits need none; Fashion-MNIST's are "T-shirt/top", "Trouser", …)
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    count = min(count, len(images))
    if count < 1:
        raise ValueError("save_predictions: expected at least one image, got none")
    fig, axes = plt.subplots(1, count, figsize=(2 * count, 4), squeeze=False)
    def name(k):
        return str(int(k)) if classes is None else classes[int(k)]
    for ax, img, y, p in zip(axes[0], images[:count], labels[:count], predictions[:count]):
        ax.imshow(np.asarray(img)[0], cmap="gray")
        ax.set_title(f"Label: {name(y)}\nPred: {name(p)}", color="black" if int(y) == int(p) else "red")
        ax.axis("off")
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
