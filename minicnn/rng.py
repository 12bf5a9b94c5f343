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


def get_rng_state():
    """The generator's state as a JSON-able dict (``bit_generator.state``), as ``torch.get_rng_state``."""
    return _rng.bit_generator.state


def set_rng_state(state):
    """Restore a state from :func:`get_rng_state`; the generator then draws what it drew after that call.

    Raises TypeError/ValueError for a state that is not a dict of this generator's kind.
    """
    if not isinstance(state, dict):
        raise TypeError(f"set_rng_state: expected the dict of get_rng_state(), got {type(state).__name__}")
    rng = np.random.default_rng()
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"set_rng_state: not a {type(rng.bit_generator).__name__} state ({exc!r})") from None
    global _rng
    _rng = rng
