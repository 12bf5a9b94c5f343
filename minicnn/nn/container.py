"""Containers: ``Sequential`` and ``ModuleList``, as torch's."""
from .module import Module


class _Numbered(Module):
    """Submodules registered under ``0``, ``1``…: their count, the i-th, and iteration in order."""

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_Numbered):
    """Modules applied in order; state_dict keys ``0.weight``, ``1.bias``… as torch."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: expected Module arguments, got {type(m).__name__} at {i}")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Numbered):
    """A list of Modules, registered under ``0``, ``1``… (``torch.nn.ModuleList``); it has no forward."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self
