"""Lazy layers as torch's: the input size from the first batch, the same Parameter objects, then the real layer."""
import numpy as np
import pytest

import minicnn
from minicnn import nn

torch = pytest.importorskip("torch")


def d2l_lenet(lib):
    """d2l.ai's LeNet, every layer lazy (with a batch norm), in either library."""
    return lib.Sequential(lib.LazyConv2d(6, kernel_size=5, padding=2), lib.Sigmoid(), lib.AvgPool2d(2, 2),
                          lib.LazyConv2d(16, kernel_size=5), lib.LazyBatchNorm2d(), lib.Sigmoid(), lib.AvgPool2d(2, 2),
                          lib.Flatten(), lib.LazyLinear(120), lib.Sigmoid(), lib.LazyLinear(84), lib.Sigmoid(),
                          lib.LazyLinear(10))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_lazy_lenet_becomes_torchs_and_computes_what_it_computes(dtype):
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(dtype)
    ours, theirs = d2l_lenet(nn), d2l_lenet(torch.nn)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    before = list(ours.parameters())
    assert len(before) == 12 and all(isinstance(p, nn.UninitializedParameter) for p in before)
    opt = minicnn.optim.SGD(ours.parameters(), lr=0.1)          # made before the first forward, as d2l does
    ours(minicnn.tensor(x))
    theirs(torch.from_numpy(x))
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert [m.in_channels for m in (ours[0], ours[3])] == [1, 6] and ours[8].in_features == 16 * 5 * 5
    assert ours[4].num_features == 16 and list(ours.state_dict()) == list(theirs.state_dict())
    after = list(ours.parameters())
    assert all(a is b and type(a) is nn.Parameter and a.dtype == dtype for a, b in zip(after, before))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    out = ours(minicnn.tensor(x))
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    assert np.abs(out.array - expected).max() <= (1e-12 if dtype == np.float64 else 1e-5) * np.abs(expected).max()
    w = ours[0].weight.array.copy()
    minicnn.nn.functional.cross_entropy(out, np.array([1, 2])).backward()
    opt.step()                                                 # the optimiser holds the materialised parameters
    assert not np.array_equal(ours[0].weight.array, w)


def test_without_bias_or_affine_and_unbatched():
    conv, linear, bn = nn.LazyConv2d(3, 3, bias=False), nn.LazyLinear(4, bias=False), nn.LazyBatchNorm2d(affine=False)
    assert conv.bias is None and linear.bias is None and bn.weight is None and len(list(bn.parameters())) == 0
    assert conv(minicnn.zeros(2, 5, 5)).shape == (3, 3, 3) and conv.in_channels == 2 and conv.bias is None
    assert linear(minicnn.zeros(7, 6)).shape == (7, 4) and linear.weight.shape == (4, 6)
    assert bn(minicnn.ones(2, 3, 2, 2)).shape == (2, 3, 2, 2) and bn.running_mean.shape == (3,)
    assert type(conv) is nn.Conv2d and type(linear) is nn.Linear and type(bn) is nn.BatchNorm2d
    for layer, args in (("LazyLinear", (5,)), ("LazyConv2d", (4, 3)), ("LazyBatchNorm2d", ())):
        assert repr(getattr(nn, layer)(*args)) == repr(getattr(torch.nn, layer)(*args))   # torch's, with 0
    assert repr(nn.LazyConv2d(4, 3, groups=2, padding=1, bias=False)) == \
        repr(torch.nn.LazyConv2d(4, 3, groups=2, padding=1, bias=False))
    assert repr(nn.LazyBatchNorm2d(affine=False, momentum=None)) == \
        repr(torch.nn.LazyBatchNorm2d(affine=False, momentum=None))


@pytest.mark.parametrize("layer, x, match", [
    (lambda: nn.LazyConv2d(3, 3), minicnn.zeros(4, 4), r"LazyConv2d: expected a \(N, C, H, W\) or \(C, H, W\) input, "
                                                       r"got shape \(4, 4\)"),
    (lambda: nn.LazyBatchNorm2d(), minicnn.zeros(2, 3), r"LazyBatchNorm2d: expected a \(N, C, H, W\) input"),
    (lambda: nn.LazyLinear(3), minicnn.tensor(1.0), r"LazyLinear: expected an input with a feature dim, got shape \(\)"),
])
def test_an_input_it_cannot_size_from_is_refused(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer()(x)
