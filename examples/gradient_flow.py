"""Gradient flow: activations at initialisation and per-layer weight and gradient norms while training.

    python examples/gradient_flow.py [--steps 300] [--out runs/examples/gradient_flow] [--quick]

SimpleCNN starts from torch's default initialisation, weights drawn from
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (fan_in = inputs per output: 9 for conv1,
288 for conv2, 3136 for fc1, 128 for fc2): the wider the layer, the smaller
its weights, so that each output sums fan_in terms and stays of order one.
This script compares that with the same weights multiplied by 10 and by 0.1
(biases left as they are):

* ``activations_at_init.png`` — histograms of each layer's output (before its
  ReLU) for 256 training images, one row per initialisation.  With the default
  the spread shrinks gently layer by layer (torch's bound is sqrt(6) times
  smaller than He's, which would hold it constant).  With x10 each layer
  multiplies it by about 10 more: logits in the hundreds.  With x0.1 it
  collapses, and the biases take over: every image gets nearly the same logits;
* ``gradient_flow.png`` — for ``--steps`` SGD steps (lr 0.01, momentum 0.9)
  from each initialisation: the loss, and each layer's gradient norm and
  weight norm.  The default trains smoothly, its gradient norms within a
  factor of 30 of one another.  x10 starts at a loss in the hundreds with
  gradient norms in the thousands; the first steps are so large that they
  kill the ReLUs (every unit negative for every image), the gradient becomes
  exactly 0 (the curves end: log scale) and the loss stays at chance, ln 10,
  for good.  x0.1 starts with a gradient hundreds of times smaller in conv1
  than the default's, and after 300 steps it is still at chance.

``--quick``: 10 steps.
"""
import argparse
from pathlib import Path

import numpy as np

import minicnn
import minicnn.functional as F
from minicnn import data, nn, optim, threads
from minicnn.checkpoint import atomic_write

SCALES = {"torch's default": 1.0, "weights x10": 10.0, "weights x0.1": 0.1}
LAYERS = ("conv1", "conv2", "fc1", "fc2")


def make_model(scale, seed=0):
    """SimpleCNN(fused=False) from ``manual_seed(seed)`` with every weight (not bias) multiplied by ``scale``."""
    minicnn.manual_seed(seed)
    model = minicnn.SimpleCNN(fused=False)
    for name in LAYERS:
        layer = getattr(model, name)
        layer.weight.data = layer.weight.data * np.float32(scale)
    return model


def activations(model, x):
    """Each layer's output before its ReLU, for a batch ``x``: {layer: ndarray}."""
    with minicnn.no_grad():
        conv1 = model.conv1(x)
        conv2 = model.conv2(F.max_pool2d(F.relu(conv1), 2))
        fc1 = model.fc1(F.max_pool2d(F.relu(conv2), 2).flatten(1))
        fc2 = model.fc2(F.relu(fc1))
    return {"conv1": conv1.numpy(), "conv2": conv2.numpy(), "fc1": fc1.numpy(), "fc2 (logits)": fc2.numpy()}


def train_and_record(model, loader, steps):
    """``steps`` SGD steps, recording the loss and each layer's weight and gradient norm before each update.

    Returns {"loss": (steps,), "grad": {layer: (steps,)}, "weight": {layer: (steps,)}}; entries after
    the loss turns non-finite are NaN (training stops there).
    """
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    record = {"loss": np.full(steps, np.nan), "grad": {k: np.full(steps, np.nan) for k in LAYERS},
              "weight": {k: np.full(steps, np.nan) for k in LAYERS}}
    model.train()
    for step, (images, labels) in zip(range(steps), loader):
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        record["loss"][step] = loss.item()
        if not np.isfinite(record["loss"][step]):
            break
        for name in LAYERS:
            weight = getattr(model, name).weight
            record["grad"][name][step] = np.linalg.norm(weight.grad.astype(np.float64))
            record["weight"][name][step] = np.linalg.norm(weight.detach().numpy().astype(np.float64))
        optimizer.step()
    return record


def _figure(*shape, **kwargs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt, plt.subplots(*shape, **kwargs)


def _plain_log_ticks(ax):
    """Plain numbers on a log y axis (0.1, 2.3, 100 rather than 10^-1, 2.3x10^0, 10^2)."""
    from matplotlib.ticker import FuncFormatter, LogFormatter

    class PlainLogFormatter(LogFormatter):   # labels the minor ticks of a short axis, as 0.6 rather than 6e-01
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def _save(plt, fig, path):
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=90))
    finally:
        plt.close(fig)


def save_histograms(path, acts):
    """``acts``: {init: {layer: ndarray}}; one row per initialisation, one column per layer."""
    layers = list(next(iter(acts.values())))
    plt, (fig, axes) = _figure(len(acts), len(layers), figsize=(4 * len(layers), 2.8 * len(acts)), squeeze=False)
    for row, (init, by_layer) in zip(axes, acts.items()):
        for ax, (layer, a) in zip(row, by_layer.items()):
            counts, edges = np.histogram(a, bins=80)
            ax.stairs(counts, edges, fill=True, color="tab:blue")   # one artist, not 80 bars
            ax.set_yscale("log")
            ax.set_title(f"{init}: {layer}\nstd {a.std():.3g}", fontsize=10)
            ax.set_xlabel("output before ReLU")
        row[0].set_ylabel("count (log scale)")
    fig.suptitle("Each layer's outputs at initialisation, 256 training images (note each panel's x range)")
    return _save(plt, fig, path)


def save_flow(path, records):
    """``records``: {init: record}; one column per initialisation: loss, gradient norms, weight norms."""
    plt, (fig, axes) = _figure(3, len(records), figsize=(5.2 * len(records), 10), squeeze=False)
    for col, (init, rec) in enumerate(records.items()):
        steps = np.arange(1, len(rec["loss"]) + 1)
        axes[0, col].plot(steps, rec["loss"], color="black")
        axes[0, col].axhline(np.log(10), color="grey", linestyle=":", label="chance, ln 10")
        axes[0, col].set(title=f"{init}: loss", yscale="log")
        axes[0, col].legend()
        for name in LAYERS:
            axes[1, col].plot(steps, rec["grad"][name], label=name)
            axes[2, col].plot(steps, rec["weight"][name], label=name)
        axes[1, col].set(title=f"{init}: |gradient| per layer", yscale="log")
        axes[2, col].set(title=f"{init}: |weight| per layer", yscale="log", xlabel="SGD step")
        for ax in axes[1:, col]:
            ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
        _plain_log_ticks(ax)
    return _save(plt, fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="SGD steps from each initialisation")
    parser.add_argument("--out", default="runs/examples/gradient_flow")
    parser.add_argument("--quick", action="store_true", help="10 steps")
    args = parser.parse_args(argv)
    steps = 10 if args.quick else args.steps
    threads.configure()
    x_train, y_train = data.load_mnist(train=True)
    batch = x_train[:256]

    acts, records = {}, {}
    for init, scale in SCALES.items():
        acts[init] = activations(make_model(scale), batch)
        print(f"{init:>15}: std at init " + ", ".join(f"{k} {a.std():.3g}" for k, a in acts[init].items()))
    with np.errstate(over="ignore", invalid="ignore"):   # x10 may overflow: that is what it shows
        for init, scale in SCALES.items():
            loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
            records[init] = rec = train_and_record(make_model(scale), loader, steps)
            first = ", ".join(f"{k} {rec['grad'][k][0]:.3g}" for k in LAYERS)
            finite = np.isfinite(rec["loss"])
            last = np.flatnonzero(finite)[-1]
            status = f"loss {rec['loss'][0]:.3g} -> {rec['loss'][last]:.3g} at step {last + 1}"
            if not finite.all():
                status += f"; diverged (loss not finite) at step {np.flatnonzero(~finite)[0] + 1}"
            print(f"{init:>15}: step 1 |gradient| {first}; {status}")
    out = Path(args.out)
    paths = [save_histograms(out / "activations_at_init.png", acts), save_flow(out / "gradient_flow.png", records)]
    print("wrote " + " and ".join(map(str, paths)))
    return {"activations": acts, "records": records}


if __name__ == "__main__":
    main()
