"""The check of the engine exercise: ``topological_order(root)`` and ``accumulate(tensor, grad, owned)``.

The grader runs its own short backward loop (:func:`walk`, the loop of ``minicnn/autograd/engine.py``) on the
learner's two functions: on graphs built from minicnn's ops (shared subexpressions, fan-out, a 3000-node
chain), and on hypothesis-drawn expressions whose gradients it compares with torch's autograd.  A wrong
order is recognised by its shape (leaf-first, duplicates, missing nodes, breadth-first, recursion).
"""
import numpy as np

from .grading import RTOL, Failure, compare, drawn

DEEP = 3000


def _node_class():
    from ..autograd.engine import Node
    return Node


def reachable(root):
    """Every Node reachable from ``root``, breadth first (the grader's own walk, for comparisons)."""
    Node = _node_class()
    seen, queue, k = [root], [root], 0
    while k < len(queue):
        for edge in queue[k].edges:
            if isinstance(edge, Node) and edge not in seen:
                seen.append(edge)
                queue.append(edge)
        k += 1
    return seen


def check_order(order, root, what="topological_order"):
    """Refuse anything but a topological order of every Node reachable from ``root``, naming what is off."""
    Node = _node_class()
    try:
        order = list(order)
    except TypeError:
        raise Failure(f"{what} must return a list of Nodes, got {type(order).__name__}") from None
    bad = [(k, item) for k, item in enumerate(order) if not isinstance(item, Node)]
    if bad:
        k, item = bad[0]
        raise Failure(f"{what}: position {k} holds {type(item).__name__ if item is not None else 'None'}: only "
                      f"Nodes go into the order (leaves and None edges are not nodes to process)", tensor="order")
    counts = {}
    for node in order:
        counts[node] = counts.get(node, 0) + 1
    twice = [node for node, n in counts.items() if n > 1]
    if twice:
        raise Failure(f"{what}: {twice[0].name()} appears {counts[twice[0]]} times: a node used by several others "
                      f"must still be processed once (mark the nodes you have visited)", tensor="order")
    everything = reachable(root)
    missing = [node for node in everything if node not in counts]
    if missing:
        raise Failure(f"{what}: {len(missing)} of the {len(everything)} reachable nodes are missing (the first: "
                      f"{missing[0].name()}): follow every edge that is a Node", tensor="order")
    if order[0] is not root:
        if order[-1] is root:
            raise Failure(f"{what}: the root comes last: that is a post-order (inputs first); reverse it so the "
                          f"root (the loss's grad_fn) comes first", tensor="order")
        raise Failure(f"{what}: the root (the loss's grad_fn) must come first, got {order[0].name()}", tensor="order")
    position = {node: k for k, node in enumerate(order)}
    for node in order:
        for edge in node.edges:
            if isinstance(edge, Node) and position[edge] < position[node]:
                bfs = " (a breadth-first order is not one: a node reached by a short path and by a long one must " \
                      "wait for the long one)" if order == everything else ""
                raise Failure(f"{what}: not a topological order: {edge.name()} (position {position[edge]}) comes "
                              f"before {node.name()} (position {position[node]}), which feeds it its gradient; every "
                              f"node must come after every node that uses its output{bfs}", tensor="order")
    return order


def walk(loss, order_fn, accumulate_fn, gradient=None):
    """The engine's backward loop on the learner's functions: each node once, in ``order_fn``'s order, with the
    sum of what reached it; a leaf's share through ``accumulate_fn``."""
    Node = _node_class()
    root = loss.grad_fn
    order = check_order(order_fn(root), root)
    pending = {root: np.ones_like(loss.array) if gradient is None else gradient}
    for node in order:
        grad_out = pending.pop(node, None)
        if grad_out is None:
            continue
        grads = node.function.backward(node.ctx, grad_out)
        grads = grads if isinstance(grads, tuple) else (grads,)
        kept = [grad_out]   # arrays a leaf may not keep: the incoming gradient and what leaves hold already
        for edge, grad in zip(node.edges, grads):
            if edge is None or grad is None:
                continue
            grad = np.asarray(grad)
            grad = grad if grad.dtype == edge.dtype else grad.astype(edge.dtype)
            if isinstance(edge, Node):
                pending[edge] = grad if edge not in pending else pending[edge] + grad
            else:
                accumulate_fn(edge, grad, not any(np.may_share_memory(grad, k) for k in kept))
                kept.append(grad)


# --------------------------------------------------------------------------- the graphs
def _leaf(rng, shape=(3, 4)):
    import minicnn
    return minicnn.Tensor(rng.standard_normal(shape), requires_grad=True)


def graphs(rng):
    """(label, loss) of graphs whose orders are easy to get wrong."""
    import minicnn
    x, y = _leaf(rng), _leaf(rng)
    u = x * 2.0
    diamond = ((u + 1.0) * (u * 3.0)).sum()          # u feeds two nodes
    h1 = x * 1.5
    h2 = h1 + x
    h3 = h2 * h1 + y
    long_and_short = (h3 * h2 + h1).sum()             # h1 reached by paths of length 1, 2 and 3
    z = minicnn.Tensor(rng.standard_normal((3, 4)))   # no gradient: its edges are None
    with_constants = ((x * z) + (z * y) * x).mean()
    chain = x
    for _ in range(DEEP):
        chain = chain * 1.0001
    return [("a diamond (one node feeding two)", diamond), ("paths of different lengths to one node", long_and_short),
            ("inputs that need no gradient", with_constants), (f"a chain of {DEEP} nodes", chain.sum())]


def contract(fns):
    import minicnn
    order_fn, accumulate_fn = fns["topological_order"], fns["accumulate"]
    rng = np.random.default_rng(0)
    a, b = _leaf(rng), _leaf(rng)
    loss = (a * b + a).sum()
    order = order_fn(loss.grad_fn)
    if not isinstance(order, (list, tuple)):
        raise Failure(f"topological_order must return a list of Nodes, got {type(order).__name__}")
    check_order(order, loss.grad_fn)
    for dtype in (np.float32, np.float64):
        t = minicnn.Tensor(np.zeros(3, dtype=dtype), requires_grad=True)
        g = np.arange(3, dtype=dtype)
        before = g.copy()
        result = accumulate_fn(t, g, True)
        if result is not None:
            raise Failure(f"accumulate must return None (it adds into tensor.grad), got {type(result).__name__}")
        if not isinstance(t.grad, np.ndarray) or t.grad.shape != (3,) or t.grad.dtype != dtype:
            got = t.grad.dtype if isinstance(t.grad, np.ndarray) else type(t.grad).__name__
            raise Failure(f"accumulate: tensor.grad must be an ndarray of the tensor's shape (3,) and dtype "
                          f"{dtype.__name__}, got {got}")
        if not np.array_equal(g, before):
            raise Failure("accumulate modified the gradient it was given")
    return "contract: a list of Nodes, root first; accumulate fills tensor.grad (float32, float64)"


def semantics(fns):
    """The orders of :func:`graphs`, and what accumulate must do with owned and not-owned arrays."""
    import minicnn
    order_fn, accumulate_fn = fns["topological_order"], fns["accumulate"]
    rng = np.random.default_rng(1)
    count = 0
    for label, loss in graphs(rng):
        try:
            check_order(order_fn(loss.grad_fn), loss.grad_fn)
        except Failure as failure:
            failure.message += f"\n    on {label}"
            raise
        count += 1
    t = minicnn.Tensor(np.zeros(4), requires_grad=True)
    g1, g2 = rng.standard_normal(4), rng.standard_normal(4)
    accumulate_fn(t, g1, False)
    if isinstance(t.grad, np.ndarray) and np.shares_memory(t.grad, g1):
        raise Failure("accumulate kept an array it does not own (owned=False): store a copy, or the engine's later "
                      "additions change what .grad holds (and adding into .grad changes the engine's array)",
                      tensor="grad")
    g1_before = g1.copy()
    accumulate_fn(t, g2, True)
    if isinstance(t.grad, np.ndarray) and np.allclose(t.grad, g2) and not np.allclose(g1_before + g2, g2):
        raise Failure("accumulate replaced .grad instead of adding to it: gradients accumulate until zero_grad() "
                      "(a tensor used twice, or two backward passes, must add up)", tensor="grad")
    compare("accumulate: tensor.grad after two calls", t.grad, g1_before + g2, RTOL, source="their sum")
    return f"graphs: {count} orders (a diamond, paths of different lengths, constants, a {DEEP}-node chain); " \
           f"accumulate copies what it does not own and adds"


# --------------------------------------------------------------------------- expressions against torch
OPS = [("a + b", lambda a, b: a + b), ("a * b", lambda a, b: a * b), ("a - b", lambda a, b: a - b),
       ("tanh(a / 2)", lambda a, b: (a * 0.5).tanh()), ("a.sum(0) * b", lambda a, b: a.sum(0, keepdim=True) * b),
       ("exp(0.3 a) * b", lambda a, b: (a * 0.3).exp() * b), ("(a @ b.T) @ a / 10", lambda a, b: (a @ b.t()) @ a * 0.1)]


def _program(program, leaves):
    values = list(leaves)
    for op, i, j in program:
        values.append(OPS[op % len(OPS)][1](values[i % len(values)], values[j % len(values)]))
    loss = values[len(leaves)].sum() * 0.0
    for k, v in enumerate(values[len(leaves):]):
        loss = loss + (v * (0.1 * (k + 1))).sum()
    return loss, values


def agreement(fns, examples=50):
    import minicnn
    import torch
    from hypothesis import strategies as st

    def check_one(program, seed):
        rng = np.random.default_rng(seed)
        arrays = [rng.standard_normal((3, 4)) for _ in range(3)]
        ours = [minicnn.Tensor(a, requires_grad=True) for a in arrays]
        theirs = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
        loss, _ = _program(program, ours)
        loss_t, _ = _program(program, theirs)
        loss_t.backward()
        ops = "; ".join(OPS[op % len(OPS)][0] + f" of v{i % (3 + k)}, v{j % (3 + k)}"
                        for k, (op, i, j) in enumerate(program))
        for passes in (1, 2):
            walk(loss, fns["topological_order"], fns["accumulate"])
            for k, (leaf, ref) in enumerate(zip(ours, theirs)):
                want = None if ref.grad is None else passes * ref.grad.numpy()
                if want is None or not want.any():
                    if leaf.grad is not None and np.asarray(leaf.grad).any():
                        raise Failure(f"leaf v{k} got a gradient, torch gives it none\n    on: {ops}")
                    continue
                try:
                    compare(f"leaf v{k}'s .grad after {passes} backward pass{'es' if passes > 1 else ''}",
                            leaf.grad, want, RTOL, tensor="grad")
                except Failure as failure:
                    if passes == 2 and leaf.grad is not None and np.allclose(leaf.grad, want / 2):
                        failure.message += ("\n    the second pass replaced .grad instead of adding to it: gradients "
                                            "accumulate until zero_grad()")
                    failure.message += f"\n    on the expression: {ops}"
                    raise
    strategies = dict(program=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 10), st.integers(0, 10)),
                                       min_size=1, max_size=8), seed=st.integers(0, 2 ** 16))
    hard = [dict(program=[(1, 0, 0), (0, 3, 3), (1, 4, 3)], seed=1),           # v0*v0, used twice, then again
            dict(program=[(6, 0, 1), (4, 3, 2), (5, 4, 3), (2, 5, 0)], seed=2)]
    ran = drawn(strategies, check_one, examples, hard)
    return f"torch: every leaf's gradient within {RTOL:g}, after one backward and after two, on {len(hard)} hard " \
           f"and {ran - len(hard)} drawn expressions"
