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


def generator_or_default(op, generator):
    """``generator`` (a :class:`Generator` or any ``numpy.random.Generator``), or minicnn's seeded one for
    None; TypeError naming ``op`` for anything else.  What every ``generator=`` argument goes through."""
    if generator is None:
        return _rng
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{op}: expected generator as a minicnn.Generator (or a numpy.random.Generator), got "
                        f"{type(generator).__name__}")
    return generator


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


DEFAULT_SEED = 67280421310721   #: the seed of a fresh ``torch.Generator()`` (torch's default_generator seed)


class Generator(np.random.Generator):
    """``torch.Generator``: a ``numpy.random.Generator`` (so every minicnn argument that takes one, as
    ``DataLoader(generator=)``, ``random_split(generator=)``, the factories' ``generator=``, takes it) with
    torch's methods: ``manual_seed(seed)`` (returns the generator, as in
    ``random_split(ds, [0.8, 0.2], generator=torch.Generator().manual_seed(42))``), ``initial_seed()``,
    ``seed()``, ``get_state()``/``set_state()`` (numpy's state dict, where torch's is a byte tensor).
    The numbers are numpy's, not torch's: a seed fixes them, as torch's seed fixes torch's.
    """

    def __init__(self, device="cpu"):
        if isinstance(device, np.random.BitGenerator):   # numpy's spawn() builds its children this way
            super().__init__(device)
            self._initial_seed = None
            return
        from .device import on_cpu
        on_cpu("Generator", device)
        super().__init__(np.random.PCG64(DEFAULT_SEED))
        self._initial_seed = DEFAULT_SEED

    def manual_seed(self, seed):
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"Generator.manual_seed: expected a non-negative int, got {seed!r}")
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        self._initial_seed = int(seed)
        return self

    def initial_seed(self):
        return self._initial_seed

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        seed = int(np.random.SeedSequence().entropy % 2**63)
        self.manual_seed(seed)
        return seed

    def get_state(self):
        return self.bit_generator.state

    def set_state(self, state):
        try:
            self.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"Generator.set_state: not a PCG64 state ({exc!r})") from None
        return self

    @property
    def device(self):
        from .device import device
        return device("cpu")

    def __repr__(self):
        return f"<minicnn.Generator initial_seed={self._initial_seed}>"

    __str__ = __repr__
