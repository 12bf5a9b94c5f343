"""The formula beside each Backprop step, as derived in ``docs/backprop.md`` (the anchor is its section).

Written in plain Unicode so the page needs no maths renderer.  ``G`` is the upstream gradient
dL/d(output), the shape of the op's output; ``N`` the batch size.
"""

FORMULAS = {
    "input": {"forward": "x = (image − 0.5) / 0.5        the 28×28 drawing, normalised as MNIST",
              "backward": "dL/dx: how each input pixel moves the loss (a saliency map)",
              "doc": "the-one-idea"},
    "conv": {"forward": "y[n,o,u,v] = b[o] + Σ_{c,i,j} W[o,c,i,j] · x̃[n, c, uS+i, vS+j]",
             "backward": ("dW = G₂ · colsᵀ    db[o] = Σ_{n,u,v} G[n,o,u,v]    "
                          "dx = col2im(W₂ᵀ · G₂)  (col2im adds)"),
             "doc": "convolution"},
    "relu": {"forward": "y = max(x, 0)",
             "backward": "dx = G ⊙ [x > 0]",
             "doc": "relu"},
    "pool": {"forward": "y[p] = max_{q ∈ Ω(p)} x[q] = x[a(p)]",
             "backward": "dx[q] = Σ_{p : a(p) = q} G[p]        (each gradient goes to its window's winner)",
             "doc": "max-pool"},
    "flatten": {"forward": "f = reshape(x, (N, C·H·W))",
                "backward": "dx = reshape(G, (N, C, H, W))",
                "doc": "the-chain-rule-on-simplecnn-step-by-step"},
    "linear": {"forward": "y = x Wᵀ + b",
               "backward": "dx = G W    dW = Gᵀ x    db = Σ_n G[n]",
               "doc": "linear"},
    "fused": {"forward": "y = maxpool₂ₓ₂(relu(conv(x)))",
              "backward": "dx, dW, db = conv backward(relu backward(pool backward(G)))",
              "doc": "fused-conv--relu--max-pool"},
    "loss": {"forward": "L = −(1/N) Σ_n log softmax(z[n])[y_n]",
             "backward": "dz = (P − Y) / N        P = softmax(z), Y = one-hot labels",
             "doc": "softmax-cross-entropy"},
    "identity": {"forward": "y = x", "backward": "dx = G", "doc": "the-one-idea"},
}

GENERIC = {"forward": "y = f(x)",
           "backward": "dL/dx_q = Σ_p G_p · ∂y_p/∂x_q        (the chain rule)",
           "doc": "the-one-idea"}


def formula(op):
    """``{"forward", "backward", "doc"}`` for ``op``; the chain rule itself for an op not listed."""
    return FORMULAS.get(op, GENERIC)
