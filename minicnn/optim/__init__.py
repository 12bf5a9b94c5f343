"""Optimisers and learning-rate schedules shaped like ``torch.optim``.

``Optimizer`` (``optimizer.py``) holds the param groups and per-parameter
state; each optimiser is then only its update rule, written out in its
module's docstring: ``sgd.py``, ``adam.py`` (Adam, AdamW), ``rmsprop.py``.
``lr_scheduler`` changes the groups' ``lr`` between epochs.

Registries, for a command line or a config file:

``OPTIMIZERS``
    ``"sgd"`` -> SGD, ``"adam"`` -> Adam, ``"adamw"`` -> AdamW, ``"rmsprop"`` -> RMSprop.
``SCHEDULERS`` (from ``lr_scheduler``)
    ``"none"`` -> None (a constant lr), ``"step"`` -> StepLR,
    ``"multistep"`` -> MultiStepLR, ``"cosine"`` -> CosineAnnealingLR.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import SCHEDULERS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}

__all__ = ["OPTIMIZERS", "SCHEDULERS", "SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
