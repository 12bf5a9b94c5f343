"""Finite-difference gradient checks: the hand-written backward passes against numbers.

For a module ``f`` and a fixed random upstream gradient ``g``, the scalar
``L(θ) = sum(f(x; θ) * g)`` has ``dL/dθ`` equal to what ``backward(g)``
returns.  The numeric estimate is the central difference, in float64::

    dL/dθ_i ≈ (L(θ + h e_i) - L(θ - h e_i)) / (2h)

Its error is O(h²) plus round-off O(ε/h), about 1e-10 for h = 1e-6; float32
differences would be noise.  The error we report for a tensor is

    max_i |analytic_i - numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|, max_all |analytic|)

over the checked entries i, i.e. relative to the tensor's largest gradient, so entries that are
nearly zero do not blow up the ratio.
"""
import numpy as np

from . import testing
from .autograd import Tensor, no_grad

THRESHOLD = 1e-6


def relative_error(analytic, numeric, scale=0.0):
    """Max abs difference over the checked entries, relative to the largest of: their magnitudes (analytic
    and numeric) and ``scale``, the whole tensor's largest analytic gradient.  (The round-off of a central
    difference is about ``eps * |L| / h`` whatever the entry: measured against a few tiny sampled entries
    alone, a right gradient can fail.)"""
    floor = max(float(np.abs(np.asarray(analytic)).max(initial=0.0)), scale)
    return testing.relative_error(analytic, numeric, floor=floor)


def numeric_gradient(f, array, indices, h=1e-6):
    """Central differences of the scalar ``f()`` w.r.t. ``array.flat[indices]``.

    ``array`` is perturbed in place and restored exactly afterwards; ``f``
    must read it (e.g. a parameter's ``.array`` or the input being checked).
    """
    return numeric_gradient_kinks(f, array, indices, h)[0]


def numeric_gradient_kinks(f, array, indices, h=1e-6):
    """Central differences, and how far the two one-sided slopes disagree.

    A network of Conv2d, Linear, ReLU, MaxPool2d and Flatten, followed by
    ``sum(out * g)``, is *linear* in any single weight or input entry until a
    ReLU crosses 0 or a max-pool window changes winner (a kink).  So the slopes
    ``(f(θ+h) - f(θ)) / h`` and ``(f(θ) - f(θ-h)) / h`` are equal up to
    round-off, unless a kink lies within ``h`` of θ; then the central
    difference measures neither side's slope and is off by up to half the gap.
    A wrong backward pass cannot hide in the gap: it changes the analytic
    value, not ``f``.

    Returns
    -------
    grads : ndarray (len(indices),), central differences as :func:`numeric_gradient`
    gap : ndarray (len(indices),), ``|f(θ+h) - 2 f(θ) + f(θ-h)| / h``
    """
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError("numeric_gradient: expected a writeable C-contiguous array to perturb in place")
    flat = array.reshape(-1)  # a view, so writes reach what f() reads
    centre = f()
    plus, minus = np.empty(len(indices)), np.empty(len(indices))
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        plus[k] = f()
        flat[i] = old - h
        minus[k] = f()
        flat[i] = old
    return (plus - minus) / (2 * h), np.abs(plus - 2 * centre + minus) / h


def _sample(size, count, rng):
    return np.arange(size) if size <= count else rng.choice(size, count, replace=False)


def check_module(module, x, rng, samples=30, h=1e-6, need_input_grad=True, skip_kinks=False):
    """Check every parameter gradient and the input gradient of ``module`` at ``x``.

    Parameters
    ----------
    module : minicnn.nn.Module, in float64
    x : ndarray, float64 input
    rng : numpy.random.Generator, picks the upstream gradient and the sampled entries
    samples : int, entries checked per tensor (all when the tensor is smaller)
    skip_kinks : bool
        Replace entries whose ``±h`` straddles a ReLU or max-pool switch by
        fresh draws (see :func:`numeric_gradient_kinks`); only valid for modules
        made of Conv2d, Linear, ReLU, MaxPool2d and Flatten.

    Returns
    -------
    list of dicts ``{"param", "error", "analytic", "numeric", "index", "kinks"}``,
    one per tensor; ``kinks`` counts the entries left out.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    x_tensor = Tensor.wrap(x, requires_grad=need_input_grad)  # the same array: perturbing x reaches both
    out = module(x_tensor)
    upstream = rng.standard_normal(out.shape)
    module.zero_grad()
    out.backward(upstream)
    dx = x_tensor.grad

    def loss():
        with no_grad():
            return float(np.sum(module(x).array * upstream))

    rows = []
    targets = [(name, p.array, p.grad) for name, p in module.named_parameters()]
    if need_input_grad:
        targets.append(("input", x, dx))
    for name, array, analytic in targets:
        if skip_kinks:
            idx, numeric, kinks = _smooth_entries(loss, array, analytic, samples, rng, h)
        else:
            idx, kinks = _sample(array.size, samples, rng), 0
            numeric = numeric_gradient(loss, array, idx, h)
        picked = analytic.reshape(-1)[idx]
        error = relative_error(picked, numeric, float(np.abs(analytic).max())) if len(idx) else float("nan")
        rows.append({"param": name, "error": error, "analytic": picked, "numeric": numeric, "index": idx,
                     "kinks": kinks})
    return rows


def _smooth_entries(f, array, analytic, samples, rng, h, tries=4):
    """Up to ``samples`` random entries whose ``±h`` straddles no kink, with their central differences.

    Entries that do straddle one (one-sided slopes more than ``THRESHOLD``
    times the gradient's scale apart) are replaced by fresh draws, up to
    ``tries * samples`` draws in all.  Returns ``(indices, numeric, kinks)``.
    """
    candidates = rng.permutation(array.size)[:tries * samples]
    scale = np.abs(analytic).max(initial=0.0)
    kept, numeric, kinks, start = [], [], 0, 0
    while len(kept) < samples and start < len(candidates):
        chunk = candidates[start:start + samples - len(kept)]
        start += len(chunk)
        grads, gap = numeric_gradient_kinks(f, array, chunk, h)
        smooth = gap <= THRESHOLD * max(scale, np.abs(grads).max(initial=0.0))
        kept += list(chunk[smooth])
        numeric += list(grads[smooth])
        kinks += int((~smooth).sum())
    return np.array(kept, dtype=np.int64), np.array(numeric, dtype=np.float64), kinks


def check_cross_entropy(logits, labels, rng, samples=30, h=1e-6):
    """Check ``CrossEntropyLoss`` d loss / d logits; returns one row as :func:`check_module`."""
    from .nn import CrossEntropyLoss
    logits = np.array(logits, dtype=np.float64, copy=True)
    crit = CrossEntropyLoss()
    logits_tensor = Tensor.wrap(logits, requires_grad=True)
    crit(logits_tensor, labels).backward()
    analytic = logits_tensor.grad
    idx = _sample(logits.size, samples, rng)
    numeric = numeric_gradient(lambda: crit(logits, labels).item(), logits, idx, h)
    picked = analytic.reshape(-1)[idx]
    return [{"param": "logits", "error": relative_error(picked, numeric, float(np.abs(analytic).max())),
             "analytic": picked, "numeric": numeric, "index": idx}]


# --------------------------------------------------------------------------- the table of `minicnn gradcheck`


def _distinct(rng, shape):
    """Values in (-1, 1) at least 2/size apart, so no max-pool tie or ReLU kink lies within ``h`` of them."""
    size = int(np.prod(shape))
    return ((rng.permutation(size) + 0.5) / size * 2 - 1).reshape(shape)


def _drawn(module, rng):
    """``module`` with every parameter drawn from (-2, 2), not its ones and zeros (a weight of 1 would
    hide a dx that forgets it)."""
    for p in module.parameters():
        p.array = rng.uniform(-2, 2, p.shape).astype(p.dtype)
    return module


class _Reseeded:
    """A module whose every call first reseeds minicnn's generator, so Dropout draws the same mask each
    time and the central differences see one fixed linear map (mask drawn from ``seed``)."""

    def __init__(self, module, seed):
        self.module, self.seed = module, seed

    def __call__(self, x):
        from .rng import manual_seed
        manual_seed(self.seed)
        return self.module(x)

    def double(self):
        self.module.double()
        return self

    def __getattr__(self, name):
        return getattr(self.module, name)


class _WithTarget:
    """A loss with its target fixed (or a layer with its second argument fixed), called like a layer:
    input -> output, for :func:`check_module`."""

    def __init__(self, criterion, target):
        self.criterion, self.target = criterion, target

    def __call__(self, x):
        return self.criterion(x, self.target)

    def double(self):
        self.criterion.double()
        return self

    def __getattr__(self, name):
        return getattr(self.criterion, name)


def gradcheck_cases(rng):
    """The checked configurations: every layer type (some with stride/padding), every loss, and the models.

    Returns
    -------
    list of ``(label, module, x, smooth)``: a float64 module and its float64 input.  Inputs to MaxPool2d,
    ReLU and LeakyReLU have distinct values far from 0, because a central difference straddling a tie or
    the kink at 0 measures neither side's slope (entries next to Hardtanh's bounds are skipped as kinks).
    ``smooth`` cases (batch norm, LRN, sigmoid, tanh, hardswish, SiLU, GELU, ELU, softplus,
    softmax, the losses, LeNet-5) have curvature (between their kinks, which their inputs keep away from),
    so the kink test (one-sided slopes equal) does not apply to them and every drawn entry is checked;
    the others are piecewise linear.
    Batch norm is checked in training mode, where the batch statistics depend on the input, with a
    random upstream gradient, at batch sizes 2 and 3.
    """
    from . import nn
    from .models import LeNet5, SimpleCNN
    from .models.resnet_mini import BasicBlock

    def bn(layer, x):
        layer.weight.data = rng.uniform(0.5, 2, layer.weight.shape)
        layer.bias.data = rng.standard_normal(layer.bias.shape)
        return layer.double(), x

    cases = [  # piecewise linear: the kink test applies
        ("Conv2d(3, 4, 3, padding=1)", nn.Conv2d(3, 4, 3, padding=1), rng.standard_normal((2, 3, 7, 7)), False),
        ("Conv2d(2, 3, (3, 2), stride=2, padding=(2, 1))",
         nn.Conv2d(2, 3, (3, 2), stride=2, padding=(2, 1)), rng.standard_normal((2, 2, 6, 5)), False),
        ("MaxPool2d(2)", nn.MaxPool2d(2), _distinct(rng, (2, 3, 6, 6)), False),
        ("MaxPool2d(3, stride=2, padding=1)", nn.MaxPool2d(3, stride=2, padding=1), _distinct(rng, (2, 2, 7, 6)),
         False),
        ("Linear(5, 4)", nn.Linear(5, 4), rng.standard_normal((3, 5)), False),
        ("ReLU()", nn.ReLU(), _distinct(rng, (2, 3, 4, 4)), False),
        ("Flatten()", nn.Flatten(), rng.standard_normal((2, 3, 4, 4)), False),
        ("SimpleCNN()", SimpleCNN(), rng.uniform(-1, 1, (2, 1, 28, 28)), False),
    ]
    probs = rng.dirichlet(np.ones(5), size=4)
    cases += [
        ("BatchNorm2d(3), train, batch 2", *bn(nn.BatchNorm2d(3), 2 + 3 * rng.standard_normal((2, 3, 4, 5))), True),
        ("BatchNorm2d(2), train, batch 3", *bn(nn.BatchNorm2d(2), rng.standard_normal((3, 2, 3, 3))), True),
        # (N, C) with N = 2 would be no test of dx: two values per channel normalise to -1, +1 whatever x is
        ("BatchNorm1d(4), train, batch 3", *bn(nn.BatchNorm1d(4), rng.standard_normal((3, 4))), True),
        ("BatchNorm1d(2), train, (2, 2, 3)", *bn(nn.BatchNorm1d(2), rng.standard_normal((2, 2, 3))), True),
        ("BatchNorm2d(3), eval", *bn(nn.BatchNorm2d(3).eval(), rng.standard_normal((2, 3, 4, 4))), True),
        ("BatchNormReLU2d(3), train, batch 2", *bn(nn.BatchNormReLU2d(3), 2 + 3 * rng.standard_normal((2, 3, 4, 5))),
         False),
        ("LocalResponseNorm(3, alpha=0.5)", nn.LocalResponseNorm(3, alpha=0.5), rng.standard_normal((2, 5, 3, 3)),
         True),
        ("LayerNorm((3, 4)), weight and bias drawn", _drawn(nn.LayerNorm((3, 4)), rng),
         rng.standard_normal((2, 5, 3, 4)), True),
        ("LayerNorm(6, bias=False)", _drawn(nn.LayerNorm(6, bias=False), rng), rng.standard_normal((4, 6)), True),
        ("Sigmoid()", nn.Sigmoid(), 3 * rng.standard_normal((3, 7)), True),
        ("Tanh()", nn.Tanh(), 2 * rng.standard_normal((3, 7)), True),
        ("Softmax(dim=1)", nn.Softmax(dim=1), 2 * rng.standard_normal((3, 6)), True),
        ("LogSoftmax(dim=1)", nn.LogSoftmax(dim=1), 2 * rng.standard_normal((3, 6)), True),
        ("MSELoss()", _WithTarget(nn.MSELoss(), rng.standard_normal((3, 4))), rng.standard_normal((3, 4)), True),
        ("NLLLoss()", _WithTarget(nn.NLLLoss(), rng.integers(0, 5, 4)), np.log(probs), True),
        ("BCEWithLogitsLoss(pos_weight)", _WithTarget(nn.BCEWithLogitsLoss(pos_weight=rng.uniform(0.5, 2, 4)),
                                                      rng.uniform(0, 1, (3, 4))), 3 * rng.standard_normal((3, 4)),
         True),
        ("LeNet5()", LeNet5(), rng.uniform(-1, 1, (2, 1, 28, 28)), True),
        ("LeakyReLU(0.1)", nn.LeakyReLU(0.1), _distinct(rng, (2, 3, 4)), False),
        ("AvgPool2d(3, 2, 1, ceil_mode=True)", nn.AvgPool2d(3, 2, 1, ceil_mode=True), rng.standard_normal((2, 2, 6, 5)),
         False),
        ("AvgPool2d(2, count_include_pad=False, padding=1)", nn.AvgPool2d(2, padding=1, count_include_pad=False),
         rng.standard_normal((2, 2, 5, 4)), False),
        ("AdaptiveAvgPool2d((3, 2))", nn.AdaptiveAvgPool2d((3, 2)), rng.standard_normal((2, 2, 7, 5)), False),
        ("Dropout(0.5), fixed mask", _Reseeded(nn.Dropout(0.5), 1), rng.standard_normal((3, 8)), False),
        ("Dropout2d(0.5), fixed mask", _Reseeded(nn.Dropout2d(0.5), 2), rng.standard_normal((3, 4, 2, 2)), False),
        ("BasicBlock(3, 4, stride=2), train", BasicBlock(3, 4, stride=2), rng.standard_normal((2, 3, 6, 6)), False),
    ]
    # max unpooling is linear in its input, with the indices of a max pool held fixed (as a loss's target)
    _, indices = nn.MaxPool2d(2, return_indices=True)(_distinct(rng, (2, 2, 6, 6)))
    cases.append(("MaxUnpool2d(2), fixed indices", _WithTarget(nn.MaxUnpool2d(2), indices),
                  rng.standard_normal((2, 2, 3, 3)), False))
    cases += [("Hardtanh(-0.5, 0.8)", nn.Hardtanh(-0.5, 0.8), _distinct(rng, (2, 3, 4)), False),
              ("ReLU6()", nn.ReLU6(), 5 * _distinct(rng, (2, 3, 4)) + 2.5, False)]  # values in (-2.5, 7.5)
    # 4 * _distinct(.., 24 values): (k + 0.5) / 3 - 4, at least 1/6 from the kinks at -3, 0 and 3; softplus's
    # switch to linear (beta * x > threshold: x = 1.25 here) lies between two of them as well
    cases += [("Hardsigmoid()", nn.Hardsigmoid(), 4 * _distinct(rng, (2, 3, 4)), False),
              ("Hardswish()", nn.Hardswish(), 4 * _distinct(rng, (2, 3, 4)), True),
              ("SiLU()", nn.SiLU(), 3 * rng.standard_normal((3, 7)), True),
              ("GELU()", nn.GELU(), 3 * rng.standard_normal((3, 7)), True),
              ("GELU(approximate='tanh')", nn.GELU(approximate="tanh"), 3 * rng.standard_normal((3, 7)), True),
              ("ELU(0.5)", nn.ELU(0.5), 4 * _distinct(rng, (2, 3, 4)), True),
              ("Softplus(beta=2, threshold=2.5)", nn.Softplus(2, 2.5), 4 * _distinct(rng, (2, 3, 4)), True)]
    # padding is linear: each output pixel a copy of one input pixel, or the constant
    cases += [("ZeroPad2d((1, -1, 2, 0))", nn.ZeroPad2d((1, -1, 2, 0)), rng.standard_normal((2, 3, 4, 5)), False),
              ("ConstantPad2d(1, 0.5)", nn.ConstantPad2d(1, 0.5), rng.standard_normal((2, 2, 3, 3)), False),
              ("ReflectionPad2d((2, 1, 1, 2))", nn.ReflectionPad2d((2, 1, 1, 2)), rng.standard_normal((2, 2, 4, 5)),
               False),
              ("ReplicationPad2d((1, 2, 0, 3))", nn.ReplicationPad2d((1, 2, 0, 3)), rng.standard_normal((2, 2, 3, 4)),
               False)]
    cases += [("PixelShuffle(2)", nn.PixelShuffle(2), rng.standard_normal((2, 8, 3, 2)), False),
              ("PixelUnshuffle(2)", nn.PixelUnshuffle(2), rng.standard_normal((2, 2, 4, 6)), False)]
    # PReLU is linear in its weight and piecewise linear in x (the kink at 0, kept away by _distinct)
    cases += [("PReLU(3, init=0.3)", nn.PReLU(3, 0.3), _distinct(rng, (2, 3, 4)), False),
              ("PReLU()", nn.PReLU(), _distinct(rng, (3, 5)), False)]
    cases.append(("SimpleCNN(fused=True)", SimpleCNN(fused=True), rng.uniform(-1, 1, (2, 1, 28, 28)), False))
    # adaptive max pooling is piecewise linear (distinct values: no tie within h); 7 x 5 -> 3 x 4 overlaps windows
    cases.append(("AdaptiveMaxPool2d((3, 4))", nn.AdaptiveMaxPool2d((3, 4)), _distinct(rng, (2, 2, 7, 5)), False))
    # probabilities kept away from 0 and 1 (where the log is clamped), a weight broadcast along the rows
    cases.append(("BCELoss(weight)", _WithTarget(nn.BCELoss(rng.uniform(0.5, 2, 4)), rng.uniform(0, 1, (3, 4))),
                  rng.uniform(0.05, 0.95, (3, 4)), True))
    # the transposed conv is linear in its input and its weight (arguments in torch's order: in, out, kernel,
    # stride, padding, output_padding): output_padding below the stride, and at the stride but below the dilation
    cases += [("ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2)", nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2),
               rng.standard_normal((2, 4, 3, 4)), False),
              ("ConvTranspose2d(2, 3, 3, 1, 0, 1, dilation=2)",
               nn.ConvTranspose2d(2, 3, 3, 1, 0, 1, dilation=2), rng.standard_normal((2, 2, 4, 3)), False)]
    # group norm (instance norm: one channel per group) with its weight and bias drawn; instance norm in
    # evaluation normalises with drawn running statistics, which are constants there (no statistics terms)
    tracked = _drawn(nn.InstanceNorm2d(3, affine=True, track_running_stats=True), rng).eval()
    tracked.running_mean[...], tracked.running_var[...] = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    cases += [("GroupNorm(2, 6), weight and bias drawn", _drawn(nn.GroupNorm(2, 6), rng),
               rng.standard_normal((3, 6, 3, 2)), True),
              ("GroupNorm(2, 6, affine=False), (N, C)", nn.GroupNorm(2, 6, affine=False), rng.standard_normal((4, 6)),
               True),
              ("InstanceNorm2d(3, affine=True), train", _drawn(nn.InstanceNorm2d(3, affine=True), rng),
               rng.standard_normal((2, 3, 4, 3)), True),
              ("InstanceNorm2d(2), unbatched", nn.InstanceNorm2d(2), rng.standard_normal((2, 3, 3)), True),
              ("InstanceNorm2d(3, affine=True, track_running_stats=True), eval", tracked,
               rng.standard_normal((2, 3, 3, 3)), True)]
    # resizing is linear: fixed source pixels and weights; the scale factors are no integers, so every rule shows
    # (drawn after the models, so that their inputs, and the kinks the sampled entries avoid, stay as they were)
    cases += [("Upsample(scale_factor=1.7), nearest", nn.Upsample(scale_factor=1.7), rng.standard_normal((2, 2, 4, 5)),
               False),
              ("Upsample(size=(5, 3), mode='nearest-exact')", nn.Upsample((5, 3), mode="nearest-exact"),
               rng.standard_normal((2, 2, 4, 6)), False),
              ("Upsample(scale_factor=(1.5, 0.6), mode='bilinear')", nn.Upsample(scale_factor=(1.5, 0.6), mode="bilinear"),
               rng.standard_normal((2, 2, 4, 6)), False),
              ("UpsamplingBilinear2d(size=(7, 4))", nn.UpsamplingBilinear2d((7, 4)), rng.standard_normal((2, 2, 3, 5)),
               False),
              # bicubic: up one axis, down the other, so taps fall beyond both borders and are clamped onto them
              ("Upsample(scale_factor=(1.7, 0.6), mode='bicubic')",
               nn.Upsample(scale_factor=(1.7, 0.6), mode="bicubic"), rng.standard_normal((2, 2, 4, 7)), False),
              ("Upsample(size=(7, 3), mode='bicubic', align_corners=True)",
               nn.Upsample((7, 3), mode="bicubic", align_corners=True), rng.standard_normal((2, 2, 4, 5)), False)]
    # 3-D padding and crops in the copying modes (drawn last, for the same reason): reflect and replicate pad,
    # then crop (the crop reaching into the far side's padding); circular crops, then wraps what is left
    cases += [("CircularPad2d((2, -1, -1, 1))", nn.CircularPad2d((2, -1, -1, 1)), rng.standard_normal((2, 2, 4, 5)),
               False),
              ("ReplicationPad2d((3, -4, 0, 1))", nn.ReplicationPad2d((3, -4, 0, 1)), rng.standard_normal((2, 2, 3, 4)),
               False),
              ("ZeroPad3d((1, -1, 0, 2, 1, 0))", nn.ZeroPad3d((1, -1, 0, 2, 1, 0)),
               rng.standard_normal((2, 2, 3, 3, 4)), False),
              ("ConstantPad3d(1, -0.5)", nn.ConstantPad3d(1, -0.5), rng.standard_normal((2, 3, 2, 2)), False),
              ("ReflectionPad3d((2, -3, 1, 0, 1, 1))", nn.ReflectionPad3d((2, -3, 1, 0, 1, 1)),
               rng.standard_normal((1, 2, 3, 2, 4)), False),
              ("ReplicationPad3d((1, 0, 2, 1, 0, 2))", nn.ReplicationPad3d((1, 0, 2, 1, 0, 2)),
               rng.standard_normal((2, 1, 2, 3, 3)), False),
              ("CircularPad3d((1, 1, -1, 2, 1, 0))", nn.CircularPad3d((1, 1, -1, 2, 1, 0)),
               rng.standard_normal((1, 2, 2, 4, 3)), False)]
    return [(label, module.double() if hasattr(module, "double") else module, x, smooth)
            for label, module, x, smooth in cases]


def run_gradchecks(seed=0, samples=30, h=1e-6, threshold=THRESHOLD):
    """Float64 central-difference checks of every layer type, the loss and SimpleCNN.

    Seeds minicnn's initialisation generator (``manual_seed(seed)``) and draws
    inputs, upstream gradients and checked entries from ``default_rng(seed)``.

    Returns
    -------
    list of dicts, one per checked tensor: ``{"layer", "param", "error",
    "passed", "analytic", "numeric", "index"}`` (see :func:`check_module`).
    """
    from .rng import manual_seed
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    rows = []
    for label, module, x, smooth in gradcheck_cases(rng):
        rows += [{"layer": label, **row}
                 for row in check_module(module, x, rng, samples, h, skip_kinks=not smooth)]
    logits, labels = 3 * rng.standard_normal((4, 10)), rng.integers(0, 10, size=4)
    # the loss is smooth, not piecewise linear, so the kink test does not apply to it
    rows += [{"layer": "CrossEntropyLoss()", "kinks": 0, **row}
             for row in check_cross_entropy(logits, labels, rng, samples, h)]
    for row in rows:
        row["passed"] = bool(row["error"] <= threshold)  # NaN (every entry a kink) fails
    return rows


def format_table(rows, verbose=False, entries=3, threshold=THRESHOLD):
    """The rows of :func:`run_gradchecks` as a text table; ``verbose`` adds ``entries`` sampled values each."""
    width = max(len("layer"), *(len(r["layer"]) for r in rows))
    pwidth = max(13, *(len(r["param"]) for r in rows))
    lines = [f"{'layer':<{width}}  {'parameter':<{pwidth}}  {'max rel error':>13}  {'checked':>7}  {'kinks':>5}  "
             f"result", "-" * (width + pwidth + 41)]
    for r in rows:
        lines.append(f"{r['layer']:<{width}}  {r['param']:<{pwidth}}  {r['error']:>13.2e}  {len(r['index']):>7}  "
                     f"{r['kinks']:>5}  {'pass' if r['passed'] else 'FAIL'}")
        if verbose:  # the largest gradients: a zero matching a zero proves little
            shown = np.argsort(-np.abs(r["numeric"]), kind="stable")[:entries]
            for i, a, n in zip(r["index"][shown], r["analytic"][shown], r["numeric"][shown]):
                lines.append(f"{'':<{width}}    [{i:>4}] analytic {a: .10e}   numeric {n: .10e}")
    failed = sum(not r["passed"] for r in rows)
    verdict = "all passed" if not failed else f"{failed} FAILED"
    lines.append(f"{len(rows)} tensors checked in float64 (central differences, h = 1e-6), "
                 f"threshold {threshold:g}: {verdict}")
    if any(r["kinks"] for r in rows):
        lines.append("kinks: entries drawn but not checked because a ReLU or max-pool switch lies within h "
                     "of them (their one-sided slopes differ); others were drawn in their place")
    return "\n".join(lines)
