"""Where it fails: the confusion matrix and the test digits the network gets wrong most confidently.

    python examples/confusion.py [CKPT] [--count 24] [--out runs/examples/confusion] [--quick]

Runs the checkpoint (default ``runs/minicnn/checkpoint.npz``) on the 10 000
test images (``--quick``: the first 1000, and a checkpoint trained for a few
seconds if there is none), prints the confusion matrix, and writes

* ``confusion.png`` — row = true digit, column = predicted digit, counts in
  the cells; the diagonal is what it gets right, the rest shows which pairs
  it mixes up (4/9, 3/5, 7/2 …);
* ``confident_mistakes.png`` — the ``--count`` wrong predictions with the
  highest softmax probability: often a badly written digit, sometimes a label
  a person would dispute.
"""
import argparse
from pathlib import Path

import numpy as np

from minicnn import classify, data, threads
from minicnn.checkpoint import atomic_write
from minicnn.train import TrainConfig, train

DEFAULT_CHECKPOINT = "runs/minicnn/checkpoint.npz"


def checkpoint_or_quick_run(path, quick, out):
    """``path`` if it exists; in quick mode, otherwise, a checkpoint from a one-epoch run on 2000 images."""
    if Path(path).is_file() or not quick:
        return path
    print(f"{path}: no such file; training a quick one (1 epoch, 2000 images) into {out}/quick_run")
    train(TrainConfig(epochs=1, limit=2000, out=f"{out}/quick_run", progress=False), log=lambda line: None)
    return f"{out}/quick_run/checkpoint.npz"


def confusion_matrix(labels, predictions, classes=10):
    """(classes, classes) int64: entry [t, p] counts the images of class t predicted as p."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)   # not matrix[labels, predictions] += 1: repeats would count once
    return matrix


def confident_mistakes(labels, probs, count):
    """Indices of the wrong predictions, most confident first (at most ``count``)."""
    predictions = probs.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    return wrong[np.argsort(-probs[wrong, predictions[wrong]], kind="stable")][:count]


def save_confusion(path, matrix, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(np.maximum(matrix, 0.5), cmap="Blues", norm=LogNorm(vmin=0.5, vmax=max(matrix.max(), 1)))
    for (t, p), n in np.ndenumerate(matrix):
        if n:
            dark = n > np.sqrt(matrix.max())   # a dark cell on the log scale: write in white
            ax.text(p, t, str(n), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit", title=title)
    fig.colorbar(image, ax=ax, label="images (log scale)")
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def save_mistakes(path, images, labels, probs, indices, cols=8):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = max(1, int(np.ceil(len(indices) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(1.7 * cols, 2.0 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, indices):
        p = int(probs[i].argmax())
        ax.imshow(images[i, 0], cmap="gray")
        ax.set_title(f"#{i}: true {labels[i]}\npred {p} ({100 * probs[i, p]:.1f}%)", fontsize=9)
    fig.suptitle("The most confident mistakes (test image #, true label, prediction and its probability)")
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    parser.add_argument("--count", type=int, default=24, help="how many mistakes to show")
    parser.add_argument("--out", default="runs/examples/confusion")
    parser.add_argument("--quick", action="store_true", help="first 1000 test images; train a checkpoint if none")
    args = parser.parse_args(argv)
    threads.configure()
    checkpoint = checkpoint_or_quick_run(args.checkpoint, args.quick, args.out)
    model = classify.load_model(checkpoint)
    images, labels = data.load_mnist(train=False)
    if args.quick:
        images, labels = images[:1000], labels[:1000]
    probs = classify.probabilities(model, images.astype(next(model.parameters()).dtype))
    predictions = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predictions)
    accuracy = 100.0 * np.trace(matrix) / len(labels)

    print(f"{checkpoint} on {len(labels)} test images: {accuracy:.2f}% right, {len(labels) - np.trace(matrix)} wrong")
    print("rows: true digit, columns: predicted digit")
    print("     " + "".join(f"{p:6d}" for p in range(10)))
    for t in range(10):
        print(f"{t:5d}" + "".join(f"{n:6d}" for n in matrix[t]))
    off = matrix - np.diag(np.diag(matrix))
    t, p = np.unravel_index(off.argmax(), off.shape)
    print(f"most frequent mix-up: {t} taken for {p} ({off[t, p]} times)")
    mistakes = confident_mistakes(labels, probs, args.count)
    out = Path(args.out)
    paths = [save_confusion(out / "confusion.png", matrix,
                            f"Confusion matrix: {accuracy:.2f}% of {len(labels)} test images right"),
             save_mistakes(out / "confident_mistakes.png", images, labels, probs, mistakes)]
    print("wrote " + " and ".join(map(str, paths)))
    return {"matrix": matrix, "accuracy": accuracy, "mistakes": mistakes, "probs": probs}


if __name__ == "__main__":
    main()
