# %% [markdown]
# # Gradient-checking a layer of your own
#
# A new layer is a `Function` with a forward and a hand-written backward, inside a `Module`. Before it
# goes into a network, hold it to two things that know nothing of your formulas: central differences
# (`minicnn.testing.assert_gradcheck`) and PyTorch (`minicnn.testing.compare_with_torch`). Then plant
# a mistake and watch both checks fail, naming the tensor that is wrong. (docs/testing.md has the same
# tools as a reference page.)
#
# The layer: Swish with a learnable slope per channel, $y = x \cdot \sigma(\beta_c x)$, on NCHW input.
# Its derivatives, with $s = \sigma(\beta x)$ and $\sigma' = s(1 - s)$:
#
# $$\frac{\partial y}{\partial x} = s + \beta x\, s(1-s), \qquad
# \frac{\partial L}{\partial \beta_c} = \sum_{n,h,w} \frac{\partial L}{\partial y}\, x^2\, s(1-s).$$

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from minicnn import nn
from minicnn.autograd import Function, as_tensor
from minicnn.gradcheck import check_module
from minicnn.testing import assert_gradcheck, compare_with_torch


class SwishFunction(Function):
    """y = x * sigmoid(beta_c * x); x (N, C, H, W), beta (C,)."""

    @staticmethod
    def forward(ctx, x, beta):
        b = beta.reshape(1, -1, 1, 1)
        s = 1 / (1 + np.exp(-b * x))
        ctx.save_for_backward(x, b, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_out):
        x, b, s = ctx.saved_tensors
        ds = s * (1 - s)
        dx = grad_out * (s + b * x * ds)                           # the product rule: both terms
        dbeta = (grad_out * x * x * ds).sum(axis=(0, 2, 3))         # summed over every position of channel c
        return dx, dbeta


class Swish(nn.Module):
    def __init__(self, channels, function=SwishFunction):
        super().__init__()
        self.beta = nn.Parameter(np.linspace(0.5, 2.0, channels))   # float64, one slope per channel
        self.function = function

    def forward(self, x):
        return self.function.apply(as_tensor(x, "swish input"), self.beta)


x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))          # float64: differences in float32 are noise

# %% [markdown]
# ## Central differences
#
# `assert_gradcheck(module, x)` draws an upstream gradient $g$, takes $L = \sum \text{module}(x) \cdot g$,
# nudges sampled entries of every parameter and of the input by $\pm 10^{-6}$, and compares
# $(L(\theta+h) - L(\theta-h)) / 2h$ with the gradient your backward returned. It returns one row per
# tensor and raises if any relative error is over 1e-6.

# %%
rows = assert_gradcheck(Swish(3), x)
for row in rows:
    print(f"{row['param']:>6}: relative error {row['error']:.1e} over {len(row['index'])} sampled entries")
assert all(row["error"] < 1e-7 for row in rows)

# %% [markdown]
# ## Against PyTorch
#
# `compare_with_torch(module, torch_fn, x, rng)` runs both, then checks the output's shape, dtype and
# values and every gradient for an upstream gradient drawn from `rng` (its own stream, never the
# input's). The parameters reach `torch_fn` by the last part of their names, here `beta`.

# %%
def torch_swish(x, beta):
    return x * torch.sigmoid(beta.view(1, -1, 1, 1) * x)


errors = compare_with_torch(Swish(3), torch_swish, x, np.random.default_rng([0, 1]))
print({name: f"{err:.1e}" for name, err in errors.items()})
assert max(errors.values()) < 1e-12

# %% [markdown]
# ## Plant a mistake
#
# Two classic ones: forgetting the second term of the product rule in `dx`, and a parameter gradient
# summed over the first image only instead of the whole batch. Each is a subclass that replaces
# `backward`:

# %%
class NoProductRule(SwishFunction):
    @staticmethod
    def backward(ctx, grad_out):
        x, b, s = ctx.saved_tensors
        ds = s * (1 - s)
        return grad_out * s, (grad_out * x * x * ds).sum(axis=(0, 2, 3))   # dx: s only


class FirstImageOnly(SwishFunction):
    @staticmethod
    def backward(ctx, grad_out):
        x, b, s = ctx.saved_tensors
        ds = s * (1 - s)
        return grad_out * (s + b * x * ds), (grad_out * x * x * ds)[0].sum(axis=(1, 2))   # dbeta: image 0


caught = {}
for bug in (NoProductRule, FirstImageOnly):
    try:
        assert_gradcheck(Swish(3, bug), x)
    except AssertionError as error:
        caught[bug.__name__] = str(error)
        print(f"{bug.__name__:>15}, central differences: {error}")
    try:
        compare_with_torch(Swish(3, bug), torch_swish, x, np.random.default_rng([0, 1]))
    except AssertionError as error:
        print(f"{bug.__name__:>15}, against torch:       {error}")
assert set(caught) == {"NoProductRule", "FirstImageOnly"}
assert "input" in caught["NoProductRule"] and "beta" not in caught["NoProductRule"]
assert "beta" in caught["FirstImageOnly"] and "input" not in caught["FirstImageOnly"]

# %% [markdown]
# Each check names the tensor that is wrong and leaves the right one alone. A picture of the same:
# every sampled entry's analytic gradient against its central difference. A right backward puts every
# point on the diagonal.

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, function in zip(axes, (SwishFunction, NoProductRule, FirstImageOnly)):
    for row in check_module(Swish(3, function), x, np.random.default_rng(0)):
        ax.scatter(row["numeric"], row["analytic"], s=14, label=f"{row['param']} ({row['error']:.0e})")
    limits = ax.get_xlim()
    ax.plot(limits, limits, color="grey", lw=0.8)
    ax.set_title(function.__name__), ax.set_xlabel("central difference"), ax.legend(fontsize=8)
axes[0].set_ylabel("your backward")
plt.tight_layout()
plt.show()

# %% [markdown]
# And along one line: $\partial y / \partial x$ of one channel ($\beta = 2$) for $x$ from −4 to 4, the
# right formula, the one without the product rule, and the central difference of the forward alone.

# %%
line = np.linspace(-4, 4, 161).reshape(1, 1, 1, -1)
layer = Swish(1)
layer.beta = nn.Parameter(np.array([2.0]))


def y_of(values):
    return layer(values).detach().numpy()


h = 1e-6
numeric = (y_of(line + h) - y_of(line - h)) / (2 * h)
s = 1 / (1 + np.exp(-2.0 * line))
plt.figure(figsize=(6, 3.4))
plt.plot(line.ravel(), numeric.ravel(), lw=6, alpha=0.3, label="central difference")
plt.plot(line.ravel(), (s + 2.0 * line * s * (1 - s)).ravel(), label="s + beta x s(1 - s)")
plt.plot(line.ravel(), s.ravel(), "--", label="s alone (the planted bug)")
plt.xlabel("x"), plt.ylabel("dy/dx"), plt.legend(fontsize=8)
plt.show()
