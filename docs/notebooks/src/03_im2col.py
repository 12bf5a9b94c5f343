# %% [markdown]
# # Convolution as im2col, and why col2im adds
#
# A convolution slides a small kernel over the image and takes a dot product at every position.
# im2col ("image to columns") copies each window the kernel sees into one column of a matrix; then the
# whole convolution is a single matrix product, which BLAS does fast. Backward runs the copy in
# reverse, col2im, and because windows overlap, a pixel that was copied into several columns must
# receive the *sum* of their gradients. This notebook draws the column matrix, builds a convolution
# from it, and plants the classic mistake, a col2im that assigns instead of adding, to see where it
# goes wrong. The derivation is in [docs/backprop.md](../backprop.md).

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from minicnn import kernels as K
from minicnn.testing import relative_error

np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## The column matrix
#
# One 5×5 image whose pixels are numbered 1…25, and a 3×3 kernel, stride 1, no padding: 3×3 = 9
# windows. `minicnn.kernels.im2col` returns a `(C·KH·KW, N·OH·OW)` matrix: row `(c·KH + i)·KW + j` is
# kernel offset `(i, j)`, column `n·OH·OW + oh·OW + ow` is the window at `(oh, ow)`. Read a column
# top to bottom and you read one window row by row; each pixel appears in as many columns as there are
# windows covering it.

# %%
x = np.arange(1.0, 26.0).reshape(1, 1, 5, 5)           # (N, C, H, W)
cols = K.im2col(x, 3)                                  # (1*3*3, 1*3*3)
print(cols.shape)
print(cols)


# %%
def annotate(ax, a, fmt="{:.0f}", cmap="viridis", color="w", **kw):
    """A matrix as an image, with its numbers written in."""
    ax.imshow(a, cmap=cmap, **kw)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks([]), ax.set_yticks([])


fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [5, 9]})
annotate(left, x[0, 0])
window = (1, 2)                                        # the window at row 1, column 2 of the output
left.add_patch(Rectangle((window[1] - 0.5, window[0] - 0.5), 3, 3, fill=False, ec="r", lw=3))
left.set_title("the image; one 3x3 window in red")
annotate(right, cols)
column = window[0] * 3 + window[1]
right.add_patch(Rectangle((column - 0.5, -0.5), 1, 9, fill=False, ec="r", lw=3))
right.set_title("im2col: one column per window (that window in red)")
right.set_xlabel("window (oh, ow) = column oh*OW + ow")
right.set_ylabel("kernel offset (i, j) = row i*KW + j")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The convolution is one matrix product
#
# With the weight `(F, C, KH, KW)` flattened to `(F, C·KH·KW)`, `out = W @ cols + b` computes every
# filter at every window at once. Two images, two channels, three filters, and the answer is
# minicnn's convolution kernel's and PyTorch's:

# %%
rng = np.random.default_rng(0)
x = rng.standard_normal((2, 2, 6, 6))                  # N=2, C=2, 6x6
weight, bias = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
cols = K.im2col(x, 3)                                  # (2*3*3, 2*4*4) = (18, 32)
out = (weight.reshape(3, -1) @ cols + bias[:, None]).reshape(3, 2, 4, 4).transpose(1, 0, 2, 3)  # (N, F, OH, OW)

minicnn_out, _ = K.conv2d_forward(x, weight, bias)
torch_out = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(weight), torch.from_numpy(bias)).numpy()
print(f"im2col @ W vs minicnn's conv2d: {relative_error(out, minicnn_out):.1e},  vs torch: {relative_error(out, torch_out):.1e}")
assert relative_error(out, torch_out) < 1e-12

# %% [markdown]
# ## col2im: the copy in reverse, adding
#
# Backward of a product is two products: `dW = dout @ cols.T`, and `dcols = W.T @ dout`, the gradient
# of every entry of the column matrix. Each entry of `cols` is a copy of one pixel, so each pixel's
# gradient is the sum of the gradients of all its copies. That is col2im: walk the kernel offsets,
# and *add* each one's columns back onto the pixels they came from. Here it is in numpy, with the
# mistake beside it as a switch:

# %%
def col2im(cols, x_shape, k, stride=1, add=True):
    """Fold (C*k*k, N*OH*OW) columns back onto an (N, C, H, W) image (no padding); add=False plants the bug."""
    n, c, h, w = x_shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    dx = np.zeros(x_shape)
    per_offset = cols.reshape(c, k, k, n, oh, ow)
    for i in range(k):
        for j in range(k):
            # the pixels that kernel offset (i, j) read, in every window: a strided slice of the image
            rows, columns = slice(i, i + stride * (oh - 1) + 1, stride), slice(j, j + stride * (ow - 1) + 1, stride)
            if add:
                dx[:, :, rows, columns] += per_offset[:, i, j].transpose(1, 0, 2, 3)
            else:
                dx[:, :, rows, columns] = per_offset[:, i, j].transpose(1, 0, 2, 3)   # the bug: last write wins
    return dx


dcols = rng.standard_normal(cols.shape)
print(f"ours (adding) vs minicnn.kernels.col2im: {relative_error(col2im(dcols, x.shape, 3), K.col2im(dcols, x.shape, 3)):.1e}")
assert relative_error(col2im(dcols, x.shape, 3), K.col2im(dcols, x.shape, 3)) < 1e-15

# %% [markdown]
# col2im is the *adjoint* of im2col: for any image $x$ and any column matrix $c$,
# $\langle \operatorname{im2col}(x), c\rangle = \langle x, \operatorname{col2im}(c)\rangle$. That one
# identity is what makes it the right backward, and it fails for the assigning version:

# %%
def adjoint_gap(add):
    lhs = np.sum(K.im2col(x, 3) * dcols)
    rhs = np.sum(x * col2im(dcols, x.shape, 3, add=add))
    return abs(lhs - rhs) / abs(lhs)


gap_add, gap_assign = adjoint_gap(add=True), adjoint_gap(add=False)
print(f"<im2col(x), c> vs <x, col2im(c)>: adding {gap_add:.1e}, assigning {gap_assign:.2f}")
assert gap_add < 1e-12 and gap_assign > 1e-3

# %% [markdown]
# ## Where the assigning col2im goes wrong
#
# Put both versions into a convolution's backward and compare the input gradient with PyTorch's. With
# a 3×3 kernel and stride 2 on a 7×7 image the windows overlap only on rows and columns 2 and 4, so the
# two versions agree everywhere else. `col2im(ones)` counts how many windows cover each pixel: the error
# map is nonzero exactly where that count is above 1.

# %%
x = rng.standard_normal((2, 2, 7, 7))
weight = rng.standard_normal((3, 2, 3, 3))
dout = rng.standard_normal((2, 3, 3, 3))               # the gradient arriving at the output (N, F, 3, 3)
dout2 = dout.transpose(1, 0, 2, 3).reshape(3, -1)      # (F, N*OH*OW), the layout of W @ cols
dcols = weight.reshape(3, -1).T @ dout2                # (C*3*3, N*OH*OW)
dx_add = col2im(dcols, x.shape, 3, stride=2)
dx_assign = col2im(dcols, x.shape, 3, stride=2, add=False)

xt = torch.from_numpy(x).requires_grad_()
torch.nn.functional.conv2d(xt, torch.from_numpy(weight), stride=2).backward(torch.from_numpy(dout))
dx_torch = xt.grad.numpy()
_, cache = K.conv2d_forward(x, weight, None, 2)
dx_minicnn = K.conv2d_backward(dout, cache)[0]

coverage = col2im(K.im2col(np.ones_like(x), 3, 2), x.shape, 3, stride=2)    # windows covering each pixel
error_add, error_assign = np.abs(dx_add - dx_torch), np.abs(dx_assign - dx_torch)
print(f"dx, relative to torch's: adding {relative_error(dx_add, dx_torch):.1e}, assigning "
      f"{relative_error(dx_assign, dx_torch):.2f}, minicnn's conv2d_backward {relative_error(dx_minicnn, dx_torch):.1e}")
overlap = coverage > 1
print(f"assigning: worst error where one window covers the pixel {error_assign[~overlap].max():.1e}, "
      f"smallest where several do {error_assign[overlap].min():.2e}")
assert relative_error(dx_add, dx_torch) < 1e-12 and relative_error(dx_minicnn, dx_torch) < 1e-12
assert error_assign[~overlap].max() < 1e-12 and error_assign[overlap].min() > 0

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
annotate(axes[0], coverage[0, 0], cmap="Blues", color="k", vmin=0, vmax=6)
axes[0].set_title("windows covering each pixel\n(3x3 kernel, stride 2)")
for ax, err, name in ((axes[1], error_assign, "assigning"), (axes[2], error_add, "adding")):
    image = ax.imshow(err[0, 0], cmap="Reds", vmin=0, vmax=error_assign[0, 0].max())
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(f"col2im {name}: |dx - torch's dx|\n(image 0, channel 0)")
fig.colorbar(image, ax=axes[1:], shrink=0.8)
plt.show()

# %% [markdown]
# The assigning version keeps only the last window's contribution at every overlapping pixel, so its
# error there is the sum of the contributions it overwrote. With stride 1 almost every pixel is covered
# by several windows, and the gradient is wrong nearly everywhere; a test on a 1×1 kernel or a stride
# equal to the kernel (no overlap) would never see it. minicnn's test suite plants exactly this mistake
# (`make mutants`) and checks that a test fails.
