# %% [markdown]
# # Backprop by hand through a tiny network
#
# Two samples of three numbers each go through a linear layer, a ReLU, a second linear layer and
# softmax cross-entropy:
#
# $$z_1 = x W_1^\top + b_1,\quad h = \max(z_1, 0),\quad z_2 = h W_2^\top + b_2,\quad
# L = -\frac{1}{N}\sum_n \log \operatorname{softmax}(z_2)_{n, y_n}$$
#
# We compute the forward pass in numpy, then every gradient by the chain rule, one layer at a time
# from the loss back to the input, and hold each one to minicnn's engine (`loss.backward()`), to
# PyTorch's autograd and to central differences. Every step is derived in
# [docs/backprop.md](../backprop.md). Everything is float64, so "equal" means equal to about 1e-16.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

import minicnn
import minicnn.functional as F
from minicnn.gradcheck import numeric_gradient
from minicnn.testing import relative_error

np.set_printoptions(precision=4, suppress=True)
rng = np.random.default_rng(0)
N = 2
x = rng.standard_normal((N, 3))                         # 2 samples, 3 features each
y = np.array([2, 0])                                    # their classes, out of 3
W1, b1 = rng.standard_normal((4, 3)), 0.1 * rng.standard_normal(4)   # Linear(3, 4): weight (out, in)
W2, b2 = rng.standard_normal((3, 4)), 0.1 * rng.standard_normal(3)   # Linear(4, 3)

# %% [markdown]
# ## Forward
#
# Each line is one layer. Softmax subtracts each row's largest logit first (log-sum-exp): the
# probabilities are the same, and `exp` cannot overflow.

# %%
z1 = x @ W1.T + b1                                      # (2, 4) pre-activations
h = np.maximum(z1, 0)                                   # (2, 4) ReLU
z2 = h @ W2.T + b2                                      # (2, 3) logits
e = np.exp(z2 - z2.max(axis=1, keepdims=True))
p = e / e.sum(axis=1, keepdims=True)                    # (2, 3) softmax probabilities
loss = -np.log(p[np.arange(N), y]).mean()
print("z1 =\n", z1, "\nlogits =\n", z2, "\np =\n", p, f"\nloss = {loss:.6f}")
print("hidden units switched off by the ReLU (z1 <= 0):", int((z1 <= 0).sum()), "of", z1.size)

# %% [markdown]
# ## Backward, by the chain rule
#
# Start from $\partial L / \partial L = 1$ and go back one layer at a time; each layer turns the gradient
# of its output into the gradients of its inputs and parameters:
#
# - softmax cross-entropy: $\partial L / \partial z_2 = (p - \text{onehot}(y)) / N$;
# - linear $z = h W^\top + b$: $\partial L/\partial W = (\partial L/\partial z)^\top h$,
#   $\partial L/\partial b = \sum_n \partial L/\partial z_n$, $\partial L/\partial h = (\partial L/\partial z)\, W$;
# - ReLU: the gradient passes where $z_1 > 0$ and stops where it is not.

# %%
onehot = np.eye(3)[y]
dz2 = (p - onehot) / N                                  # (2, 3)
dW2 = dz2.T @ h                                         # (3, 4), the shape of W2
db2 = dz2.sum(axis=0)                                   # (3,)
dh = dz2 @ W2                                           # (2, 4)
dz1 = dh * (z1 > 0)                                     # (2, 4) the ReLU's mask
dW1 = dz1.T @ x                                         # (4, 3)
db1 = dz1.sum(axis=0)                                   # (4,)
dx = dz1 @ W1                                           # (2, 3)
hand = {"x": dx, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
print("dL/dW1 =\n", dW1)

# %% [markdown]
# A picture of the last three steps: the gradient arriving at the hidden layer, the ReLU's mask, and
# what gets through. A unit the ReLU switched off for a sample passes no gradient back for that sample,
# so its row of $\partial L/\partial W_1$ gets nothing from it.

# %%
def show(ax, a, title, fmt="{:.2f}"):
    """A small matrix as a heat map (blue negative, red positive), with its numbers written in."""
    limit = max(np.abs(a).max(), 1e-12)
    ax.imshow(a, cmap="RdBu_r", vmin=-1.6 * limit, vmax=1.6 * limit)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([]), ax.set_yticks([])


fig, axes = plt.subplots(1, 4, figsize=(13, 2.6))
show(axes[0], dh, "dL/dh  (2 samples x 4 units)")
show(axes[1], (z1 > 0).astype(float), "ReLU mask: z1 > 0", fmt="{:.0f}")
show(axes[2], dz1, "dL/dz1 = dL/dh * mask")
show(axes[3], dW1, "dL/dW1 = dz1.T @ x  (4 x 3)")
plt.tight_layout()
plt.show()

# %% [markdown]
# And the loss's own gradient, $p - y$: each sample pushes its true class's logit up by $1 - p$ and
# every other logit down by its probability.

# %%
fig, axes = plt.subplots(1, N, figsize=(9, 2.6), sharey=True)
for n, ax in enumerate(axes):
    ax.bar(np.arange(3) - 0.2, p[n], width=0.4, label="softmax p")
    ax.bar(np.arange(3) + 0.2, onehot[n], width=0.4, label="onehot(y)")
    ax.plot(np.arange(3), N * dz2[n], "k_", markersize=30, mew=2, label="p - onehot")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xticks(range(3)), ax.set_title(f"sample {n}, class {y[n]}")
axes[0].legend(fontsize=8, loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The same gradients from minicnn's engine and from PyTorch
#
# The same network with leaf tensors: the ops record the graph, `loss.backward()` walks it in reverse
# and calls each op's hand-written backward kernel; PyTorch's autograd does the same with its own
# formulas.

# %%
values = {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2}
ours = {name: minicnn.tensor(v, requires_grad=True) for name, v in values.items()}
out = F.linear(F.relu(F.linear(ours["x"], ours["W1"], ours["b1"])), ours["W2"], ours["b2"])
loss_engine = F.cross_entropy(out, y)
loss_engine.backward()

theirs = {name: torch.tensor(v, requires_grad=True) for name, v in values.items()}
out_t = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(theirs["x"], theirs["W1"], theirs["b1"])),
                                   theirs["W2"], theirs["b2"])
loss_torch = torch.nn.functional.cross_entropy(out_t, torch.from_numpy(y))
loss_torch.backward()

print(f"loss: by hand {loss:.15f}, minicnn {loss_engine.item():.15f}, torch {loss_torch.item():.15f}")
print(f"{'gradient':>9}  {'vs minicnn':>10}  {'vs torch':>10}   (relative error)")
errors_engine, errors_torch = {}, {}
for name in hand:
    errors_engine[name] = relative_error(hand[name], ours[name].grad)
    errors_torch[name] = relative_error(hand[name], theirs[name].grad.numpy())
    print(f"{'d' + name:>9}  {errors_engine[name]:10.1e}  {errors_torch[name]:10.1e}")
worst_engine, worst_torch = max(errors_engine.values()), max(errors_torch.values())
assert worst_engine < 1e-12 and worst_torch < 1e-12

# %% [markdown]
# ## And against central differences
#
# No formula at all: nudge each number by $\pm h$ and watch the loss,
# $\partial L/\partial\theta_i \approx (L(\theta + h e_i) - L(\theta - h e_i)) / 2h$.
# `minicnn.gradcheck.numeric_gradient` does it for any array the loss reads, here every entry of each.
# Its error is about $h^2$ plus round-off $\varepsilon / h$, near 1e-10 for $h = 10^{-6}$: it checks a
# formula to about 8 digits, where the comparison above checks it to 16.

# %%
def loss_of_values():
    z = np.maximum(values["x"] @ values["W1"].T + values["b1"], 0) @ values["W2"].T + values["b2"]
    z = z - z.max(axis=1, keepdims=True)
    return float(-(z[np.arange(N), y] - np.log(np.exp(z).sum(axis=1))).mean())


errors_numeric = {}
for name, array in values.items():
    numeric = numeric_gradient(loss_of_values, array, np.arange(array.size)).reshape(array.shape)
    errors_numeric[name] = relative_error(hand[name], numeric)
print({name: f"{err:.1e}" for name, err in errors_numeric.items()})
worst_numeric = max(errors_numeric.values())
assert worst_numeric < 1e-7

# %% [markdown]
# A wrong gradient does not pass. Forget the ReLU's mask, the classic mistake, and $\partial L/\partial W_1$
# is wrong exactly in the rows of the switched-off units:

# %%
dW1_no_mask = (dh.T @ x)                                # dz1 without "* (z1 > 0)"
wrong_rows = np.flatnonzero(np.abs(dW1_no_mask - ours["W1"].grad).max(axis=1) > 1e-12)
print("relative error of dW1 without the mask:", f"{relative_error(dW1_no_mask, ours['W1'].grad):.2f}")
print("wrong rows:", wrong_rows, "  units switched off for some sample:", np.flatnonzero((z1 <= 0).any(axis=0)))
assert relative_error(dW1_no_mask, ours["W1"].grad) > 1e-3
