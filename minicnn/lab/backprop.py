"""Backprop, one step at a time: the forward values, then the backward gradients, layer by layer.

For one image (batch 1) the model's forward is run as :func:`~minicnn.lab.stages.stages`, every
stage's output calls ``retain_grad()``, the cross-entropy against ``label`` is the loss, and one
``loss.backward()`` fills every stage's ``.grad``.  The steps are then read off in order:

* forward, input to logits: each stage's output, with its forward formula;
* the loss;
* backward, loss to input: at each stage, the gradient that arrived at its output (its
  ``.grad``: the ``G`` of its op's backward formula, shown beside it) and the gradients the op
  gave its parameters; the next step shows what it gave its input.  The last step is dL/d input.

The formulas are those of ``docs/backprop.md`` (:mod:`minicnn.lab.formulas`).
"""
import numpy as np

from .. import functional as F
from ..autograd import Tensor, enable_grad
from .arrays import encode
from .formulas import formula
from .stages import stages

MAX_SENT = 20_000   #: a parameter gradient with more entries is sent as its norm and range only


def _array(a):
    return None if a is None else encode(a[0])


def _param_grads(model, names):
    params = dict(model.named_parameters())
    out = []
    for name in names:
        g = params[name].grad
        if g is None:
            continue
        out.append({"name": name, "shape": list(g.shape), "norm": float(np.linalg.norm(g)),
                    "values": encode(g) if g.size <= MAX_SENT else None})
    return out


def backprop_steps(model, image, label):
    """The steps for ``image`` (1, 1, 28, 28) float32 and class ``label``; ``model`` gets fresh ``.grad``s.

    Returns
    -------
    dict: ``label``, ``loss``, ``probabilities`` (10,), ``steps``: a list of
    ``{"phase": "forward"|"backward", "name", "op", "formula", "where", "doc", "shape", "inputs", ...}``
    (``inputs``: the names of the stages this one's inputs came from) where a
    forward step has ``values`` (the stage's output) and a backward step ``grad`` (dL/d that output)
    and ``params`` (``{"name", "shape", "norm", "values"}`` per parameter of the op; ``values`` is
    None above :data:`MAX_SENT` entries).
    """
    model.eval()
    model.zero_grad()
    x = Tensor(image, requires_grad=True)
    with enable_grad():
        st = stages(model, x)
        for s in st[1:]:
            if s.tensor.grad_fn is not None:
                s.tensor.retain_grad()
        logits = st[-1].tensor
        loss = F.cross_entropy(logits, np.array([label]))
    loss.backward()
    z = logits.array[0].astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()

    def step(phase, s, **extra):
        f = formula(s.op)
        return {"phase": phase, "name": s.name, "op": s.op, "formula": f[phase], "where": f["where"],
                "doc": f["doc"], "shape": list(s.tensor.shape[1:]), "inputs": list(s.inputs), **extra}

    steps = [step("forward", s, values=_array(s.tensor.array)) for s in st]
    lf = formula("loss")
    steps.append({"phase": "forward", "name": "loss", "op": "loss", "formula": lf["forward"], "where": lf["where"],
                  "doc": lf["doc"],
                  "inputs": [st[-1].name], "shape": [], "loss": float(loss.item()), "probabilities": p.tolist(), "label": int(label)})
    steps.append({"phase": "backward", "name": "loss", "op": "loss", "formula": lf["backward"], "where": lf["where"],
                  "doc": lf["doc"],
                  "inputs": [st[-1].name], "shape": [10], "grad": _array(logits.grad), "params": []})
    for s in reversed(st):
        steps.append(step("backward", s, grad=_array(s.tensor.grad), params=_param_grads(model, s.params)))
    return {"label": int(label), "loss": float(loss.item()), "probabilities": p.tolist(), "steps": steps}
