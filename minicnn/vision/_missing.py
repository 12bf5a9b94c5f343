"""The AttributeError of a torchvision name that minicnn.vision does not have."""


def missing(module, name, have, instead=""):
    """An AttributeError for ``module.name``, listing what ``module`` has (and what to use ``instead``)."""
    return AttributeError(f"{module} has no {name} (torchvision has it; minicnn has {', '.join(have)})"
                          + (f"; {instead}" if instead else ""))
