"""The numbers printed in docs/backprop.md, recomputed: if a kernel changes them, the page is out of date.

The page's links are checked too: every ``[`name`](../file.py#L12)`` must land
on the line that defines ``name``, every code block shown under a
``[...](../file.py#L12-L20)`` link must be those lines verbatim, every
``tests/file.py::test_name`` must exist, and every ``(#anchor)`` must be a heading.

Also the one claim of the page that no other test states: a convolution's input
gradient is the full cross-correlation of the upstream gradient with the
180-degree-rotated kernel (stride 1), whatever the shapes.
"""
import re
import textwrap
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import minicnn
from minicnn import Tensor
from minicnn import functional as F
from minicnn import kernels as K

REPO = Path(__file__).resolve().parents[1]
PAGE = (REPO / "docs" / "backprop.md").read_text()
LINK = re.compile(r"\[([^\]]+)\]\(\.\./([^)#\s]+)(?:#L(\d+)(?:-L(\d+))?)?\)")


def _source_lines(path):
    return (REPO / path).read_text().splitlines()


def test_every_named_line_anchor_lands_on_its_definition():
    checked = 0
    for text, path, first, last in LINK.findall(PAGE):
        assert (REPO / path).exists(), f"the page links to a missing file: {path}"
        if not first or last:
            continue
        name = re.fullmatch(r"`([A-Za-z_][\w.]*)`", text)
        assert name, f"a line anchor's text must be the `name` defined there: [{text}]({path}#L{first})"
        line = _source_lines(path)[int(first) - 1]
        short = name.group(1).rsplit(".", 1)[-1]
        assert re.match(rf"\s*(def|class)\s+{short}\b|{short}\s*=", line), \
            f"{path}#L{first} is `{line.strip()}`, not the definition of {short}"
        checked += 1
    assert checked >= 60


def test_every_code_block_under_a_line_range_is_the_source_verbatim():
    blocks = re.findall(r"\]\(\.\./([^)#]+)#L(\d+)-L(\d+)\)[^\n]*\n+```python\n(.*?)```", PAGE, re.S)
    assert len(blocks) >= 6
    for path, first, last, block in blocks:
        source = textwrap.dedent("\n".join(_source_lines(path)[int(first) - 1:int(last)]))
        assert block.rstrip("\n") == source, f"the block shown for {path}#L{first}-L{last} is not the source"


def test_every_test_the_page_names_exists():
    named = set(re.findall(r"(tests/\w+\.py)`?::`?(test_\w+)", PAGE))
    assert len(named) >= 60
    for path, test in named:
        assert re.search(rf"^def {test}\(", (REPO / path).read_text(), re.M), f"{path}::{test} does not exist"


def test_the_math_uses_only_what_github_renders():
    """GitHub's math renderer mangles these; the page writes ``\\cr``, ``\\lbrace`` and plain spaces instead."""
    for bad in ("\\,", "\\;", "\\{", "\\\\", "<!-- merge"):
        assert bad not in PAGE, f"the page contains {bad!r}"


def test_every_internal_anchor_is_a_heading():
    slugs = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#{2,4} (.*)$", PAGE, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", PAGE):
        assert anchor in slugs, f"#{anchor} is no heading of the page"


def full_correlation_with_flipped_kernel(dout, weight):
    """``dx[n, c] = sum_o correlate(pad(dout[n, o], K - 1), rot180(weight[o, c]))`` by explicit loops."""
    _, _, kh, kw = weight.shape
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = weight[:, :, ::-1, ::-1]
    h, w = dout.shape[2] + kh - 1, dout.shape[3] + kw - 1
    dx = np.zeros((dout.shape[0], weight.shape[1], h, w))
    for s in range(h):
        for t in range(w):
            # (N, O, KH, KW) window against (O, C, KH, KW): sum over o, i, j
            dx[:, :, s, t] = np.tensordot(padded[:, :, s:s + kh, t:t + kw], flipped, axes=([1, 2, 3], [0, 2, 3]))
    return dx


def test_worked_conv_example():
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    out, cache = K.conv2d_forward(x, w, np.array([0.5]))
    np.testing.assert_array_equal(K.im2col(x, 2), [[1, 2, 3, 5, 6, 7, 9, 10, 11], [2, 3, 4, 6, 7, 8, 10, 11, 12],
                                                   [5, 6, 7, 9, 10, 11, 13, 14, 15],
                                                   [6, 7, 8, 10, 11, 12, 14, 15, 16]])
    np.testing.assert_array_equal(out[0, 0], [[44.5, 54.5, 64.5], [84.5, 94.5, 104.5], [124.5, 134.5, 144.5]])
    dout = np.array([[[[1.0, 0.0, -1.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]]]])
    dx, dw, db = K.conv2d_backward(dout, cache)
    expected_dx = [[1, 2, -1, -2], [5, 9, -1, -4], [6, 11, 5, 2], [0, 0, 3, 4]]
    np.testing.assert_array_equal(dx[0, 0], expected_dx)
    np.testing.assert_array_equal(full_correlation_with_flipped_kernel(dout, w)[0, 0], expected_dx)
    np.testing.assert_array_equal(dw[0, 0], [[25, 29], [41, 45]])
    np.testing.assert_array_equal(db, [4])
    dcols = w.reshape(1, 4).T @ dout.reshape(1, 9)
    assert np.sum(K.im2col(x, 2) * dcols) == np.sum(x * K.col2im(dcols, x.shape, 2)) == 386


def test_worked_pool_example():
    x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 0.0], [6.0, 0.0, 7.0]]]])
    out, cache = K.max_pool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[5, 5], [6, 7]])
    dx = K.max_pool2d_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 3, 0], [0, 0, 0], [3, 0, 4]])


def test_worked_cross_entropy_example():
    loss, dz = K.softmax_cross_entropy(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]]), np.array([0, 1]))
    assert round(loss, 4) == 1.7513
    np.testing.assert_allclose(dz, [[-0.167, 0.122, 0.045], [0.023, -0.477, 0.455]], atol=5e-4)
    np.testing.assert_allclose(dz.sum(axis=1), 0, atol=1e-15)


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 6),
       st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_conv_input_gradient_is_a_full_correlation_with_the_flipped_kernel(n, c, o, h, w, kh, kw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h + kh - 1, w + kw - 1))
    weight = rng.standard_normal((o, c, kh, kw))
    _, cache = K.conv2d_forward(x, weight)
    dout = rng.standard_normal((n, o, h, w))
    dx, _, _ = K.conv2d_backward(dout, cache)
    np.testing.assert_allclose(dx, full_correlation_with_flipped_kernel(dout, weight), rtol=1e-12, atol=1e-12)


def test_worked_batch_norm_example():
    x = np.array([1.0, 4.0, 4.0, 5.0]).reshape(2, 1, 1, 2)
    gamma, beta = np.array([2.0]), np.array([0.5])
    out, cache = K.batch_norm_forward(x, gamma, beta, None, None, True)
    assert cache.count == 4 and cache.mean[0] == 3.5 and cache.var[0] == 2.25
    assert round(float(1 / cache.invstd[0]), 4) == 1.5
    np.testing.assert_allclose(cache.xhat.ravel(), [-1.6667, 0.3333, 0.3333, 1.0], atol=5e-5)
    np.testing.assert_allclose(cache.xhat.ravel(), [-5 / 3, 1 / 3, 1 / 3, 1], atol=1e-5)  # the eps in the 6th place
    np.testing.assert_allclose(out.ravel(), [-2.8333, 1.1667, 1.1667, 2.5], atol=5e-5)
    g = np.array([1.0, 0.0, 0.0, 0.0]).reshape(x.shape)
    dx, dgamma, dbeta = K.batch_norm_backward(g, cache)
    assert dbeta[0] == 1 and round(float(dgamma[0]), 4) == -1.6667
    xhat = cache.xhat.ravel()
    assert g.mean() == 0.25 and round(float((g.ravel() * xhat).mean()), 4) == -0.4167
    assert round(float(gamma[0] * cache.invstd[0]), 4) == 1.3333
    np.testing.assert_allclose(dx.ravel(), [0.0741, -0.1481, -0.1481, 0.2222], atol=5e-5)
    np.testing.assert_allclose(dx.ravel(), [2 / 27, -4 / 27, -4 / 27, 2 / 9], atol=1e-5)
    three_terms = 2 * cache.invstd[0] * (g.ravel() - g.mean() - xhat * (g.ravel() * xhat).mean())
    np.testing.assert_allclose(dx.ravel(), three_terms, rtol=1e-12)
    np.testing.assert_allclose(K.batch_norm_backward_naive(g, cache)[0], dx, rtol=1e-12)
    assert abs(dx.sum()) < 1e-15                                 # sums to zero over the batch
    assert abs((dx.ravel() * xhat).sum()) < 1e-4                 # orthogonal to xhat, up to O(eps)
    running_mean, running_var = np.zeros(1), np.ones(1)
    F.batch_norm(x, running_mean, running_var, gamma, beta, training=True)
    np.testing.assert_allclose(running_mean, [0.35], rtol=1e-15)
    np.testing.assert_allclose(running_var, [1.2], rtol=1e-15)   # 0.9 + 0.1 * 2.25 * 4/3
    xe = Tensor(x, requires_grad=True)
    F.batch_norm(xe, running_mean, running_var, gamma, beta, training=False).backward(g)
    np.testing.assert_allclose(xe.grad.ravel(), [1.8257, 0, 0, 0], atol=5e-5)


def test_worked_avgpool_example():
    x = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 1, 4)
    for include_pad, y, divisor, dx in ((True, [1, 3, 2], [3, 3, 2], [1 / 3, 2 / 3, 1 / 3, 5 / 6]),
                                        (False, [1.5, 3, 4], [2, 3, 1], [1 / 2, 5 / 6, 1 / 3, 4 / 3])):
        out, cache = K.avg_pool2d_forward(x, (1, 3), (1, 2), (0, 1), ceil_mode=True, count_include_pad=include_pad)
        np.testing.assert_array_equal(out.ravel(), y)
        np.testing.assert_array_equal(cache[2][2].ravel(), divisor)
        np.testing.assert_allclose(K.avg_pool2d_backward(np.ones((1, 1, 1, 3)), cache).ravel(), dx, rtol=1e-15)
    np.testing.assert_array_equal(K.avgpool.avg_pool2d_windows((1, 1, 1, 4), (1, 3), (1, 2), (0, 1), True)[1],
                                  [[0, 1, 3], [2, 4, 4]])   # real columns 0..1, 1..3, 3..3 (end exclusive)


def test_engine_examples():
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    r = F.relu(x)
    (r * 3 + r * r).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 7])
    x = Tensor(np.array([-1.0, 2.0]), requires_grad=True)
    (x + F.relu(x)).sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 2])
    from minicnn.autograd.ops import unbroadcast
    np.testing.assert_array_equal(unbroadcast(np.arange(6.0).reshape(2, 3), (3,)), [3, 5, 7])
    np.testing.assert_array_equal(unbroadcast(np.arange(6.0).reshape(2, 3), (2, 1)), [[3], [12]])
    assert 288 * 12544 * 4 / 1e6 == 14.450688                   # conv2's cols at batch 64: 14 MB
    with minicnn.no_grad():
        out = F.relu(Tensor(np.ones(2), requires_grad=True))
    assert out.grad_fn is None and not out.requires_grad


def test_padding_fold_example():
    """Reflect padding (a0, a1, a2) by 2 copies a1 three times, so its gradient is the sum of three entries."""
    from minicnn.kernels import padding
    np.testing.assert_array_equal(padding.pad_nd(np.array([[[[0.0, 1.0, 2.0]]]]), (0, 0, 2, 2), "reflect").ravel(),
                                  [2, 1, 0, 1, 2, 1, 0])
    np.testing.assert_array_equal(padding.pad_nd_backward(np.ones((1, 1, 1, 7)), (0, 0, 2, 2), "reflect").ravel(),
                                  [2, 3, 2])
