"""The formula beside each Backprop step, as derived in ``docs/backprop.md`` (the anchor is its section).

Written in plain Unicode so the page needs no maths renderer: a sum over several indices is
``Σ over c,i,j``, never LaTeX.  Every symbol a formula uses that is not the op's input ``x``, its
output ``y``, its weight ``W`` or bias ``b`` is defined in its ``where`` line.  ``G`` is always the
upstream gradient dL/dy, the shape of the op's output; ``N`` the batch size.
"""

UPSTREAM = "G = dL/dy, the gradient arriving at the output (same shape as y)"

FORMULAS = {
    "input": {"forward": "x = (image − 0.5) / 0.5        the 28×28 drawing, normalised as MNIST",
              "backward": "dL/dx: how each input pixel moves the loss (a saliency map)",
              "where": "image: the 28×28 grey values in [0, 1] the network saw",
              "doc": "the-one-idea"},
    "conv": {"forward": "y[n,o,u,v] = b[o] + Σ over c,i,j of W[o,c,i,j] · x̃[n, c, u·S+i, v·S+j]",
             "backward": ("dW = G₂ · colsᵀ    db[o] = Σ over n,u,v of G[n,o,u,v]    "
                          "dx = col2im(W₂ᵀ · G₂)  (col2im adds)"),
             "where": ("x̃: x with its zero padding; S: the stride; cols: im2col(x̃), one column per output "
                       "pixel (C·KH·KW rows); W₂: W as an O × (C·KH·KW) matrix; G₂: G as an O × (N·OH·OW) "
                       "matrix; col2im: the adjoint of im2col, adding every column back where it came from"),
             "doc": "convolution"},
    "relu": {"forward": "y = max(x, 0)",
             "backward": "dx = G ⊙ [x > 0]",
             "where": "⊙: entry by entry; [x > 0]: 1 where the input was positive, else 0",
             "doc": "relu"},
    "tanh": {"forward": "y = tanh(x)",
             "backward": "dx = G ⊙ (1 − y²)",
             "where": "⊙: entry by entry; y: this op's own output, kept for the backward",
             "doc": "silu-gelu-elu-and-the-other-elementwise-activations"},
    "sigmoid": {"forward": "y = 1 / (1 + e^(−x))",
                "backward": "dx = G ⊙ y ⊙ (1 − y)",
                "where": "⊙: entry by entry; y: this op's own output, kept for the backward",
                "doc": "silu-gelu-elu-and-the-other-elementwise-activations"},
    "pool": {"forward": "y[p] = max over q ∈ Ω(p) of x[q] = x[a(p)]",
             "backward": "dx[q] = Σ over p with a(p) = q of G[p]        (each gradient goes to its window's winner)",
             "where": "Ω(p): the input window of output p (2×2 here); a(p): the position of its maximum",
             "doc": "max-pool"},
    "avg_pool": {"forward": "y[p] = (1/|Ω(p)|) · Σ over q ∈ Ω(p) of x[q]",
                 "backward": "dx[q] = Σ over windows p containing q of G[p] / |Ω(p)|",
                 "where": "Ω(p): the input window of output p; |Ω(p)|: its size (the divisor)",
                 "doc": "average-pooling"},
    "adaptive_avg_pool": {"forward": "y[n,c] = mean over the window of x[n,c,…]   (one window per output cell)",
                          "backward": "dx = G spread evenly over each window: G[p] / |Ω(p)| to every q in Ω(p)",
                          "where": "Ω(p): the window torch picks for output cell p (the whole map for 1×1)",
                          "doc": "average-pooling"},
    "batch_norm": {"forward": "y = γ · (x − μ) / √(σ² + ε) + β      (then max(·, 0) where fused with a ReLU)",
                   "backward": ("evaluation mode: dx = G · γ / √(σ² + ε)    dγ = Σ G · x̂    dβ = Σ G; "
                                "training mode adds the terms through μ and σ² of the batch"),
                   "where": ("μ, σ²: the channel's mean and variance (the running ones in evaluation mode); "
                             "γ, β: the weight and bias; x̂ = (x − μ)/√(σ² + ε); sums over n, h, w"),
                   "doc": "batch-norm"},
    "dropout": {"forward": "y = x ⊙ m / (1 − p) in training, y = x in evaluation",
                "backward": "dx = G ⊙ m / (1 − p) in training, dx = G in evaluation",
                "where": "p: the drop probability; m: the random 0/1 mask, kept for the backward",
                "doc": "dropout"},
    "add": {"forward": "y = a + b        (a residual connection: the block's output plus its shortcut)",
            "backward": "da = G    db = G        (an add copies the gradient to both inputs)",
            "where": "a, b: the two inputs; where one was used twice, its gradients add up",
            "doc": "arithmetic-and-why-broadcastings-backward-is-a-sum"},
    "flatten": {"forward": "f = reshape(x, (N, C·H·W))",
                "backward": "dx = reshape(G, (N, C, H, W))",
                "where": "C, H, W: the channels, height and width of x",
                "doc": "the-chain-rule-on-simplecnn-step-by-step"},
    "linear": {"forward": "y = x Wᵀ + b",
               "backward": "dx = G W    dW = Gᵀ x    db = Σ over n of G[n]",
               "where": "x: (N, in); W: (out, in); b: (out,)",
               "doc": "linear"},
    "fused": {"forward": "y = maxpool₂ₓ₂(relu(conv(x)))",
              "backward": "dx, dW, db = conv backward(relu backward(pool backward(G)))",
              "where": "the three ops of conv, ReLU and max pool in one kernel pair",
              "doc": "fused-conv--relu--max-pool"},
    "loss": {"forward": "L = −(1/N) Σ over n of log softmax(z[n])[y_n]",
             "backward": "dz = (P − Y) / N        P = softmax(z), Y = one-hot labels",
             "where": ("z: the logits; y_n: sample n's class (the class you chose); P: softmax(z), the 10 "
                       "probabilities; Y: the one-hot label, so P − Y is P with 1 taken off at that class"),
             "doc": "softmax-cross-entropy"},
    "identity": {"forward": "y = x", "backward": "dx = G", "where": "", "doc": "the-one-idea"},
}

GENERIC = {"forward": "y = f(x)",
           "backward": "dL/dx[q] = Σ over p of G[p] · ∂y[p]/∂x[q]        (the chain rule)",
           "where": "f: this op; p runs over every output entry, q over every input entry",
           "doc": "the-one-idea"}


def formula(op):
    """``{"forward", "backward", "where", "doc"}`` for ``op``; the chain rule itself for an op not listed.

    ``where`` always ends with what ``G`` is."""
    f = FORMULAS.get(op, GENERIC)
    where = "; ".join(w for w in (f["where"], UPSTREAM) if w)
    return {**f, "where": where}
