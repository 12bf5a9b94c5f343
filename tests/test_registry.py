"""The op registry is the one list of ops, and every op in it has everything the recipe asks for.

``minicnn.kernels.REGISTRY`` (torch's functional name -> fast pair and naive twins) is where an op is
declared.  Adding a name there without the rest of the recipe (docs/contributing.md) fails here, naming
what is missing: the functional op and its Function, a layer that the gradient check runs, a row of the
fuzz, a kernel-vs-naive test, an agreement test against torch, and planted mutants with tests mapped to
them.
"""
import re
from pathlib import Path

import numpy as np
import pytest

import minicnn
from minicnn import functional as F
from minicnn import kernels as K
from minicnn.gradcheck import gradcheck_cases

TESTS = Path(__file__).resolve().parent
OPS = sorted(K.REGISTRY)
# minicnn's fused ops have no torch counterpart: their agreement tests compare with torch's composition
TORCH_COMPOSITION = {"batch_norm_relu": ("batch_norm", "relu"), "conv2d_relu_max_pool2d": ("conv2d", "relu", "max_pool2d")}
FUSED_LAYER = {"batch_norm_relu": "BatchNormReLU2d", "conv2d_relu_max_pool2d": "Conv2dReLUMaxPool2d"}
# ops whose comparison with torch is another test than a call of torch's op, and why
STANDS_IN = {"dropout": ("test_dropout_is_torch_formula_with_minicnn_mask",
                         "the two libraries draw different masks: torch's formula is applied to minicnn's mask")}
# ops with a Function of their own instead of a KernelFunction (their forward or backward does more)
HAND_WRITTEN = {"cross_entropy": "CrossEntropyFunction"}
# kernels named after the ATen op a torch functional dispatches to, where no functional name names the one
# computation (kernels/upsample.py): kernel -> (the functional op that calls it, the mode string that selects it)
DISPATCHED = {"upsample_nearest2d": ("interpolate", "nearest"),
              "upsample_nearest_exact2d": ("interpolate", "nearest-exact"),
              "upsample_bilinear2d": ("interpolate", "bilinear"),
              "upsample_bicubic2d": ("interpolate", "bicubic")}


def test_the_registry_is_every_kernel_pair_and_nothing_else():
    assert len(OPS) >= 20
    for name, kernel in K.REGISTRY.items():
        assert isinstance(kernel, K.Kernel)
        for way in ("forward", "backward", "forward_naive", "backward_naive"):
            fn = getattr(kernel, way)
            assert callable(fn), f"{name}.{way}"
            assert getattr(K, f"{name}_{way}") is fn, f"kernels.{name}_{way} is not the registry's"
        assert kernel.forward is not kernel.forward_naive, f"{name}: the naive twin is the fast kernel itself"
    for impl in K.IMPLEMENTATIONS.values():
        assert {n.rsplit("_", 1)[0] for n in vars(impl) if n != "softmax_cross_entropy"} == set(OPS)


def what_is_missing(name):
    """What of the recipe op ``name`` lacks, one message per part (empty: nothing)."""
    import mutants
    import test_fuzz
    missing = []
    functional, mode = DISPATCHED.get(name, (name, None))
    if not callable(getattr(F, functional, None)):
        missing.append(f"minicnn.functional.{functional}: missing (the op's torch-signature wrapper)")
    if name in HAND_WRITTEN:
        if not issubclass(getattr(F, HAND_WRITTEN[name]), minicnn.autograd.Function):
            missing.append(f"minicnn.functional.{HAND_WRITTEN[name]}: not a Function")
    elif len([c for c in vars(F).values()
              if isinstance(c, type) and issubclass(c, F.KernelFunction) and c.kernel == name]) != 1:
        missing.append(f"minicnn/functional.py: expected one KernelFunction with kernel = {name!r}")
    if functional not in test_fuzz.FUNCTIONS:
        missing.append(f"tests/test_fuzz.py: no FUNCTIONS row for {functional}")
    kernels_text = (TESTS / "test_kernels.py").read_text()
    if not any(u in kernels_text for u in (f"K.{name}_forward_naive", f"K.{name}_backward_naive", f'"{name}"')):
        missing.append(f"tests/test_kernels.py never runs {name}'s naive twin")
    agreement = (TESTS / "test_agreement.py").read_text()
    if name in STANDS_IN:
        if not re.search(rf"^def {STANDS_IN[name][0]}\(", agreement, re.M):
            missing.append(f"tests/test_agreement.py: no {STANDS_IN[name][0]}")
    else:
        for torch_name in TORCH_COMPOSITION.get(name, (functional,)):
            if not re.search(rf"\b(F|torch)\.{torch_name}\b", agreement):
                missing.append(f"tests/test_agreement.py never uses torch's {torch_name} (for {name})")
        if mode is not None and f'"{mode}"' not in agreement:
            missing.append(f"tests/test_agreement.py never names mode {mode!r} (for {name})")
        if name in FUSED_LAYER and f"nn.{FUSED_LAYER[name]}" not in agreement:
            missing.append(f"tests/test_agreement.py never compares {FUSED_LAYER[name]} with torch")
    if not mutants.TESTS.get(name):
        missing.append(f"tests/mutants.py: TESTS has no tests for {name}")
    if name not in {m.op for m in mutants.build()}:
        missing.append(f"tests/mutants.py plants no mistake in {name}'s backward")
    return missing


@pytest.mark.parametrize("name", OPS)
def test_every_op_has_every_part_of_the_recipe(name):
    assert what_is_missing(name) == []


def test_an_op_without_the_rest_is_caught():
    """A name nothing implements misses every part (the check is not vacuous)."""
    missing = what_is_missing("hardshrink")
    assert len(missing) == 7, missing


def _kernels_run_by(fn):
    """The registry names whose kernels run (forward, then backward) when ``fn()`` returns a loss."""
    seen = []
    original = F._kernel_call

    def recording(ctx, name, *args):
        seen.append(name)
        return original(ctx, name, *args)

    F._kernel_call = recording
    try:
        out = fn()
        if out.requires_grad:
            out.sum().backward() if out.ndim else out.backward()
    finally:
        F._kernel_call = original
    return set(seen)


def test_the_gradient_check_runs_every_op():
    minicnn.manual_seed(0)
    rng = np.random.default_rng(0)
    run = set()
    for label, module, x, _ in gradcheck_cases(rng):
        tensor = minicnn.Tensor(x, requires_grad=True)
        run |= _kernels_run_by(lambda: module(tensor))
    # cross-entropy is checked on its own (minicnn.gradcheck.check_cross_entropy), not as a module case
    missing = set(OPS) - run - {"cross_entropy"}
    assert not missing, f"no case of minicnn/gradcheck.py's gradcheck_cases runs {sorted(missing)}"
