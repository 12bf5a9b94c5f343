"""What each kernel exercise draws and how it is run: the cases (arrays and settings), the same computation in
torch, and the op of ``minicnn.functional`` the learner's kernels are plugged into.

A :class:`KernelSpec` describes one exercise's kernel pair: the learner's function names, the names of the
forward's array arguments (``x``, ``weight``, ``bias``...), a ``build(dtype, **params)`` that makes a
:class:`Case` from drawn integers (hypothesis draws the integers, so it shrinks a failure to small
shapes), the fixed hard cases that always run first, the smooth cases central differences can be taken
at, and torch's OpInfo name with the samples the exercise covers.
"""
import dataclasses
from typing import Callable

import numpy as np


@dataclasses.dataclass
class Case:
    """One call of a forward kernel: ``forward(*arrays.values(), *params)``; ``info`` names the settings for
    messages and diagnoses (kernel size, stride, ...)."""
    label: str
    arrays: dict
    params: tuple
    info: dict
    seed: int = 0

    def forward_args(self):
        return (*self.arrays.values(), *self.params)


@dataclasses.dataclass
class KernelSpec:
    op: str                      # registry name: the learner's functions are <op>_forward, <op>_backward
    arrays: tuple                # the forward's array arguments that get a gradient, in order
    build: Callable              # (dtype, smooth=False, **params) -> Case
    strategies: Callable         # () -> {param: hypothesis strategy}
    torch_fn: Callable           # (case, tensors: dict name -> torch tensor) -> torch output
    minicnn_fn: Callable         # (case, tensors: dict name -> minicnn Tensor) -> minicnn Tensor
    contract: list               # [(dtype, params)] for the contract stage
    smooth: list                 # [params] for central differences (inputs away from kinks and ties)
    hard: list = dataclasses.field(default_factory=list)   # [params] always run first against torch
    backward_results: tuple = None   # names of the backward's results (None entries: must be None)
    single: bool = False         # the backward returns one array, not a tuple
    forward_only: bool = False   # the exercise writes the forward; its backward comes later
    opinfo: str = None           # torch's OpInfo name
    in_scope: Callable = None    # (sample) -> bool: the samples this exercise covers
    functional: Callable = None  # the minicnn op with torch's signature, for OpInfo samples
    dout: Callable = None        # (rng, shape, dtype) -> upstream gradient (default standard normal)
    floor: dict = dataclasses.field(default_factory=dict)   # (case) -> denominator floor, by result name
    out_name: str = "out"
    cache_check: Callable = None  # (cache, case) -> None, or raise Failure: what minicnn reads from the cache

    @property
    def forward(self):
        return f"{self.op}_forward"

    @property
    def backward(self):
        return f"{self.op}_backward"

    def results(self):
        return self.backward_results or self.arrays


def _st():
    from hypothesis import strategies
    return strategies


def pair(a, b):
    """An int where both are equal, else the pair: the kernels take either, so the draws use both."""
    return a if a == b else (a, b)


def _rng(seed):
    return np.random.default_rng(seed)


def _distinct(rng, shape):
    """Values in (-1, 1), all different and at least 2/size apart: no ties, nothing within h of 0."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) + 0.5) / size * 2 - 1).reshape(shape)


def _grid(rng, shape):
    """Small integers as floats: ties in every window, exact zeros, negatives."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def _fit(size, kernel, padding):
    """A size at least the kernel once padded (every draw has at least one window)."""
    return max(size, kernel - 2 * padding)


def _shape_label(name, a):
    return f"{name} {tuple(a.shape)}" if a is not None else f"{name} None"


# --------------------------------------------------------------------------- linear
def _linear_build(dtype, n=3, i=5, o=4, bias=True, seed=0, smooth=False):
    rng = _rng(seed)
    x, w = rng.standard_normal((n, i)), rng.standard_normal((o, i))
    b = rng.standard_normal(o) if bias else None
    arrays = {"x": x.astype(dtype), "weight": w.astype(dtype), "bias": None if b is None else b.astype(dtype)}
    label = ", ".join(_shape_label(k, v) for k, v in arrays.items())
    return Case(label, arrays, (), {}, seed)


def _linear_strategies():
    st = _st()
    return dict(n=st.integers(1, 5), i=st.integers(1, 6), o=st.integers(1, 6), bias=st.booleans(),
                seed=st.integers(0, 2 ** 16))


def linear_spec():
    from .. import functional as F
    def torch_fn(case, t):
        import torch
        return torch.nn.functional.linear(t["x"], t["weight"], t.get("bias"))
    return KernelSpec(
        "linear", ("x", "weight", "bias"), _linear_build, _linear_strategies, torch_fn,
        lambda case, t: F.linear(t["x"], t["weight"], t.get("bias")),
        contract=[(np.float32, dict(n=3, i=5, o=4, bias=True)), (np.float64, dict(n=2, i=3, o=4, bias=False))],
        smooth=[dict(n=3, i=5, o=4, bias=True, seed=1)],
        hard=[dict(n=4, i=4, o=4, bias=True, seed=2), dict(n=1, i=1, o=1, bias=True, seed=3)],
        opinfo="nn.functional.linear", in_scope=lambda sample: True, functional=F.linear)


# --------------------------------------------------------------------------- relu
def _relu_build(dtype, dims=(3, 4), zeros=True, seed=0, smooth=False):
    rng = _rng(seed)
    shape = tuple(dims)
    if smooth:
        x = _distinct(rng, shape)
    else:
        x = _grid(rng, shape) / 2 if zeros else rng.standard_normal(shape)
    return Case(f"x {shape}" + (" with exact zeros" if zeros and not smooth else ""), {"x": x.astype(dtype)},
                (), {}, seed)


def _relu_strategies():
    st = _st()
    return dict(dims=st.lists(st.integers(1, 5), min_size=1, max_size=4), zeros=st.booleans(),
                seed=st.integers(0, 2 ** 16))


def relu_spec():
    from .. import functional as F
    def torch_fn(case, t):
        import torch
        return torch.relu(t["x"])
    return KernelSpec(
        "relu", ("x",), _relu_build, _relu_strategies, torch_fn, lambda case, t: F.relu(t["x"]),
        contract=[(np.float32, dict(dims=(3, 4), zeros=True)), (np.float64, dict(dims=(2, 3, 4), zeros=True))],
        smooth=[dict(dims=(2, 3, 4), seed=1)],
        hard=[dict(dims=(4, 5), zeros=True, seed=1), dict(dims=(1,), zeros=False, seed=2)],
        single=True, opinfo="nn.functional.relu", in_scope=lambda sample: True, functional=F.relu)


# --------------------------------------------------------------------------- cross-entropy
def _ce_build(dtype, n=4, c=5, scale=3.0, reduction="mean", seed=0, smooth=False):
    rng = _rng(seed)
    logits = rng.standard_normal((n, c)) * (2.0 if smooth else scale)
    labels = rng.integers(0, c, n)
    label = f"logits ({n}, {c}) of scale {scale:g}, reduction={reduction!r}"
    return Case(label, {"logits": logits.astype(dtype)}, (labels, None, -100, reduction, 0.0),
                {"labels": labels, "reduction": reduction}, seed)


def _ce_strategies():
    st = _st()
    return dict(n=st.integers(1, 6), c=st.integers(1, 7), scale=st.sampled_from([3.0, 30.0, 300.0]),
                reduction=st.sampled_from(["mean", "sum"]), seed=st.integers(0, 2 ** 16))


def _ce_in_scope(sample):
    import torch
    target, kwargs = sample.args[0], sample.kwargs
    return (sample.input.ndim in (1, 2) and isinstance(target, torch.Tensor) and not target.is_floating_point()
            and kwargs.get("weight") is None and not kwargs.get("label_smoothing")
            and kwargs.get("reduction", "mean") in ("mean", "sum")
            and not (target == kwargs.get("ignore_index", -100)).any())


def cross_entropy_spec():
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        return torch.nn.functional.cross_entropy(t["logits"], torch.from_numpy(case.info["labels"]),
                                                 reduction=case.info["reduction"])
    return KernelSpec(
        "cross_entropy", ("logits",), _ce_build, _ce_strategies, torch_fn,
        lambda case, t: F.cross_entropy(t["logits"], case.info["labels"], reduction=case.info["reduction"]),
        contract=[(np.float32, dict(n=4, c=5)), (np.float64, dict(n=3, c=4, reduction="sum"))],
        smooth=[dict(n=4, c=5, seed=1), dict(n=3, c=4, reduction="sum", seed=2)],
        hard=[dict(n=3, c=4, scale=300.0, reduction="mean", seed=1), dict(n=1, c=1, scale=3.0, seed=2),
              dict(n=5, c=3, scale=3.0, reduction="sum", seed=3)],
        backward_results=("logits", None), opinfo="nn.functional.cross_entropy", in_scope=_ce_in_scope,
        functional=F.cross_entropy, dout=lambda rng, shape, dtype: np.asarray(rng.uniform(1.5, 2.5), dtype),
        floor={"out": lambda case: 1.0, "logits": lambda case: 1.0 / max(1, len(case.info["labels"]))},
        out_name="loss")


# --------------------------------------------------------------------------- max pooling
def _pool_geometry(h, w, kh, kw, sh, sw, ph, pw):
    ph, pw = min(ph, kh // 2), min(pw, kw // 2)
    return _fit(h, kh, ph), _fit(w, kw, pw), ph, pw


def _pool_info(kh, kw, sh, sw, ph, pw):
    return {"kernel": (kh, kw), "stride": (sh, sw), "padding": (ph, pw)}


def _max_pool_build(dtype, n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, ties=True, seed=0,
                    smooth=False):
    rng = _rng(seed)
    h, w, ph, pw = _pool_geometry(h, w, kh, kw, sh, sw, ph, pw)
    shape = (n, c, h, w)
    x = _distinct(rng, shape) if smooth else (_grid(rng, shape) if ties else rng.standard_normal(shape))
    k, s, p = pair(kh, kw), pair(sh, sw), pair(ph, pw)
    label = f"x {shape}, kernel_size={k}, stride={s}, padding={p}" + (", with ties" if ties and not smooth else "")
    return Case(label, {"x": x.astype(dtype)}, (k, s, p), _pool_info(kh, kw, sh, sw, ph, pw), seed)


def _pool_strategies():
    st = _st()
    return dict(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
                kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
                ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2 ** 16))


def _max_pool_strategies():
    return dict(_pool_strategies(), ties=_st().booleans())


def _kw(sample, name, position, default):
    """A pooling sample's argument, whether torch passed it by keyword or by position."""
    if name in sample.kwargs:
        return sample.kwargs[name]
    return sample.args[position] if len(sample.args) > position else default


def _max_pool_in_scope(sample):
    return (_kw(sample, "dilation", 3, 1) in (1, (1, 1)) and not _kw(sample, "ceil_mode", 4, False)
            and not _kw(sample, "return_indices", 5, False))


def max_pool2d_spec():
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        k, s, p = case.params
        return torch.nn.functional.max_pool2d(t["x"], k, s, p)
    return KernelSpec(
        "max_pool2d", ("x",), _max_pool_build, _max_pool_strategies, torch_fn,
        lambda case, t: F.max_pool2d(t["x"], *case.params),
        contract=[(np.float32, dict(n=2, c=2, h=5, w=6, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0)),
                  (np.float64, dict(n=1, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1))],
        smooth=[dict(n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, seed=1),
                dict(n=1, c=2, h=6, w=5, kh=2, kw=3, sh=1, sw=2, ph=0, pw=1, seed=2)],
        hard=[dict(n=1, c=1, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, ties=True, seed=1),   # overlaps, ties
              dict(n=2, c=3, h=6, w=6, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0, ties=True, seed=2),   # the CNN's pool
              dict(n=1, c=2, h=7, w=5, kh=3, kw=2, sh=1, sw=3, ph=1, pw=1, ties=False, seed=3),  # odd, stride > kernel
              dict(n=1, c=1, h=4, w=4, kh=2, kw=2, sh=1, sw=1, ph=1, pw=1, ties=True, seed=4)],  # padding, overlaps
        single=True, opinfo="nn.functional.max_pool2d", in_scope=_max_pool_in_scope, functional=F.max_pool2d)


# --------------------------------------------------------------------------- im2col / col2im
def _im2col_build(dtype, n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, seed=0, smooth=False):
    rng = _rng(seed)
    h, w = _fit(h, kh, ph), _fit(w, kw, pw)
    shape = (n, c, h, w)
    x = rng.standard_normal(shape)
    k, s, p = pair(kh, kw), pair(sh, sw), pair(ph, pw)
    return Case(f"x {shape}, kernel_size={k}, stride={s}, padding={p}", {"x": x.astype(dtype)}, (k, s, p),
                _pool_info(kh, kw, sh, sw, ph, pw), seed)


def _im2col_strategies():
    st = _st()
    return dict(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
                kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
                ph=st.integers(0, 2), pw=st.integers(0, 2), seed=st.integers(0, 2 ** 16))


def torch_im2col(x, kernel, stride, padding):
    """minicnn's im2col layout from torch's unfold: (N, C*KH*KW, L) -> (C*KH*KW, N*L)."""
    import torch
    cols = torch.nn.functional.unfold(x, kernel, padding=padding, stride=stride)
    return cols.transpose(0, 1).reshape(cols.shape[1], -1)


def im2col_spec():
    def torch_fn(case, t):
        return torch_im2col(t["x"], *case.params)
    return KernelSpec(
        "im2col", ("x",), _im2col_build, _im2col_strategies, torch_fn, None,
        contract=[(np.float32, dict(n=2, c=2, h=5, w=6, kh=3, kw=2, sh=1, sw=2, ph=1, pw=0)),
                  (np.float64, dict(n=1, c=3, h=4, w=4, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0))],
        smooth=[dict(n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, seed=1),
                dict(n=1, c=2, h=4, w=5, kh=2, kw=3, sh=1, sw=1, ph=0, pw=1, seed=2)],
        hard=[dict(n=1, c=1, h=5, w=5, kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, seed=1),
              dict(n=2, c=2, h=7, w=6, kh=3, kw=2, sh=2, sw=3, ph=1, pw=0, seed=2)],
        single=True, opinfo="nn.functional.unfold", out_name="cols")


# --------------------------------------------------------------------------- convolution
def _conv_build(dtype, n=2, c=2, o=3, h=5, w=5, kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, bias=True, seed=0,
                smooth=False):
    rng = _rng(seed)
    h, w = _fit(h, kh, ph), _fit(w, kw, pw)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, kh, kw))
    b = rng.standard_normal(o) if bias else None
    s, p = pair(sh, sw), pair(ph, pw)
    arrays = {"x": x.astype(dtype), "weight": weight.astype(dtype), "bias": None if b is None else b.astype(dtype)}
    label = ", ".join(_shape_label(k, v) for k, v in arrays.items()) + f", stride={s}, padding={p}"
    return Case(label, arrays, (s, p), _pool_info(kh, kw, sh, sw, ph, pw), seed)


def _conv_strategies():
    st = _st()
    return dict(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(1, 8),
                w=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3),
                sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2), bias=st.booleans(),
                seed=st.integers(0, 2 ** 16))


def _conv_in_scope(sample):
    return (_kw(sample, "groups", 5, 1) == 1 and _kw(sample, "dilation", 4, 1) in (1, (1, 1), [1, 1])
            and not isinstance(_kw(sample, "padding", 3, 0), str))


def conv2d_spec(forward_only):
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        return torch.nn.functional.conv2d(t["x"], t["weight"], t.get("bias"), *case.params)
    conv_hard = [dict(n=1, c=1, o=1, h=4, w=4, kh=3, kw=3, sh=1, sw=1, ph=0, pw=0, seed=1),
                 dict(n=2, c=3, o=2, h=7, w=6, kh=3, kw=2, sh=2, sw=3, ph=1, pw=1, seed=2),   # odd, strides, padding
                 dict(n=1, c=2, o=2, h=5, w=5, kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, bias=False, seed=3)]
    return KernelSpec(
        "conv2d", ("x", "weight", "bias"), _conv_build, _conv_strategies, torch_fn,
        lambda case, t: F.conv2d(t["x"], t["weight"], t.get("bias"), *case.params),
        contract=[(np.float32, dict(n=2, c=2, o=3, h=5, w=6, kh=3, kw=2, sh=1, sw=2, ph=1, pw=0)),
                  (np.float64, dict(n=1, c=3, o=2, h=4, w=4, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0, bias=False))],
        smooth=[dict(n=2, c=2, o=3, h=4, w=5, kh=3, kw=2, sh=1, sw=2, ph=1, pw=1, seed=1),
                dict(n=1, c=2, o=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=0, bias=False, seed=2)],
        hard=conv_hard, forward_only=forward_only, opinfo="nn.functional.conv2d", in_scope=_conv_in_scope,
        functional=F.conv2d)


# --------------------------------------------------------------------------- average pooling
def _avg_pool_build(dtype, n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, count_include_pad=True,
                    seed=0, smooth=False):
    rng = _rng(seed)
    h, w, ph, pw = _pool_geometry(h, w, kh, kw, sh, sw, ph, pw)
    shape = (n, c, h, w)
    x = rng.standard_normal(shape)
    k, s, p = pair(kh, kw), pair(sh, sw), pair(ph, pw)
    info = dict(_pool_info(kh, kw, sh, sw, ph, pw), count_include_pad=count_include_pad)
    label = f"x {shape}, kernel_size={k}, stride={s}, padding={p}, count_include_pad={count_include_pad}"
    return Case(label, {"x": x.astype(dtype)}, (k, s, p, False, count_include_pad), info, seed)


def _avg_pool_strategies():
    return dict(_pool_strategies(), count_include_pad=_st().booleans())


def _avg_pool_in_scope(sample):
    return not _kw(sample, "ceil_mode", 3, False) and _kw(sample, "divisor_override", 5, None) is None


def avg_pool2d_spec():
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        return torch.nn.functional.avg_pool2d(t["x"], *case.params)
    return KernelSpec(
        "avg_pool2d", ("x",), _avg_pool_build, _avg_pool_strategies, torch_fn,
        lambda case, t: F.avg_pool2d(t["x"], *case.params),
        contract=[(np.float32, dict(n=2, c=2, h=6, w=6, kh=2, kw=2, sh=2, sw=2, ph=0, pw=0)),
                  (np.float64, dict(n=1, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1,
                                    count_include_pad=False))],
        smooth=[dict(n=2, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, seed=1),
                dict(n=1, c=2, h=5, w=6, kh=3, kw=2, sh=1, sw=2, ph=1, pw=1, count_include_pad=False, seed=2)],
        hard=[dict(n=1, c=1, h=5, w=5, kh=3, kw=3, sh=1, sw=1, ph=1, pw=1, count_include_pad=True, seed=1),
              dict(n=1, c=2, h=5, w=5, kh=3, kw=3, sh=2, sw=2, ph=1, pw=1, count_include_pad=False, seed=2),
              dict(n=2, c=1, h=7, w=6, kh=2, kw=3, sh=3, sw=1, ph=1, pw=0, count_include_pad=True, seed=3)],
        single=True, opinfo="nn.functional.avg_pool2d", in_scope=_avg_pool_in_scope, functional=F.avg_pool2d)


# --------------------------------------------------------------------------- batch norm
def _bn_build(dtype, n=4, c=3, hw=(2, 3), affine=True, training=True, eps=1e-5, seed=0, smooth=False):
    rng = _rng(seed)
    hw = tuple(hw)
    if training and n * int(np.prod(hw)) < 2:
        n = 2   # one value per channel normalises to 0 whatever it is: nothing to check
    shape = (n, c) + hw
    x = 1.5 * rng.standard_normal(shape) + rng.standard_normal((1, c) + (1,) * len(hw))
    weight = rng.uniform(0.5, 2, c) if affine else None
    bias = rng.standard_normal(c) if affine else None
    running_mean, running_var = rng.standard_normal(c), rng.uniform(0.5, 2, c)
    arrays = {"x": x.astype(dtype), "weight": None if weight is None else weight.astype(dtype),
              "bias": None if bias is None else bias.astype(dtype)}
    params = (running_mean.astype(dtype), running_var.astype(dtype), bool(training), float(eps))
    label = (f"x {shape}, {'weight and bias' if affine else 'no weight or bias'}, "
             f"{'training' if training else 'eval mode'}, eps={eps:g}")
    info = {"running_mean": params[0], "running_var": params[1], "training": bool(training), "eps": float(eps)}
    return Case(label, arrays, params, info, seed)


def _bn_strategies():
    st = _st()
    return dict(n=st.integers(1, 4), c=st.integers(1, 3),
                hw=st.sampled_from([(), (1, 1), (2, 3), (3, 2)]), affine=st.booleans(), training=st.booleans(),
                eps=st.sampled_from([1e-5, 0.1]), seed=st.integers(0, 2 ** 16))


def _bn_in_scope(sample):
    momentum = _kw(sample, "momentum", 5, 0.1)
    running = sample.args[:2]
    return (sample.input.ndim in (2, 4) and 0 <= momentum <= 1 and sample.input.numel() > 0
            and len(running) == 2 and all(r is not None for r in running))


def _bn_cache_check(cache, case):
    """In training, the cache's ``mean``, ``var`` and ``count`` are the batch's: the layer updates its running
    estimates from them."""
    from .grading import Failure, close, compare
    if not case.info["training"]:
        return
    missing = [name for name in ("mean", "var", "count") if not hasattr(cache, name)]
    if missing:
        raise Failure(f"batch_norm_forward's cache has no .{missing[0]}: return a BatchNormCache(mean, var, count, "
                      f"saved) (minicnn's BatchNorm layers update their running estimates from it)")
    x = case.arrays["x"]
    axes = (0,) + tuple(range(2, x.ndim))
    x64, rtol = x.astype(np.float64), 1e-5 if x.dtype == np.float32 else 1e-10
    for name, expected in (("mean", x64.mean(axis=axes)), ("var", x64.var(axis=axes))):
        got = getattr(cache, name)
        got = np.asarray(got, dtype=np.float64) if isinstance(got, np.ndarray) else got
        try:
            compare(f"batch_norm_forward's cache.{name}", got, expected, rtol,
                    source=f"the batch's {name}" + (", biased" if name == "var" else ""))
        except Failure as failure:
            if name == "var" and close(got, x64.var(axis=axes, ddof=1), rtol):
                failure.message += ("\n    that is the unbiased variance (divided by M - 1): batch norm normalises "
                                    "with the biased one (divided by M); only the running estimate is unbiased")
            raise
    if cache.count != x.size // x.shape[1]:
        raise Failure(f"batch_norm_forward's cache.count: expected {x.size // x.shape[1]} (values per channel), "
                      f"got {cache.count!r}")


def batch_norm_spec():
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        rm, rv, training, eps = case.params
        return torch.nn.functional.batch_norm(t["x"], torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy()),
                                              t.get("weight"), t.get("bias"), training, 0.1, eps)

    def minicnn_fn(case, t):
        rm, rv, training, eps = case.params
        return F.batch_norm(t["x"], rm.copy(), rv.copy(), t.get("weight"), t.get("bias"), training, 0.1, eps)
    return KernelSpec(
        "batch_norm", ("x", "weight", "bias"), _bn_build, _bn_strategies, torch_fn, minicnn_fn,
        contract=[(np.float32, dict(n=4, c=3, hw=(2, 3))), (np.float64, dict(n=5, c=2, hw=(), affine=False)),
                  (np.float64, dict(n=3, c=2, hw=(2, 2), training=False))],
        smooth=[dict(n=3, c=2, hw=(2, 2), seed=1), dict(n=5, c=3, hw=(), seed=2),
                dict(n=2, c=2, hw=(2, 3), training=False, seed=3), dict(n=4, c=2, hw=(1, 2), affine=False, seed=4)],
        hard=[dict(n=2, c=2, hw=(), training=True, seed=1), dict(n=3, c=3, hw=(2, 3), training=True, eps=0.1, seed=2),
              dict(n=2, c=2, hw=(2, 2), training=False, seed=3)],
        opinfo="nn.functional.batch_norm", in_scope=_bn_in_scope, functional=F.batch_norm,
        cache_check=_bn_cache_check)


# --------------------------------------------------------------------------- dropout
def _dropout_build(dtype, dims=(3, 4, 2, 2), p=0.3, channels=False, seed=0, smooth=False):
    rng = _rng(seed)
    shape = tuple(dims)
    x = rng.standard_normal(shape)
    mask_shape = shape[:2] + (1,) * (len(shape) - 2) if channels and len(shape) > 2 else shape
    keep = rng.random(mask_shape) >= p
    label = f"x {shape}, p={p:g}, keep mask {mask_shape}"
    return Case(label, {"x": x.astype(dtype)}, (p, keep), {"p": p, "keep": keep}, seed)


def _dropout_strategies():
    st = _st()
    return dict(dims=st.lists(st.integers(1, 4), min_size=1, max_size=4),
                p=st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]), channels=st.booleans(), seed=st.integers(0, 2 ** 16))


def dropout_spec():
    from .. import functional as F

    def torch_fn(case, t):
        import torch
        p, keep = case.params
        if p == 1:
            return t["x"] * 0.0
        return t["x"] * torch.from_numpy(keep) / (1 - p)
    return KernelSpec(
        "dropout", ("x",), _dropout_build, _dropout_strategies, torch_fn,
        lambda case, t: F.DropoutFunction.apply(t["x"], *case.params),
        contract=[(np.float32, dict(dims=(3, 4), p=0.3)), (np.float64, dict(dims=(2, 3, 2, 2), p=0.5, channels=True))],
        smooth=[dict(dims=(3, 5), p=0.4, seed=1), dict(dims=(2, 3, 2, 2), p=0.5, channels=True, seed=2)],
        hard=[dict(dims=(3, 4), p=1.0, seed=1), dict(dims=(2, 3, 2, 2), p=0.2, channels=True, seed=2),
              dict(dims=(4,), p=0.0, seed=3)],
        single=True)
