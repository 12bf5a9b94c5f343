"""``torch.backends`` as seen from minicnn: no MPS and no cuDNN, ever.

``torch.backends.cudnn.benchmark = True`` and ``.deterministic = True`` are accepted (they are flags a
training script sets) and change nothing: minicnn's kernels are deterministic for a given thread count
(docs/api.md, "What the thread count changes").
"""
from . import cudnn, mps

__all__ = ["cudnn", "mps"]
