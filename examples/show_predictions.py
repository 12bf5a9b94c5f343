"""The tutorial's figure: six test images with their label and the model's prediction.

    python examples/show_predictions.py [CKPT] [--out runs/examples/show_predictions] [--quick]

Loads a checkpoint written by ``minicnn train`` (either backend; default
``runs/minicnn/checkpoint.npz``), rebuilds the model its record names, and
saves ``OUT/predictions.png`` (the tutorial calls ``plt.show()``).
``--quick`` without a checkpoint first trains one for a few seconds
(one epoch on 2000 images), so the script runs on a fresh clone.
"""
import argparse
from pathlib import Path

from minicnn import classify, data, figures, threads
from minicnn.train import TrainConfig, predict, train

DEFAULT_CHECKPOINT = "runs/minicnn/checkpoint.npz"


def checkpoint_or_quick_run(path, quick, out):
    """``path`` if it exists; in quick mode, otherwise, a checkpoint from a one-epoch run on 2000 images."""
    if Path(path).is_file() or not quick:
        return path
    print(f"{path}: no such file; training a quick one (1 epoch, 2000 images) into {out}/quick_run")
    train(TrainConfig(epochs=1, limit=2000, out=f"{out}/quick_run", progress=False), log=lambda line: None)
    return f"{out}/quick_run/checkpoint.npz"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out", default="runs/examples/show_predictions")
    parser.add_argument("--quick", action="store_true", help="train a quick checkpoint first if there is none")
    args = parser.parse_args(argv)
    threads.configure()

    model = classify.load_model(checkpoint_or_quick_run(args.checkpoint, args.quick, args.out))
    images, labels = data.load_mnist(train=False)
    images, labels = images[:64], labels[:64]             # the tutorial's first test batch
    predictions = predict(model, images.astype(next(model.parameters()).dtype))

    path = figures.save_predictions(f"{args.out}/predictions.png", images, labels, predictions)
    print(f"labels      {' '.join(map(str, labels[:6]))}\npredictions {' '.join(map(str, predictions[:6]))}")
    print(f"wrote {path}")
    return predictions


if __name__ == "__main__":
    main()
