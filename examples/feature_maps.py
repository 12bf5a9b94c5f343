"""What the network sees: conv1's filters before and after training, and one digit's feature maps.

    python examples/feature_maps.py [CKPT] [--index 0] [--out runs/examples/feature_maps] [--quick]

The checkpoint (default ``runs/minicnn/checkpoint.npz``, from ``minicnn
train``) is loaded twice, with the same parameters: into ``SimpleCNN(fused=False)``,
whose conv1 and conv2 are plain ``Conv2d`` layers, and into the fused
``SimpleCNN(fused=True)``, whose conv1 and conv2 are conv -> ReLU -> pool blocks.  A
forward hook on each of those four layers (``register_forward_hook``, as in
torch) keeps what it outputs while the models run unchanged::

    x (1,1,28,28) -> conv1 (1,32,28,28) -> ReLU -> pool1 (1,32,14,14)
                  -> conv2 (1,64,14,14) -> ReLU -> pool2 (1,64,7,7) -> fc1 -> ReLU -> fc2 (1,10)

(conv1/conv2 from the plain model's layers, pool1/pool2 from the fused blocks).
It checks that the two models give the same logits, then writes

* ``conv1_filters.png`` — the 32 3x3 filters of conv1 at initialisation (the
  run's seed, redrawn), after training, and what training changed (a 3x3
  filter has little room: training tilts the random start towards edge and
  stroke detectors rather than replacing it);
* ``feature_maps.png`` — test digit ``--index`` and its maps after conv1,
  pool1, conv2 and pool2.  Conv outputs are shown before the ReLU (red
  positive, blue negative: the ReLU keeps the red); pooled maps are >= 0.

``--quick`` without a checkpoint first trains one for a few seconds.
"""
import argparse
import json
from pathlib import Path

import numpy as np

import minicnn
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


def initial_conv1(checkpoint):
    """conv1's weight (32, 1, 3, 3) as the run that wrote ``checkpoint`` drew it before training.

    The seed and backend come from the ``metrics.json`` beside the checkpoint (seed 0, minicnn, if
    there is none); each backend draws from its own generator.
    """
    metrics_path = Path(checkpoint).with_name("metrics.json")
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    seed = metrics.get("config", {}).get("seed", 0)
    if metrics.get("backend") == "torch":
        from reference.models import numpy_state_dict
        from reference.train import build_model
        return numpy_state_dict(build_model(seed))["conv1.weight"], f"torch, seed {seed}"
    minicnn.manual_seed(seed)
    return minicnn.SimpleCNN().conv1.weight.detach().numpy(), f"minicnn, seed {seed}"


def feature_maps(plain, fused, x):
    """The maps after conv1 and conv2 of ``plain`` (SimpleCNN(fused=False)) and after the conv -> ReLU ->
    pool blocks of ``fused``, recorded by forward hooks; returns {stage: (C, H, W) array} and both logits."""
    maps = {}

    def keep(name):
        return lambda module, args, output: maps.__setitem__(name, output.numpy()[0])
    handles = [plain.conv1.register_forward_hook(keep("conv1")), fused.conv1.register_forward_hook(keep("pool1")),
               plain.conv2.register_forward_hook(keep("conv2")), fused.conv2.register_forward_hook(keep("pool2"))]
    try:
        with minicnn.no_grad():
            out, fused_out = plain(x).numpy()[0], fused(x).numpy()[0]
    finally:
        for handle in handles:
            handle.remove()
    return {k: maps[k] for k in ("conv1", "pool1", "conv2", "pool2")}, out, fused_out


def _grid(fig, maps, cols, cmap, title, symmetric):
    """One panel (a subfigure) of ``maps`` (C, H, W) in a ``cols``-wide grid, one shared colour scale."""
    rows = int(np.ceil(len(maps) / cols))
    axes = fig.subplots(rows, cols, squeeze=False)
    top = float(np.abs(maps).max()) or 1.0
    vmin, vmax = (-top, top) if symmetric else (0.0, top)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(maps):
            image = ax.imshow(maps[k], cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(str(k), fontsize=6, pad=1)
        else:
            ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.8, pad=0.02)


def save_filters(path, before, after, before_label):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(18, 4.2))
    left, middle, right = fig.subfigures(1, 3)
    _grid(left, before[:, 0], 8, "RdBu_r", f"conv1 filters at initialisation ({before_label})", True)
    _grid(middle, after[:, 0], 8, "RdBu_r", "conv1 filters after training", True)
    _grid(right, after[:, 0] - before[:, 0], 8, "RdBu_r", "after - before: what training changed", True)
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


def save_feature_maps(path, digit, label, maps, prediction):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(16, 13))
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1.25])
    digit_fig, conv1_fig, pool1_fig = top.subfigures(1, 3, width_ratios=[0.6, 1, 1])
    ax = digit_fig.subplots()
    ax.imshow(digit, cmap="gray")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"input (1, 28, 28)\nlabel {label}, predicted {prediction}", fontsize=10)
    _grid(conv1_fig, maps["conv1"], 8, "RdBu_r", "conv1 (32, 28, 28), before ReLU", True)
    _grid(pool1_fig, maps["pool1"], 8, "magma", "pool1 = maxpool(ReLU(conv1)) (32, 14, 14)", False)
    conv2_fig, pool2_fig = bottom.subfigures(1, 2)
    _grid(conv2_fig, maps["conv2"], 8, "RdBu_r", "conv2 (64, 14, 14), before ReLU", True)
    _grid(pool2_fig, maps["pool2"], 8, "magma", "pool2 = maxpool(ReLU(conv2)) (64, 7, 7): what fc1 reads", False)
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    finally:
        plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=DEFAULT_CHECKPOINT)
    parser.add_argument("--index", type=int, default=0, help="which test image (default 0, a 7)")
    parser.add_argument("--out", default="runs/examples/feature_maps")
    parser.add_argument("--quick", action="store_true", help="train a quick checkpoint first if there is none")
    args = parser.parse_args(argv)
    threads.configure()
    checkpoint = checkpoint_or_quick_run(args.checkpoint, args.quick, args.out)

    model = classify.load_model(checkpoint, fused=False)
    dtype = model.conv1.weight.dtype
    images, labels = data.load_mnist(train=False)
    x, label = images[args.index:args.index + 1].astype(dtype), int(labels[args.index])
    maps, out, fused = feature_maps(model, classify.load_model(checkpoint, fused=True), x)
    difference = float(np.abs(out - fused).max())
    prediction = int(out.argmax())
    print(f"test image {args.index}: label {label}, predicted {prediction}")
    print(f"SimpleCNN(fused=False) logits vs the fused SimpleCNN's: largest difference {difference:.1e}")
    for name, m in maps.items():
        print(f"  {name}: shape {m.shape}, {100 * np.mean(m > 0):.0f}% of entries > 0")

    before, before_label = initial_conv1(checkpoint)
    after = model.conv1.weight.detach().numpy()
    change = float(np.linalg.norm(after - before) / np.linalg.norm(before))
    print(f"conv1 filters: mean |w| {np.abs(before).mean():.3f} at initialisation, {np.abs(after).mean():.3f} "
          f"after training; |after - before| / |before| = {change:.2f}")
    paths = [save_filters(Path(args.out) / "conv1_filters.png", before, after, before_label),
             save_feature_maps(Path(args.out) / "feature_maps.png", images[args.index, 0], label, maps, prediction)]
    print("wrote " + " and ".join(map(str, paths)))
    return {"maps": maps, "logits": out, "fused_logits": fused, "prediction": prediction, "label": label,
            "before": before, "after": after}


if __name__ == "__main__":
    main()
