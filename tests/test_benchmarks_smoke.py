"""The benchmarks' own machinery on tiny sizes: what `make bench` runs must not break unnoticed.

No timing is asserted here (speed targets live in benchmarks/, never in tests); these check that the
benchmarks find what they claim to measure and measure the thing they name.
"""
import numpy as np
import pytest

from benchmarks import bench_kernels, profile_layers
from minicnn import nn
from minicnn.models import MODELS, SimpleCNN


def _conv_layers():
    """(model name, module) of every Conv2d, counted straight from the modules (not through hooks)."""
    return [(name, m) for name, build in MODELS.items()
            for m in (SimpleCNN() if name == "simplecnn" else build()).modules() if isinstance(m, nn.Conv2d)]


def test_the_conv_cases_cover_every_conv_layer_of_every_model_once():
    cases = bench_kernels.model_conv_cases(batch=2)
    layers = [layer for case in cases for layer in case.layers]
    assert len(layers) == len(set(layers)) == len(_conv_layers())
    assert {layer.split(":")[0] for layer in layers} == set(MODELS)
    # one case per distinct shape: no two cases time the same conv
    assert len({tuple(sorted(c.shape.items())) for c in cases}) == len(cases)
    # the first conv of each model gets no input gradient, as in training; every other conv does
    firsts = [c for c in cases if not c.shape["dx"]]
    assert all(c.shape["c"] == 1 and c.shape["h"] == 28 for c in firsts)
    assert sum(len(c.layers) for c in firsts) == len(MODELS)


def test_every_conv_case_computes_what_torch_computes_and_names_its_algorithm(torch):
    cases = bench_kernels.model_conv_cases(batch=2)
    for case in cases:
        assert case.build(case.rng()).check() < 1e-4, case.name
    chosen = bench_kernels.algorithms(cases)
    assert set(chosen.values()) <= {"im2col", "winograd", "direct"}
    strided = [c for c in cases if c.shape["stride"] == 2]
    assert strided and all(chosen[c.name] == "im2col" for c in strided)


def test_conv_flops_count_the_direct_sum():
    # LeNet-5's conv2: 6 -> 16 channels, 5x5, 14x14 -> 10x10, batch 64
    fwd, bwd = bench_kernels.conv_flops(dict(n=64, c=6, o=16, k=5, h=14, stride=1, padding=0))
    assert fwd == 2 * 64 * 16 * 6 * 25 * 100 and bwd == 2 * fwd
    assert bench_kernels.conv_flops(dict(n=1, c=1, o=1, k=3, h=8, stride=2, padding=1, dx=False)) == (2 * 9 * 16,) * 2


def test_a_steps_flops_count_every_conv_and_linear_of_the_model():
    # SimpleCNN, batch 64, counted by hand in bench_roofline: conv1 (no dx), conv2, fc1, fc2
    from benchmarks import bench_roofline
    assert bench_kernels.model_step_flops("simplecnn") == bench_roofline.STEP_FLOPS
    # LeNet-5 at batch 1: conv 1->6 5x5 p2 28x28 (no dx), conv 6->16 5x5 10x10, fc 400->120->84->10
    convs = 2 * 6 * 25 * 784 * 2 + 2 * 16 * 6 * 25 * 100 * 3
    fcs = sum(2 * a * b * 3 for a, b in ((400, 120), (120, 84), (84, 10)))
    assert bench_kernels.model_step_flops("lenet5", batch=1) == convs + fcs


def test_the_layer_profile_times_every_op_of_a_step_and_leaves_the_ops_as_they_were():
    from minicnn import functional as F
    before = {c: (c.__dict__.get("forward"), c.__dict__.get("backward")) for c in vars(F).values()
              if isinstance(c, type) and "forward" in dir(c)}
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 4)
    times = profile_layers.profile_minicnn(x, y, 1, "lenet5")
    # LeNet-5: two convs and three linear layers, each timed forward and backward, and the step's parts
    for name in ("Conv2d#1", "Conv2d#2", "Linear#1", "Linear#3"):
        assert times[f"{name} forward"] > 0 and times[f"{name} backward"] > 0
    assert {"SGD step", "engine", "total"} <= set(times)
    assert times["total"] >= sum(v for k, v in times.items() if k.endswith(("forward", "backward")))
    after = {c: (c.__dict__.get("forward"), c.__dict__.get("backward")) for c in before}
    assert after == before


def test_the_layer_cases_agree_with_torch_before_anything_is_timed():
    """--layers: each of the torch models' layers is cross-checked against torch (outputs and gradients) at its
    benchmark shape; a wrong kernel would stop the benchmark before any timing."""
    errors = bench_kernels.cross_check(bench_kernels.layer_cases())
    assert set(errors) == set(bench_kernels.LAYERS) and max(errors.values()) < 1e-4


@pytest.mark.parametrize("flags", [["--quick", "--models"], ["--simplecnn", "--models"], ["--layers", "--quick"]])
def test_bench_kernels_refuses_two_case_sets(flags, capsys):
    with pytest.raises(SystemExit):
        bench_kernels.main(flags)
    assert "choose one of" in capsys.readouterr().err
