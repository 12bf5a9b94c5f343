"""Containers: ``Sequential``, ``ModuleList`` and ``ModuleDict``, as torch's."""
from collections import OrderedDict
from collections.abc import Mapping

from .module import Module


class _Numbered(Module):
    """Submodules in order: their count, the i-th (a slice gives a container of the same kind), iteration."""

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._from_items(list(self._modules.items())[i])
        return list(self._modules.values())[i]

    def __setitem__(self, i, module):
        """Replace the i-th module, under its name."""
        self.add_module(list(self._modules)[i], module)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_Numbered):
    """Modules applied in order; state_dict keys ``0.weight``, ``1.bias``… as torch, or the names of an
    ``OrderedDict`` given as the one argument (``Sequential(OrderedDict([("conv1", ...), ...]))``)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
            return
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: expected Module arguments, got {type(m).__name__} at {i}")
            setattr(self, str(i), m)

    @classmethod
    def _from_items(cls, items):
        return cls(OrderedDict(items))

    def append(self, module):
        """Add ``module`` at the end, under the next number; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_Numbered):
    """A list of Modules, registered under ``0``, ``1``… (``torch.nn.ModuleList``); it has no forward."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    @classmethod
    def _from_items(cls, items):
        return cls(m for _, m in items)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules):
        """Append each of ``modules``; returns self."""
        for m in modules:
            self.append(m)
        return self


class ModuleDict(Module):
    """Modules by name (``torch.nn.ModuleDict``): ``d["conv"] = nn.Conv2d(...)``, ``d["conv"]``, ``"conv" in d``,
    ``keys()``, ``values()``, ``items()``, ``update``, ``pop``; state_dict keys ``conv.weight``…, in insertion
    order.  It has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected a Module for {key!r}, got {type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def update(self, modules):
        """Add (or replace) entries from a mapping or an iterable of ``(name, module)`` pairs."""
        if isinstance(modules, Mapping):
            pairs = modules.items()
        elif isinstance(modules, (str, bytes)) or not hasattr(modules, "__iter__"):
            raise TypeError(f"ModuleDict.update: expected a mapping or (name, module) pairs, "
                            f"got {type(modules).__name__}")
        else:
            pairs = list(modules)
            for i, pair in enumerate(pairs):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise TypeError(f"ModuleDict.update: expected (name, module) pairs, got "
                                    f"{type(pair).__name__} at {i}")
        for name, module in pairs:
            self[name] = module
