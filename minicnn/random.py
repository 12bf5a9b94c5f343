"""Deprecated: minicnn.random is minicnn.rng (the seeded generator);
the old name shadowed the standard library's ``random``."""
import warnings

from .rng import *  # noqa: F401,F403

warnings.warn("minicnn.random is deprecated: import minicnn.rng", DeprecationWarning, stacklevel=2)
