# %% [markdown]
# # The engine: build the graph, walk it once
#
# `loss.backward()` in minicnn is about fifty lines, in `minicnn/autograd/engine.py`. On the way forward
# every op (a `Function`) records a `Node` on its output: the Function, a `ctx` holding what its backward
# needs, and one *edge* per input, which is the input's own Node, the input itself when it is a leaf,
# or `None`. Backward orders those nodes topologically from the loss, walks them once, hands each
# node's backward the sum of the gradients that reached it, and adds what reaches a leaf into `.grad`.
#
# This notebook builds a small expression in which one tensor is used twice, draws its graph, walks it
# by hand with the engine's own pieces, and then breaks the one line that makes "used twice" work.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minicnn
from minicnn.autograd.engine import Node, topological_order

a = minicnn.tensor(np.array([1.5, -2.0]), requires_grad=True)
b = minicnn.tensor(np.array([0.5, 3.0]), requires_grad=True)
c = a * b            # a is used here ...
d = c + a            # ... and here
loss = (d * d).sum()  # and d twice, as both inputs of one multiplication
print(loss)
print("loss.grad_fn =", loss.grad_fn, " its edges:", loss.grad_fn.edges)

# %% [markdown]
# ## The graph
#
# `topological_order(root)` lists the nodes reachable from the loss, each before every node whose output
# it uses (a depth-first search, then reversed post-order). Arrows point the way gradients flow: from
# each node to its inputs. `a` has two arrows into it, one from the multiplication and one from the
# addition; the last multiplication has two arrows to the same node `d`.

# %%
order = topological_order(loss.grad_fn)
names = {id(a): "a", id(b): "b"}
for step, node in enumerate(order):
    inputs = [e if e is None or isinstance(e, Node) else names[id(e)] for e in node.edges]
    print(f"step {step}: {node.name():<12} inputs {inputs}")


# %%
def draw_graph(order, leaves, what, ax):
    """Nodes in topological order from top to bottom (``what``: ``{id(node): the forward it recorded}``
    beside each), the leaves (``{id(tensor): label}``) at the bottom; an arrow per edge."""
    where = {id(node): (0.0, -float(i)) for i, node in enumerate(order)}
    for k, key in enumerate(leaves):
        where[key] = (1.6 * (k - (len(leaves) - 1) / 2), -float(len(order)))
    for node in order:
        targets = [id(e) for e in node.edges if e is not None]
        for k, target in enumerate(targets):
            # two edges to the same input (d * d): bend one left and one right so that both show
            bend = 0.0 if targets.count(target) == 1 else (0.4 if target in targets[:k] else -0.4)
            ax.annotate("", xy=where[target], xytext=where[id(node)],
                        arrowprops=dict(arrowstyle="-|>", color="tab:red", shrinkA=14, shrinkB=14,
                                        connectionstyle=f"arc3,rad={bend}"))
    for node in order:
        ax.text(*where[id(node)], node.name(), ha="center", va="center", fontsize=10,
                bbox=dict(boxstyle="round", fc="lightyellow"))
        ax.text(where[id(node)][0] + 0.75, where[id(node)][1], what.get(id(node), ""), va="center", fontsize=9,
                color="dimgrey")
    for key, label in leaves.items():
        ax.text(*where[key], label, ha="center", va="center", fontsize=10, bbox=dict(boxstyle="round", fc="lightblue"))
    ax.set_xlim(-1.8, 2.4), ax.set_ylim(-len(order) - 0.6, 0.6)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(6, 4.5))
recorded = {id(loss.grad_fn): "loss = sum(d * d)", id(loss.grad_fn.edges[0]): "d * d", id(d.grad_fn): "d = c + a",
            id(c.grad_fn): "c = a * b"}
draw_graph(order, {id(a): "a (leaf)", id(b): "b (leaf)"}, recorded, ax)
ax.set_title("loss = sum((a*b + a)^2): the recorded graph", fontsize=10)
plt.show()

# %% [markdown]
# ## Walking it by hand
#
# The whole of `backward()`, without its checks: a dict of pending gradients, one pass over the order.
# Where two gradients reach the same node (or leaf), they are **added**: that is the chain rule for a
# value used twice, $\frac{\partial L}{\partial a} = \sum_{\text{uses}} \frac{\partial L}{\partial \text{use}} \cdot
# \frac{\partial \text{use}}{\partial a}$. The `combine` argument lets us break that line on purpose below.

# %%
def walk(loss, combine=np.add, trace=False):
    """Back-propagate from ``loss`` through its recorded graph; returns {id(leaf): gradient}."""
    pending = {loss.grad_fn: np.ones_like(loss.detach().numpy())}    # dL/dL = 1
    leaves = {}
    for node in topological_order(loss.grad_fn):
        grad_out = pending.pop(node)
        grads = node.function.backward(node.ctx, grad_out)            # the op's hand-written backward
        grads = grads if isinstance(grads, tuple) else (grads,)
        if trace:
            print(f"{node.name():<12} receives {np.round(grad_out, 3)}, sends", [None if g is None else np.round(g, 3) for g in grads])
        for edge, grad in zip(node.edges, grads):
            if edge is None or grad is None:
                continue
            store, key = (pending, edge) if isinstance(edge, Node) else (leaves, id(edge))
            store[key] = combine(store[key], grad) if key in store else grad
    return leaves


by_hand = walk(loss, trace=True)
print("\nby hand:   dL/da =", by_hand[id(a)], " dL/db =", by_hand[id(b)])

# %% [markdown]
# The chain rule on paper gives the same: $d = ab + a$, $L = \sum d^2$, so
# $\partial L/\partial a = 2d\,(b + 1)$ and $\partial L/\partial b = 2d\,a$. And the engine gives the same:
# `loss.backward()` runs that loop (with checks, and freeing each `ctx` after use).

# %%
d_value = a.detach().numpy() * b.detach().numpy() + a.detach().numpy()
on_paper = {"a": 2 * d_value * (b.detach().numpy() + 1), "b": 2 * d_value * a.detach().numpy()}
loss.backward()
print("on paper:  dL/da =", on_paper["a"], " dL/db =", on_paper["b"])
print("engine:    dL/da =", a.grad, " dL/db =", b.grad)
hand_vs_engine = max(np.abs(by_hand[id(a)] - a.grad).max(), np.abs(by_hand[id(b)] - b.grad).max())
paper_vs_engine = max(np.abs(on_paper["a"] - a.grad).max(), np.abs(on_paper["b"] - b.grad).max())
assert hand_vs_engine == 0 and paper_vs_engine < 1e-12

# %% [markdown]
# ## Break the sum
#
# Replace "add what arrives" by "keep the last thing that arrived" and every value used twice loses a
# path. `d` keeps only one of the two gradients of `d * d`, so everything below it gets half of what it
# should (`b`'s gradient is exactly half the right one), and `a` keeps only one of its two paths on top:
#
# %%
def keep_last(old, new):
    return new


a2 = minicnn.tensor(np.array([1.5, -2.0]), requires_grad=True)
b2 = minicnn.tensor(np.array([0.5, 3.0]), requires_grad=True)
d2 = a2 * b2 + a2
broken = walk((d2 * d2).sum(), combine=keep_last)
print("keeping the last: dL/da =", broken[id(a2)], " dL/db =", broken[id(b2)])
print("right:            dL/da =", a.grad, " dL/db =", b.grad)
broken_error = float(np.abs(broken[id(a2)] - a.grad).max())
assert broken_error > 1e-3

# %% [markdown]
# ## Gradients accumulate in `.grad`
#
# A leaf's `.grad` is *added to* by every backward, as in torch, until you clear it (an optimiser's
# `zero_grad()` does it for every parameter). A second backward through the same graph would also fail:
# the engine freed each `ctx` after use, so the saved arrays are gone. With `retain_graph=True` it keeps
# them:

# %%
x = minicnn.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
y = (x * x).sum()                                      # dy/dx = 2x
y.backward(retain_graph=True)
first = x.grad.copy()
y.backward()                                           # a second time: 2x again, added
after_two = x.grad.copy()
print("after one backward:", first, " after two:", after_two)
assert np.array_equal(after_two, 2 * first)
try:
    y.backward()                                       # the graph was freed by the last call
except RuntimeError as error:
    print("a third backward:", str(error)[:60], "...")
x.grad = None                                          # what zero_grad() does
