"""Kernel benchmark: forward and backward of each layer, minicnn vs torch.

    python -m benchmarks.bench_kernels [--repeats 20] [--threads 2] [--quick]

SimpleCNN's own shapes (batch 64) first, then a grid over batch 1/64/256,
channel counts and image sizes.  Both backends get the same thread count;
warm-up calls are excluded; each number is a median of ``--repeats`` timed
rounds in which minicnn and torch alternate.  Every case cross-checks the two
backends' outputs and gradients (allclose, relative to the largest value) before
timing, and refuses to report a case that disagrees.
Writes benchmarks/results/kernels.json.
"""
import argparse
import sys

import numpy as np

from . import common


def _rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


class Case:
    """One layer at one shape: builds inputs, the two backends' fwd/bwd callables and a cross-check."""

    def __init__(self, name, kind, group, **shape):
        self.name, self.kind, self.group, self.shape = name, kind, group, shape

    def build(self, rng):
        import torch
        import torch.nn.functional as F

        from minicnn import kernels as K
        s = self.shape
        f32 = np.float32
        if self.kind in ("conv", "conv_relu_pool"):
            x = rng.standard_normal((s["n"], s["c"], s["h"], s["h"])).astype(f32)
            w = (rng.standard_normal((s["o"], s["c"], 3, 3)) * 0.1).astype(f32)
            b = rng.standard_normal(s["o"]).astype(f32)
            need_dx = s.get("dx", True)
            if self.kind == "conv":
                m_fwd = lambda: K.conv2d_forward(x, w, b, 1, 1)  # noqa: E731
                m_bwd = lambda out, cache, g: K.conv2d_backward(g, cache, need_dx)  # noqa: E731
                t_op = lambda xt, wt, bt: F.conv2d(xt, wt, bt, 1, 1)  # noqa: E731
            else:
                m_fwd = lambda: K.conv2d_relu_maxpool2d_forward(x, w, b, 1)  # noqa: E731
                m_bwd = lambda out, cache, g: K.conv2d_relu_maxpool2d_backward(g, cache, need_dx)  # noqa: E731
                t_op = lambda xt, wt, bt: F.max_pool2d(F.relu(F.conv2d(xt, wt, bt, 1, 1)), 2)  # noqa: E731
            inputs = [x, w, b]
            grads_needed = [need_dx, True, True]
        elif self.kind == "pool":
            x = rng.standard_normal((s["n"], s["c"], s["h"], s["h"])).astype(f32)
            m_fwd = lambda: K.maxpool2d_forward(x, 2)  # noqa: E731
            m_bwd = lambda out, cache, g: (K.maxpool2d_backward(g, cache),)  # noqa: E731
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
        else:
            raise ValueError(self.kind)
        return _Bound(m_fwd, m_bwd, t_op, inputs, grads_needed, rng)


class _Bound:
    def __init__(self, m_fwd, m_bwd, t_op, inputs, grads_needed, rng):
        import torch
        self.m_fwd, self.m_bwd, self.t_op = m_fwd, m_bwd, t_op
        self.t_in = [torch.from_numpy(a.copy()).requires_grad_(need) for a, need in zip(inputs, grads_needed)]
        self.grads_needed = grads_needed
        out, cache = m_fwd()
        self.out, self.cache = out, cache
        self.g = np.ones((), np.float32) if np.ndim(out) == 0 else rng.standard_normal(np.shape(out)).astype(np.float32)
        self.t_out = t_op(*self.t_in)
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

    def fns(self):
        return ({"minicnn": lambda: self.m_fwd(), "torch": lambda: self.t_op(*self.t_in)},
                {"minicnn": lambda: self.m_bwd(self.out, self.cache, self.g),
                 "torch": lambda: self.t_out.backward(self.t_g, retain_graph=True)})


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


def run(cases, repeats, rng):
    rows = []
    for case in cases:
        bound = case.build(rng)
        err = bound.check()
        if err > 1e-4:
            raise SystemExit(f"bench_kernels: {case.name}: minicnn and torch disagree (rel. error {err:.2e})")
        fwd, bwd = bound.fns()
        inner = 20 if case.shape.get("n", 64) <= 1 or case.kind in ("cross_entropy", "linear") else 1
        f = common.summarize(common.alternate(fwd, repeats, inner=inner))
        b = common.summarize(common.alternate(bwd, repeats, inner=inner))
        row = {"name": case.name, "kind": case.kind, "group": case.group, "shape": case.shape,
               "max_rel_err": err, "forward": f, "backward": b,
               "fwd_bwd_ratio": (f["minicnn_median_s"] + b["minicnn_median_s"])
               / (f["torch_median_s"] + b["torch_median_s"])}
        rows.append(row)
        print(f"{case.name:34s} fwd {f['minicnn_median_s'] * 1e3:8.3f} / {f['torch_median_s'] * 1e3:8.3f} ms"
              f"  bwd {b['minicnn_median_s'] * 1e3:8.3f} / {b['torch_median_s'] * 1e3:8.3f} ms"
              f"  fwd+bwd x{row['fwd_bwd_ratio']:.2f}  (err {err:.1e})", flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--quick", action="store_true", help="SimpleCNN shapes only, 5 repeats (a smoke run)")
    args = p.parse_args(argv)
    import os
    threads = args.threads or os.cpu_count()
    common.setup_threads(threads)
    rng = np.random.default_rng(0)
    cases = simplecnn_cases() + ([] if args.quick else grid_cases())
    repeats = 5 if args.quick else args.repeats
    print(f"minicnn / torch, median of {repeats} alternating rounds, {threads} threads", file=sys.stderr)
    rows = run(cases, repeats, rng)
    if not args.quick:
        common.write_result("kernels", {"threads": threads, "repeats": repeats, "rows": rows})


if __name__ == "__main__":
    main()
