"""Deprecated: minicnn.io is minicnn.checkpoint (checkpoints and JSON files, written atomically);
the old name shadowed the standard library's ``io``."""
import warnings

from .checkpoint import *  # noqa: F401,F403

warnings.warn("minicnn.io is deprecated: import minicnn.checkpoint", DeprecationWarning, stacklevel=2)
