"""Parameter initialisation, as ``torch.nn.init`` (the one rule minicnn's layers use)."""
import math

from ..rng import get_rng


def fan_in_uniform_(weight, bias=None):
    """Draw ``weight`` and then ``bias`` (if given) in place from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    ``fan_in = weight[0].size``: torch's default for ``Conv2d`` and ``Linear`` (its
    ``kaiming_uniform_(a=sqrt(5))`` gives the same bound), from minicnn's seeded generator, in each
    Parameter's current dtype.  Returns ``weight``.
    """
    bound = 1.0 / math.sqrt(weight.data[0].size)
    for p in (weight, bias):
        if p is not None:
            p.data = get_rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)
    return weight
