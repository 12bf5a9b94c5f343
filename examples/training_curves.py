"""Training curves: minicnn and the PyTorch reference on one chart, from their metrics.json.

    minicnn train && minicnn train --backend torch           # writes runs/minicnn and runs/torch
    python examples/training_curves.py [RUN_DIR ...] [--out runs/examples/training_curves]
    python examples/training_curves.py --quick               # trains two tiny runs itself (seconds)

Every ``minicnn train`` run records each step's batch loss and each epoch's
test accuracy in ``metrics.json`` (``"epochs": [{"loss", "test_accuracy",
"steps": [...]}, ...]``).  This script draws, for every run given:

* the loss of every step (faint) and its moving average (solid), log scale;
* the mean loss per epoch (the number ``Epoch [e/E], Loss:`` prints);
* the test accuracy after each epoch;

and writes ``OUT/training_curves.png``.  Both backends train on the same
batches in the same order (same seed), each from its own initial weights,
so their curves differ by a little noise and should overlap.
"""
import argparse
import json
from pathlib import Path

import numpy as np
from minicnn.checkpoint import atomic_write

DEFAULT_RUNS = ["runs/minicnn", "runs/torch"]
COLOURS = {"minicnn": "tab:blue", "torch": "tab:orange"}


def read_run(folder):
    """``folder/metrics.json`` as a dict, refusing one written before per-step losses were recorded."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        raise SystemExit(f"training_curves: {path}: no such file (train a run first: minicnn train --out {folder})")
    metrics = json.loads(path.read_text())
    if any("steps" not in e or "test_accuracy" not in e for e in metrics["epochs"]):
        raise SystemExit(f"training_curves: {path} has no per-step losses or per-epoch accuracy; "
                         "it was written by an older minicnn: train it again")
    return metrics


def quick_runs(out, limit=640, epochs=2, test_images=1000):
    """Two tiny runs, one per backend, written as ``minicnn train`` writes metrics.json, into ``out/BACKEND``.

    ``run()`` tests on all 10 000 test images after each epoch (seconds each); here the two backends'
    :class:`~minicnn.train.Backend` objects train on the same batches and are tested on ``test_images``.
    """
    from minicnn import data
    from minicnn.checkpoint import write_json
    from minicnn.train import TrainConfig, load_datasets, minicnn_backend
    makers = {"minicnn": minicnn_backend}
    try:
        from reference.train import torch_backend
        makers["torch"] = torch_backend
    except ImportError:
        print("PyTorch is not installed: the quick mode draws minicnn's run only")
    x_train, y_train, x_test, y_test = load_datasets(TrainConfig(limit=limit))
    x_test, y_test = x_test[:test_images], y_test[:test_images]
    folders = []
    for name, make_backend in makers.items():
        cfg = TrainConfig(epochs=epochs, limit=limit, out=f"{out}/{name}", progress=False)
        backend = make_backend(cfg)
        loader = data.DataLoader(x_train, y_train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
        history = []
        for epoch in range(1, epochs + 1):
            steps = [backend.train_step(images, labels) for images, labels in loader]
            backend.end_epoch()
            loss = sum(steps) / len(steps)
            accuracy = 100.0 * float(np.mean(backend.predict(x_test) == y_test))
            history.append({"epoch": epoch, "loss": loss, "test_accuracy": accuracy, "steps": steps})
        write_json(f"{cfg.out}/metrics.json", {"backend": name, "epochs": history, "test_accuracy": accuracy})
        folders.append(cfg.out)
    return folders


def moving_average(values, window):
    """Mean of the last ``window`` values at each step (fewer at the start), shape of ``values``."""
    csum = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - window, 0)
    return (csum[ends] - csum[starts]) / (ends - starts)


def summarise(name, metrics):
    """Print one line per epoch; returns {"loss": [...], "accuracy": [...], "steps": [...]}."""
    epochs = metrics["epochs"]
    steps = [loss for e in epochs for loss in e["steps"]]
    print(f"{name} ({metrics['backend']}, {len(steps)} steps)")
    for e in epochs:
        print(f"  epoch {e['epoch']}: mean loss {np.mean(e['steps']):.4f} over {len(e['steps'])} steps, "
              f"test accuracy {e['test_accuracy']:.2f}%")
    return {"loss": [float(np.mean(e["steps"])) for e in epochs],
            "accuracy": [e["test_accuracy"] for e in epochs], "steps": steps,
            "per_epoch": len(epochs[0]["steps"])}


def plot(path, runs, window):
    """``runs``: {label: (backend, summary)}; one row of three panels, written atomically."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogFormatter

    class PlainLogFormatter(LogFormatter):   # labels the minor ticks of a short axis, as 0.6 rather than 6e-01
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"
    fig, (ax_step, ax_epoch, ax_acc) = plt.subplots(1, 3, figsize=(15, 4.5))
    for label, (backend, s) in runs.items():
        colour = COLOURS.get(backend)
        x = np.arange(1, len(s["steps"]) + 1)
        ax_step.plot(x, s["steps"], color=colour, alpha=0.2, linewidth=0.6)
        ax_step.plot(x, moving_average(np.array(s["steps"]), window), color=colour, label=label)
        epochs = np.arange(1, len(s["loss"]) + 1)
        ax_epoch.plot(epochs, s["loss"], "o-", color=colour, label=label)
        ax_acc.plot(epochs, s["accuracy"], "o-", color=colour, label=label)
    first = next(iter(runs.values()))[1]
    for boundary in range(first["per_epoch"], len(first["steps"]), first["per_epoch"]):
        ax_step.axvline(boundary + 0.5, color="grey", linestyle=":", linewidth=0.8)
    ax_step.set(yscale="log", xlabel="step (batch of 64)", ylabel="cross-entropy loss",
                title=f"Loss per step (faint) and its moving average over {window} steps")
    ax_epoch.set(yscale="log", xlabel="epoch", ylabel="mean loss over the epoch", title="Loss per epoch")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy after each epoch")
    for ax in (ax_epoch, ax_acc):
        ax.set_xticks(np.arange(1, len(first["loss"]) + 1))
    for ax in (ax_step, ax_epoch):   # plain numbers on the log axes (0.1, 0.2 … not 10^-1, 2x10^-1)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    for ax in (ax_step, ax_epoch, ax_acc):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help=f"run folders holding metrics.json (default {' '.join(DEFAULT_RUNS)})")
    parser.add_argument("--out", default="runs/examples/training_curves")
    parser.add_argument("--window", type=int, default=50, help="moving-average window, in steps")
    parser.add_argument("--quick", action="store_true",
                        help="without RUN_DIRs: train two tiny runs (640 images, 2 epochs) into OUT first")
    args = parser.parse_args(argv)
    folders = args.runs or (quick_runs(args.out) if args.quick else DEFAULT_RUNS)
    runs = {}
    for folder in folders:
        metrics = read_run(folder)
        label = f"{metrics['backend']} ({folder})"
        runs[label] = (metrics["backend"], summarise(label, metrics))
    window = max(1, min(args.window, len(next(iter(runs.values()))[1]["steps"]) // 4))
    path = plot(Path(args.out) / "training_curves.png", runs, window)
    print(f"wrote {path}")
    return {label: s for label, (_, s) in runs.items()}


if __name__ == "__main__":
    main()
