"""Kernel benchmark: forward and backward of each layer, minicnn vs torch.

    python -m benchmarks.bench_kernels [--repeats 20] [--rounds 3] [--threads 2] [--quick | --simplecnn | --models |
                                       --layers]

SimpleCNN's own shapes (batch 64) first, then a grid over batch 1/64/256,
channel counts and image sizes; ``--models``: every conv layer of every registered model instead, bare,
with the algorithm minicnn picks and the achieved GFLOP/s against this machine's FMA peak; ``--layers``: the
layers torchvision's and pytorch/examples' models add (transposed conv, resizing, group/instance/layer norm,
padding, pixel shuffle, adaptive max pool, BCE) at the shapes a DCGAN or a U-Net gives them.  Every case first cross-checks the two
backends' outputs and gradients (relative to the largest value) and refuses to
report a case that disagrees.  Timing then runs each backend in its own worker
process, ``--rounds`` times, alternating which goes first: in one process,
torch's OpenMP workers keep spinning after each torch call and steal the cores
from whatever runs next, which would bias an in-process A/B.  Same thread
count for both; warm-up calls excluded; each worker times every case
``--repeats`` times; we report medians over all samples and the median over
rounds of the per-round ratio.  Writes benchmarks/results/kernels.json.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import zlib

import numpy as np

from . import common


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


class Case:
    """One layer at one shape: builds inputs, the two backends' fwd/bwd callables and a cross-check."""

    def __init__(self, name, kind, group, **shape):
        self.name, self.kind, self.group, self.shape = name, kind, group, shape

    def rng(self):
        """The same inputs in every process: a generator seeded from the case's name."""
        return np.random.default_rng(zlib.crc32(self.name.encode()))

    def build(self, rng, backends=("minicnn", "torch")):
        import torch
        import torch.nn.functional as F

        from minicnn import kernels as K
        s = self.shape
        f32 = np.float32
        if self.kind in ("conv", "conv_relu_pool"):
            k, stride, pad = s.get("k", 3), s.get("stride", 1), s.get("padding", 1)
            x = rng.standard_normal((s["n"], s["c"], s["h"], s["h"])).astype(f32)
            w = (rng.standard_normal((s["o"], s["c"], k, k)) * 0.1).astype(f32)
            b = rng.standard_normal(s["o"]).astype(f32) if s.get("bias", True) else None
            need_dx = s.get("dx", True)
            if self.kind == "conv":
                m_fwd = lambda: K.conv2d_forward(x, w, b, stride, pad)  # noqa: E731
                m_bwd = lambda out, cache, g: K.conv2d_backward(g, cache, need_dx)  # noqa: E731
                t_op = lambda xt, wt, bt=None: F.conv2d(xt, wt, bt, stride, pad)  # noqa: E731
            else:
                m_fwd = lambda: K.conv2d_relu_max_pool2d_forward(x, w, b, 1)  # noqa: E731
                m_bwd = lambda out, cache, g: K.conv2d_relu_max_pool2d_backward(g, cache, need_dx)  # noqa: E731
                t_op = lambda xt, wt, bt: F.max_pool2d(F.relu(F.conv2d(xt, wt, bt, 1, 1)), 2)  # noqa: E731
            inputs, grads_needed = [x, w, b][:2 if b is None else 3], [need_dx, True, True][:2 if b is None else 3]
        elif self.kind == "pool":
            x = rng.standard_normal((s["n"], s["c"], s["h"], s["h"])).astype(f32)
            m_fwd = lambda: K.max_pool2d_forward(x, 2)  # noqa: E731
            m_bwd = lambda out, cache, g: (K.max_pool2d_backward(g, cache),)  # noqa: E731
            t_op = lambda xt: F.max_pool2d(xt, 2)  # noqa: E731
            inputs, grads_needed = [x], [True]
        elif self.kind == "linear":
            x = rng.standard_normal((s["n"], s["i"])).astype(f32)
            w = (rng.standard_normal((s["o"], s["i"])) * 0.02).astype(f32)
            b = rng.standard_normal(s["o"]).astype(f32)
            m_fwd = lambda: K.linear_forward(x, w, b)  # noqa: E731
            m_bwd = lambda out, cache, g: K.linear_backward(g, cache)  # noqa: E731
            t_op = lambda xt, wt, bt: F.linear(xt, wt, bt)  # noqa: E731
            inputs, grads_needed = [x, w, b], [True, True, True]
        elif self.kind == "cross_entropy":
            z = rng.standard_normal((s["n"], 10)).astype(f32)
            y = rng.integers(0, 10, s["n"])
            yt = torch.from_numpy(y)
            m_fwd = lambda: K.softmax_cross_entropy(z, y)  # noqa: E731
            m_bwd = lambda out, cache, g: (cache,)  # the fused kernel returned dlogits already  # noqa: E731
            t_op = lambda zt: F.cross_entropy(zt, yt)  # noqa: E731
            inputs, grads_needed = [z], [True]
        elif self.kind == "layer":
            m_fwd, m_bwd, t_op, inputs, grads_needed = LAYERS[s["op"]](rng, K, F, torch)
        else:
            raise ValueError(self.kind)
        return _Bound(m_fwd, m_bwd, t_op, inputs, grads_needed, rng, backends)


class _Bound:
    """A case's callables; only the requested backends run anything (a minicnn worker starts no torch pool)."""

    def __init__(self, m_fwd, m_bwd, t_op, inputs, grads_needed, rng, backends):
        import torch
        self.m_fwd, self.m_bwd, self.t_op = m_fwd, m_bwd, t_op
        self.t_in = [torch.from_numpy(a.copy()).requires_grad_(need) for a, need in zip(inputs, grads_needed)]
        self.grads_needed = grads_needed
        if "minicnn" in backends:
            self.out, self.cache = m_fwd()
        if "torch" in backends:
            self.t_out = t_op(*self.t_in)
        shape = np.shape(self.out) if "minicnn" in backends else tuple(self.t_out.shape)
        self.g = np.ones((), np.float32) if shape == () else rng.standard_normal(shape).astype(np.float32)
        self.t_g = torch.from_numpy(np.array(self.g, copy=True))

    def check(self):
        """Outputs and every gradient agree (float32, relative to the largest value)."""
        errs = [_rel_err(self.out, self.t_out.detach().numpy())]
        self.t_out.backward(self.t_g, retain_graph=True)
        m_grads = [g for g in self.m_bwd(self.out, self.cache, self.g) if g is not None]
        t_grads = [t.grad.numpy() for t, need in zip(self.t_in, self.grads_needed) if need]
        errs += [_rel_err(a, b) for a, b in zip(m_grads, t_grads)]
        for t in self.t_in:
            t.grad = None
        return max(errs)

    def fns(self, backend):
        """``(forward, backward)`` callables of one backend."""
        if backend == "minicnn":
            return self.m_fwd, lambda: self.m_bwd(self.out, self.cache, self.g)
        return lambda: self.t_op(*self.t_in), lambda: self.t_out.backward(self.t_g, retain_graph=True)


def _as_tuple(grads):
    return grads if isinstance(grads, tuple) else (grads,)


def _normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def _conv_transpose(rng, K, F, torch):   # DCGAN's generator, 128 -> 64 channels, 8x8 -> 16x16
    x, w = _normal(rng, (64, 128, 8, 8)), _normal(rng, (128, 64, 4, 4), 0.05)
    return (lambda: K.conv_transpose2d_forward(x, w, None, 2, 1), lambda out, cache, g: K.conv_transpose2d_backward(
        g, cache), lambda xt, wt: F.conv_transpose2d(xt, wt, None, 2, 1), [x, w], [True, True])


def _resize(mode):
    def build(rng, K, F, torch):   # a U-Net decoder's 2x upsampling of (64, 32, 28, 28)
        x = _normal(rng, (64, 32, 28, 28))
        if mode == "bilinear":
            fwd = lambda: K.upsample_bilinear2d_forward(x, (56, 56), False)  # noqa: E731
            bwd = lambda out, cache, g: _as_tuple(K.upsample_bilinear2d_backward(g, cache))  # noqa: E731
        else:
            fwd = lambda: K.upsample_nearest2d_forward(x, (56, 56))  # noqa: E731
            bwd = lambda out, cache, g: _as_tuple(K.upsample_nearest2d_backward(g, cache))  # noqa: E731
        t_op = lambda xt: F.interpolate(xt, scale_factor=2, mode=mode, **(  # noqa: E731
            {"align_corners": False} if mode == "bilinear" else {}))
        return fwd, bwd, t_op, [x], [True]
    return build


def _group_norm(rng, K, F, torch):
    x, w, b = _normal(rng, (64, 32, 28, 28)), _normal(rng, 32), _normal(rng, 32)
    return (lambda: K.group_norm_forward(x, 8, w, b), lambda out, cache, g: K.group_norm_backward(g, cache),
            lambda xt, wt, bt: F.group_norm(xt, 8, wt, bt), [x, w, b], [True, True, True])


def _instance_norm(rng, K, F, torch):
    x, w, b = _normal(rng, (64, 32, 28, 28)), _normal(rng, 32), _normal(rng, 32)
    return (lambda: K.instance_norm_forward(x, w, b, None, None), lambda out, cache, g: K.instance_norm_backward(
        g, cache), lambda xt, wt, bt: F.instance_norm(xt, weight=wt, bias=bt), [x, w, b], [True, True, True])


def _layer_norm(rng, K, F, torch):   # convnext's norm: 64 x 196 tokens of 128 channels
    x, w, b = _normal(rng, (64, 196, 128)), _normal(rng, 128), _normal(rng, 128)
    return (lambda: K.layer_norm_forward(x, (128,), w, b), lambda out, cache, g: K.layer_norm_backward(g, cache),
            lambda xt, wt, bt: F.layer_norm(xt, (128,), wt, bt), [x, w, b], [True, True, True])


def _reflection_pad(rng, K, F, torch):   # fast_neural_style's ReflectionPad2d before each conv
    x = _normal(rng, (64, 32, 28, 28))
    return (lambda: K.pad_forward(x, (1, 1, 1, 1), "reflect"), lambda out, cache, g: _as_tuple(K.pad_backward(
        g, cache)), lambda xt: F.pad(xt, (1, 1, 1, 1), mode="reflect"), [x], [True])


def _pixel_shuffle(rng, K, F, torch):   # super_resolution's last layer
    x = _normal(rng, (64, 64, 14, 14))
    return (lambda: K.pixel_shuffle_forward(x, 2), lambda out, cache, g: _as_tuple(K.pixel_shuffle_backward(
        g, cache)), lambda xt: F.pixel_shuffle(xt, 2), [x], [True])


def _adaptive_max_pool(rng, K, F, torch):
    x = _normal(rng, (64, 64, 14, 14))
    return (lambda: K.adaptive_max_pool2d_forward(x, (5, 5)), lambda out, cache, g: _as_tuple(
        K.adaptive_max_pool2d_backward(g, cache)), lambda xt: F.adaptive_max_pool2d(xt, (5, 5)), [x], [True])


def _bce(rng, K, F, torch):   # the VAE's reconstruction loss, summed
    x, t = rng.uniform(0.01, 0.99, (64, 784)).astype(np.float32), rng.uniform(0, 1, (64, 784)).astype(np.float32)
    tt = torch.from_numpy(t)
    return (lambda: K.binary_cross_entropy_forward(x, t, None, "sum"), lambda out, cache, g: _as_tuple(
        K.binary_cross_entropy_backward(g, cache))[:1], lambda xt: F.binary_cross_entropy(xt, tt, reduction="sum"),
        [x], [True])


# the layers of --layers: name -> build(rng, minicnn.kernels, torch.nn.functional, torch)
LAYERS = {"conv_transpose2d (64,128,8,8)->64 k4 s2": _conv_transpose,
          "upsample bilinear (64,32,28,28) x2": _resize("bilinear"),
          "upsample nearest (64,32,28,28) x2": _resize("nearest"),
          "group_norm (64,32,28,28) 8 groups": _group_norm,
          "instance_norm (64,32,28,28)": _instance_norm,
          "layer_norm (64,196,128)": _layer_norm,
          "reflection pad (64,32,28,28) 1": _reflection_pad,
          "pixel_shuffle (64,64,14,14) x2": _pixel_shuffle,
          "adaptive_max_pool2d (64,64,14,14)->5": _adaptive_max_pool,
          "binary_cross_entropy (64,784) sum": _bce}


def layer_cases():
    return [Case(name, "layer", "layers", op=name) for name in LAYERS]


def simplecnn_cases():
    return [
        Case("conv1 (64,1,28,28)->32, no dx", "conv", "simplecnn", n=64, c=1, h=28, o=32, dx=False),
        Case("conv2 (64,32,14,14)->64", "conv", "simplecnn", n=64, c=32, h=14, o=64),
        Case("conv1+relu+pool fused", "conv_relu_pool", "simplecnn", n=64, c=1, h=28, o=32, dx=False),
        Case("conv2+relu+pool fused", "conv_relu_pool", "simplecnn", n=64, c=32, h=14, o=64),
        Case("maxpool (64,32,28,28)", "pool", "simplecnn", n=64, c=32, h=28),
        Case("maxpool (64,64,14,14)", "pool", "simplecnn", n=64, c=64, h=14),
        Case("fc1 (64,3136)->128", "linear", "simplecnn", n=64, i=3136, o=128),
        Case("fc2 (64,128)->10", "linear", "simplecnn", n=64, i=128, o=10),
        Case("softmax-CE (64,10)", "cross_entropy", "simplecnn", n=64),
    ]


def grid_cases():
    cases = []
    for n in (1, 64, 256):
        cases.append(Case(f"conv b{n} 32->64 14x14", "conv", "grid", n=n, c=32, h=14, o=64))
        cases.append(Case(f"conv b{n} 1->32 28x28", "conv", "grid", n=n, c=1, h=28, o=32))
        cases.append(Case(f"maxpool b{n} 32ch 28x28", "pool", "grid", n=n, c=32, h=28))
        cases.append(Case(f"linear b{n} 3136->128", "linear", "grid", n=n, i=3136, o=128))
    for c, o, h in ((8, 16, 28), (64, 128, 7), (16, 32, 56)):
        cases.append(Case(f"conv b64 {c}->{o} {h}x{h}", "conv", "grid", n=64, c=c, h=h, o=o))
    return cases


def model_layers(model_name, batch=64):
    """[(module name, module, input shape, whether it gets an input gradient)] of every Conv2d and Linear
    of a registered model (SimpleCNN as its separate layers, not the fused blocks ``minicnn train``
    builds), in the order a forward of batch ``batch`` runs them.

    Found by running the model's forward once with forward hooks; a layer fed the network's input gets no
    input gradient, as in training.
    """
    from minicnn import nn, no_grad, tensor
    from minicnn.models import MODELS, SimpleCNN
    model = SimpleCNN() if model_name == "simplecnn" else MODELS[model_name]()
    names = {id(m): name for name, m in model.named_modules()}
    x = tensor(np.zeros((batch, 1, 28, 28), np.float32))
    found = []

    def hook(module, inputs, output):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            found.append((names[id(module)], module, inputs[0].shape, inputs[0] is not x))
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return found


def model_step_flops(model_name, batch=64):
    """Multiply-adds x 2 of a training step's convolutions and fully connected layers (forward, weight
    gradient, and input gradient where there is one), as the direct sums count them: the work a step
    cannot do without, whatever the algorithm.  Normalisation, pooling and activations are not counted."""
    from minicnn import nn
    total = 0
    for _, module, shape, dx in model_layers(model_name, batch):
        if isinstance(module, nn.Conv2d):
            fwd, bwd = conv_flops(dict(n=shape[0], c=shape[1], h=shape[2], o=module.out_channels,
                                       k=module.kernel_size[0], stride=module.stride[0],
                                       padding=module.padding[0], dx=dx))
        else:
            fwd = 2 * int(np.prod(shape[:-1])) * module.in_features * module.out_features
            bwd = fwd * (2 if dx else 1)
        total += fwd + bwd
    return total


def model_conv_cases(batch=64):
    """Every distinct conv layer of the registered models, bare (``model_layers``), at the shapes a
    training step of batch ``batch`` gives it.  Layers of the same shape share one case, whose ``layers``
    lists them all as ``model:module`` names.
    """
    from minicnn import nn
    from minicnn.models import MODELS
    found = {}
    for model_name in MODELS:
        for module_name, module, in_shape, dx in model_layers(model_name, batch):
            if isinstance(module, nn.Conv2d):
                (n, c, h, _), (k, _), (stride, _), (pad, _) = (in_shape, module.kernel_size, module.stride,
                                                               module.padding)
                shape = dict(n=n, c=c, h=h, o=module.out_channels, k=k, stride=stride, padding=pad,
                             bias=module.bias is not None, dx=dx)
                key = tuple(sorted(shape.items()))
                found.setdefault(key, (shape, []))[1].append(f"{model_name}:{module_name}")
    cases = []
    for shape, layers in found.values():
        name = (f"conv {shape['c']}->{shape['o']} {shape['k']}x{shape['k']} s{shape['stride']} "
                f"p{shape['padding']} {shape['h']}x{shape['h']}" + ("" if shape["bias"] else ", no bias") + ("" if shape["dx"] else ", no dx"))
        case = Case(name, "conv", "models", **shape)
        case.layers = layers
        cases.append(case)
    return cases


def conv_flops(shape):
    """Multiply-adds x 2 of a conv case as the direct sum counts them: (forward, backward); backward is
    dweight, plus dx unless the case has none."""
    oh = (shape["h"] + 2 * shape["padding"] - shape["k"]) // shape["stride"] + 1
    one = 2 * shape["n"] * shape["o"] * shape["c"] * shape["k"] ** 2 * oh * oh
    return one, one * (2 if shape.get("dx", True) else 1)


def algorithms(cases):
    """The plain path's algorithm minicnn's conv2d_forward takes for each conv case (its cache says)."""
    return {case.name: case.build(case.rng(), ("minicnn",)).cache.algorithm for case in cases}


def _inner(case):
    """Back-to-back calls per sample, so that microsecond cases are not timer noise."""
    return 20 if case.shape.get("n", 64) <= 1 or case.kind in ("cross_entropy", "linear") else 1


def worker(backend, cases, repeats, threads):
    """Time every case's forward and backward for one backend; print one JSON line of samples."""
    common.setup_threads(threads)
    out = {}
    for case in cases:
        fwd, bwd = case.build(case.rng(), (backend,)).fns(backend)
        samples = common.alternate({"forward": fwd, "backward": bwd}, repeats, inner=_inner(case))
        out[case.name] = samples
    print(json.dumps(out))


def cross_check(cases):
    """Max relative error of each case, minicnn against torch; exits if any disagrees."""
    errs = {}
    for case in cases:
        errs[case.name] = case.build(case.rng()).check()
        if errs[case.name] > 1e-4:
            raise SystemExit(f"bench_kernels: {case.name}: minicnn and torch disagree "
                             f"(rel. error {errs[case.name]:.2e})")
    return errs


def run(cases, repeats, rounds, threads, selection):
    """Cross-check, then time ``cases`` in alternating worker processes; ``selection`` is the flags that
    chose the cases (a worker chooses the same ones)."""
    errs = cross_check(cases)
    per_round = {"minicnn": [], "torch": []}
    for r in range(rounds):
        for backend in (("minicnn", "torch") if r % 2 == 0 else ("torch", "minicnn")):
            cmd = [sys.executable, "-m", "benchmarks.bench_kernels", "--worker", backend,
                   "--repeats", str(repeats), "--threads", str(threads)] + selection
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"bench_kernels: {backend} worker failed: {proc.stderr.strip()[-300:]}")
            per_round[backend].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = []
    for case in cases:
        row = {"name": case.name, "kind": case.kind, "group": case.group, "shape": case.shape,
               "max_rel_err": errs[case.name]}
        for part in ("forward", "backward"):
            m = [x for rnd in per_round["minicnn"] for x in rnd[case.name][part]]
            t = [x for rnd in per_round["torch"] for x in rnd[case.name][part]]
            ratios = [statistics.median(a[case.name][part]) / statistics.median(b[case.name][part])
                      for a, b in zip(per_round["minicnn"], per_round["torch"])]
            row[part] = {"minicnn_median_s": statistics.median(m), "torch_median_s": statistics.median(t),
                         "ratio": statistics.median(ratios), "samples": len(m)}
        f, b = row["forward"], row["backward"]
        pairs = [(statistics.median(a[case.name]["forward"]) + statistics.median(a[case.name]["backward"]))
                 / (statistics.median(c[case.name]["forward"]) + statistics.median(c[case.name]["backward"]))
                 for a, c in zip(per_round["minicnn"], per_round["torch"])]
        row["fwd_bwd_ratio"], row["fwd_bwd_ratio_range"] = statistics.median(pairs), [min(pairs), max(pairs)]
        rows.append(row)
        print(f"{case.name:34s} fwd {f['minicnn_median_s'] * 1e3:8.3f} / {f['torch_median_s'] * 1e3:8.3f} ms"
              f"  bwd {b['minicnn_median_s'] * 1e3:8.3f} / {b['torch_median_s'] * 1e3:8.3f} ms"
              f"  fwd+bwd x{row['fwd_bwd_ratio']:.2f}  (err {row['max_rel_err']:.1e})", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20, help="timed calls per case in each worker")
    p.add_argument("--rounds", type=int, default=3, help="worker processes per backend, alternating")
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--quick", action="store_true", help="SimpleCNN shapes only, 5 repeats, 1 round (a smoke run)")
    p.add_argument("--simplecnn", action="store_true", help="SimpleCNN shapes only, full repeats and rounds; "
                   "writes results/kernels_simplecnn.json")
    p.add_argument("--models", action="store_true", help="every conv layer of the registered models, bare, "
                   "with the algorithm minicnn picks, GFLOP/s and the share of this machine's FMA peak; "
                   "writes results/kernels_models.json")
    p.add_argument("--layers", action="store_true", help="the layers torchvision's and pytorch/examples' models "
                   "add (transposed conv, resizing, group/instance/layer norm, ...); writes results/kernels_layers.json")
    p.add_argument("--worker", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    threads = args.threads or os.cpu_count()
    selection = [flag for flag, on in (("--quick", args.quick), ("--simplecnn", args.simplecnn),
                                       ("--models", args.models), ("--layers", args.layers)) if on]
    if len(selection) > 1:
        p.error(f"choose one of --quick, --simplecnn, --models and --layers, got {' '.join(selection)}")
    if args.models:
        cases = model_conv_cases()
    elif args.layers:
        cases = layer_cases()
    else:
        cases = simplecnn_cases() + ([] if args.quick or args.simplecnn else grid_cases())
    if args.worker:
        return worker(args.worker, cases, args.repeats, threads)
    repeats, rounds = (5, 1) if args.quick else (args.repeats, args.rounds)
    print(f"minicnn / torch, {threads} threads each, {rounds} worker rounds x {repeats} calls", file=sys.stderr)
    rows = run(cases, repeats, rounds, threads, selection)
    if args.quick:
        return
    result = {"threads": threads, "repeats": repeats, "rounds": rounds, "rows": rows}
    if args.models:
        from .bench_roofline import fma_peak
        peak = fma_peak(16, threads, 5)["best_gflops"]  # 512-bit FMAs on every thread: this machine's ceiling
        chosen = algorithms(cases)
        for case, row in zip(cases, rows):
            fwd, bwd = conv_flops(case.shape)
            row.update(layers=case.layers, algorithm=chosen[case.name], flops=[fwd, bwd])
            for part, flops in (("forward", fwd), ("backward", bwd)):
                for backend in ("minicnn", "torch"):
                    gflops = flops / row[part][f"{backend}_median_s"] / 1e9
                    row[part][f"{backend}_gflops"], row[part][f"{backend}_fraction_of_peak"] = gflops, gflops / peak
        result["fma_peak_gflops"] = peak
    common.write_result({"--simplecnn": "kernels_simplecnn", "--models": "kernels_models",
                         "--layers": "kernels_layers"}.get(
        "".join(selection), "kernels"), result)


if __name__ == "__main__":
    main()
