"""The generator that layer initialisation draws from (minicnn's ``torch.manual_seed``)."""
import numpy as np

_rng = np.random.default_rng()


def manual_seed(seed):
    """Reseed the generator used by every layer's ``reset_parameters``.

    Parameters
    ----------
    seed : int, >= 0
    """
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: expected a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))


def get_rng():
    """The current ``numpy.random.Generator`` for initialisation."""
    return _rng
