"""Backprop by hand: a tiny conv net, its forward and backward turned one kernel at a time.

    python examples/backprop_by_hand.py [--naive] [--quick]

The network (float64, one 6x6 image, 3 classes)::

    x (1,1,6,6) -> conv 3x3, 2 filters, padding 1 -> (1,2,6,6) -> ReLU -> maxpool 2x2 -> (1,2,3,3)
      -> flatten (1,18) -> linear 18->3 -> (1,3) logits -> softmax cross-entropy -> loss

Forward: call each kernel's ``*_forward``, keep its cache.  Backward: start from
``dloss/dlogits`` (the loss kernel returns it) and call each ``*_backward`` in
reverse order, handing it the cache its forward left.  That is all the engine
does too: the script then builds the same network from ``minicnn.functional``
ops and calls ``loss.backward()``.  Each gradient is printed beside

* its float64 central-difference estimate ``(L(θ + h) - L(θ - h)) / 2h``, and
* what ``loss.backward()`` put in ``.grad``,

and the naive twins (``conv2d_forward_naive`` …, plain numpy loops: the
teaching text) run the same pass to show the fast kernels compute the same
numbers.  ``docs/backprop.md`` derives each backward formula.

No output files; ``--quick`` changes nothing (the whole script takes well under a second).
"""
import argparse

import numpy as np

import minicnn
import minicnn.functional as F
from minicnn import kernels as K
from minicnn.gradcheck import numeric_gradient, relative_error

H = 1e-6          # central-difference step (float64: error ~h² + ε/h ≈ 1e-10)
TOLERANCE = 1e-8  # the largest relative error the script accepts (the test asserts it too)


def make_problem(seed=0):
    """The input, label and weights of the tiny network, float64, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((1, 1, 6, 6)),
        "conv.weight": rng.standard_normal((2, 1, 3, 3)) * 0.5,
        "conv.bias": rng.standard_normal(2) * 0.1,
        "fc.weight": rng.standard_normal((3, 18)) * 0.3,
        "fc.bias": rng.standard_normal(3) * 0.1,
    }, np.array([2])


def forward_by_hand(p, label, kernels):
    """Each kernel's forward in turn; returns the loss, dloss/dlogits and the caches (in forward order)."""
    conv, conv_cache = kernels.conv2d_forward(p["x"], p["conv.weight"], p["conv.bias"], 1, 1)  # (1, 2, 6, 6)
    act, relu_cache = kernels.relu_forward(conv)                                                # (1, 2, 6, 6)
    pooled, pool_cache = kernels.max_pool2d_forward(act, 2, 2, 0)                               # (1, 2, 3, 3)
    flat = pooled.reshape(1, 18)                                                                # (1, 18)
    logits, fc_cache = kernels.linear_forward(flat, p["fc.weight"], p["fc.bias"])               # (1, 3)
    loss, dlogits = kernels.softmax_cross_entropy(logits, label)                                # scalar, (1, 3)
    return loss, dlogits, (conv_cache, relu_cache, pool_cache, fc_cache)


def backward_by_hand(dlogits, caches, kernels):
    """Each kernel's backward in reverse order: the chain rule, one op at a time."""
    conv_cache, relu_cache, pool_cache, fc_cache = caches
    dflat, dfc_w, dfc_b = kernels.linear_backward(dlogits, fc_cache)   # dflat (1, 18)
    dpooled = dflat.reshape(1, 2, 3, 3)                                # flatten's backward: reshape back
    dact = kernels.max_pool2d_backward(dpooled, pool_cache)             # to each window's winner
    dconv = kernels.relu_backward(dact, relu_cache)                    # where the conv output was > 0
    dx, dconv_w, dconv_b = kernels.conv2d_backward(dconv, conv_cache)
    return {"x": dx, "conv.weight": dconv_w, "conv.bias": dconv_b, "fc.weight": dfc_w, "fc.bias": dfc_b}


def by_engine(p, label):
    """The same network from ``minicnn.functional`` ops on Tensors; ``loss.backward()`` fills each ``.grad``."""
    t = {name: minicnn.tensor(a, requires_grad=True) for name, a in p.items()}
    out = F.max_pool2d(F.relu(F.conv2d(t["x"], t["conv.weight"], t["conv.bias"], padding=1)), 2)
    loss = F.cross_entropy(F.linear(out.flatten(1), t["fc.weight"], t["fc.bias"]), label)
    loss.backward()
    return loss.item(), {name: tensor.grad for name, tensor in t.items()}


def by_finite_differences(p, label):
    """Central differences of the loss with respect to every entry of every array (float64)."""
    def loss():
        return forward_by_hand(p, label, K.current())[0]
    return {name: numeric_gradient(loss, a, np.arange(a.size)).reshape(a.shape) for name, a in p.items()}


def report(hand, numeric, engine, show=4):
    """Print each tensor's ``show`` largest entries (all if 0) three ways, and the worst relative errors.

    Returns {name: (error vs central differences, error vs loss.backward())}.
    """
    errors = {}
    for name in hand:
        err_fd = relative_error(hand[name], numeric[name])
        err_engine = relative_error(hand[name], engine[name])
        errors[name] = (err_fd, err_engine)
        print(f"\nd loss / d {name}  {hand[name].shape}")
        print(f"  {'entry':>12}  {'by hand':>14}  {'central diff.':>14}  {'loss.backward()':>15}")
        order = np.argsort(-np.abs(hand[name]).reshape(-1), kind="stable")
        for i in np.sort(order[:show] if show else order):
            where = str(tuple(int(k) for k in np.unravel_index(i, hand[name].shape)))
            print(f"  {where:>12}  {hand[name].flat[i]:+14.10f}  {numeric[name].flat[i]:+14.10f}  "
                  f"{engine[name].flat[i]:+15.10f}")
        print(f"  max relative error: by hand vs central diff. {err_fd:.1e}, by hand vs loss.backward() "
              f"{err_engine:.1e}")
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive", action="store_true", help="turn the crank on the naive twins instead")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=4, help="entries printed per tensor, largest first (0: all)")
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry; the script is already quick")
    args = parser.parse_args(argv)
    p, label = make_problem(args.seed)
    fast, naive = K.IMPLEMENTATIONS["fast"], K.IMPLEMENTATIONS["naive"]
    kernels = naive if args.naive else fast

    loss, dlogits, caches = forward_by_hand(p, label, kernels)
    print(f"forward by hand ({'naive' if args.naive else 'fast'} kernels): loss = {loss:.12f}")
    print(f"dloss/dlogits = softmax - onehot = {np.array2string(dlogits[0], precision=6)}")
    hand = backward_by_hand(dlogits, caches, kernels)

    # the twins: the same pass on the other implementation
    other = fast if args.naive else naive
    loss_o, dlogits_o, caches_o = forward_by_hand(p, label, other)
    twin = backward_by_hand(dlogits_o, caches_o, other)
    twin_error = max(relative_error(hand[n], twin[n]) for n in hand)
    print(f"{'fast' if args.naive else 'naive'} twins: loss {loss_o:.12f}, largest relative gradient "
          f"difference {twin_error:.1e}")

    engine_loss, engine = by_engine(p, label)
    numeric = by_finite_differences(p, label)
    print(f"loss.backward(): loss = {engine_loss:.12f}")
    errors = report(hand, numeric, engine, args.show)
    worst = max(max(e) for e in errors.values())
    print(f"\nworst relative error over all {sum(a.size for a in hand.values())} gradient entries: {worst:.1e} "
          f"({'within' if worst < TOLERANCE else 'ABOVE'} {TOLERANCE:g})")
    return {"loss": loss, "engine_loss": engine_loss, "twin_loss": loss_o, "twin_error": twin_error,
            "hand": hand, "numeric": numeric, "engine": engine, "errors": errors}


if __name__ == "__main__":
    main()
