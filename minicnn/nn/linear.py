"""``Linear``, and the shape-only layers around it: ``Flatten``, ``Unflatten`` and ``Identity``."""
import numpy as np

from .. import functional as F
from ..arguments import feature_count
from ..autograd.tensor import DimensionError, flatten_dims, normalize_dim
from . import init
from .module import Module, Parameter


class Linear(Module):
    """Fully connected layer, as ``torch.nn.Linear``: ``y = x @ weight.T + bias``.

    Shapes: input (*, in_features) (any leading dims, including none) -> output (*, out_features);
    ``weight`` (out_features, in_features), ``bias`` (out_features,) (None with ``bias=False``).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        # 0 features is a valid (empty) layer in torch: its output is the bias, or has no columns
        self.in_features = feature_count("Linear", "in_features", in_features, minimum=0)
        self.out_features = feature_count("Linear", "out_features", out_features, minimum=0)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), np.float32))
        self.bias = Parameter(np.empty(self.out_features, np.float32)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Fresh weights from minicnn's seeded generator, as torch: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        init.fan_in_uniform_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...), as ``torch.nn.Flatten(start_dim=1, end_dim=-1)``.

    The dims are checked against each input as torch does: a dim outside the input's dims raises
    :class:`~minicnn.autograd.tensor.DimensionError` (a ValueError and the IndexError torch raises),
    ``start_dim`` after ``end_dim`` a ValueError (torch: RuntimeError), a non-int a TypeError.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        x = F.as_tensor(x, "Flatten input")
        flatten_dims("Flatten", x.shape, self.start_dim, self.end_dim)  # refused in the layer's name
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Dim ``dim`` split into ``unflattened_size``, as ``torch.nn.Unflatten(dim, unflattened_size)``: a view (a
    recorded reshape), the inverse of :class:`Flatten`.

    Shapes: (*, S, *) -> (*, s1, s2, ..., *) with ``s1 * s2 * ... == S``; one of the sizes may be -1 (inferred).
    Refused as torch refuses: ``unflattened_size`` not a tuple or list of ints (TypeError), and for each input,
    a ``dim`` outside its dims (:class:`~minicnn.autograd.tensor.DimensionError`, torch's IndexError), sizes that
    do not multiply up to the size of ``dim``, no sizes, two -1s or a size below -1 (ValueError; torch:
    RuntimeError).  Named tensors (``dim`` a name) are not supported.
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("Unflatten: expected dim as an int, got str (named tensors are not supported)")
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Unflatten: expected dim as an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"Unflatten: expected unflattened_size as a tuple of ints, got "
                            f"{type(unflattened_size).__name__}")
        for pos, n in enumerate(unflattened_size):
            if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
                raise TypeError(f"Unflatten: expected unflattened_size as a tuple of ints, got {type(n).__name__} at "
                                f"position {pos}: {unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), unflattened_size

    def _shape(self, shape):
        """The unflattened shape of an input of ``shape`` (refused as torch refuses, see the class)."""
        if not shape:
            raise DimensionError(f"Unflatten: expected an input with at least one dim, got shape {shape}")
        dim = normalize_dim("Unflatten", self.dim, len(shape))
        sizes = tuple(int(n) for n in self.unflattened_size)
        if not sizes:
            raise ValueError("Unflatten: expected a non-empty unflattened_size, got ()")
        if sizes.count(-1) > 1 or min(sizes) < -1:
            raise ValueError(f"Unflatten: expected sizes >= 0 with at most one -1 (inferred), got {sizes}")
        known = int(np.prod([n for n in sizes if n != -1]))
        if -1 in sizes:  # (-1 beside a 0 could be anything: torch refuses it too; alone on a 0 dim, it is 0)
            fits = known > 0 and shape[dim] % known == 0
        else:
            fits = known == shape[dim]
        if not fits:
            raise ValueError(f"Unflatten: expected sizes {sizes} that multiply up to the size of dim {dim} "
                             f"({shape[dim]}) of the input, shape {shape}")
        sizes = tuple(shape[dim] // known if n == -1 else n for n in sizes)
        return shape[:dim] + sizes + shape[dim + 1:]

    def forward(self, x):
        x = F.as_tensor(x, "Unflatten input")
        return x.reshape(self._shape(x.shape))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input (a placeholder, as ``torch.nn.Identity``)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return F.as_tensor(x, "Identity input")
